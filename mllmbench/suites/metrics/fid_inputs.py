"""FID (and KID) between two image folders or feature files: the library side of `score fid`.

Each side is an image folder, a ``.npy`` feature matrix (N x D) or a ``.npz`` with ``mu`` and
``sigma`` (pytorch-fid / clean-fid statistics; FID only) or with `FeatureStats` arrays. Folders
go through the chosen extractor; feature files are used as they are. Nothing is downloaded.
Statistics of a ``real`` folder are cached under the mllm-bench cache (see `reference_stats`).
Error messages name the side as the command's flag (``--real``, ``--fake``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mllmbench.core.errors import InputError

if TYPE_CHECKING:
    import numpy as np

    from mllmbench.suites.metrics.frechet import FeatureStats
    from mllmbench.suites.metrics.image_features import FeatureExtractor

log = logging.getLogger(__name__)

MODES = ("clean", "legacy_pytorch", "legacy_tensorflow")
"""clean-fid's preprocessing modes."""


@dataclass(frozen=True)
class FidOptions:
    """How `score_fid` measures; the defaults are the command's."""

    extractor: str = "inception"
    """``inception`` (clean-fid Inception-v3), ``clip:PATH`` or ``dinov2:PATH`` (local transformers dirs)."""
    mode: str | None = None
    """clean-fid preprocessing for inception (None: clean); for dinov2, ``clean`` selects dgm-eval's clean resize."""
    inception_weights: str | None = None
    """Path of ``inception-2015-12-05.pt`` (None: the environment variable, the cache, clean-fid's cache)."""
    kid: bool = False
    kid_subsets: int = 100
    kid_subset_size: int = 1000
    seed: int = 0
    """Seed of the KID subset draws."""
    device: str | None = None
    """Torch device (None: CUDA when available, else the CPU)."""
    batch_size: int = 64
    """Images per extractor batch."""
    use_cache: bool = True
    """Read and write cached statistics of a ``real`` folder."""


@dataclass(frozen=True)
class _Side:
    """One input after loading: its statistics and where they came from."""

    label: str
    path: Path
    stats: FeatureStats | None
    moments: tuple[np.ndarray, np.ndarray] | None
    """(mu, sigma) from a .npz, when the input gave only moments."""

    @property
    def dim(self) -> int:
        return self.stats.dim if self.stats is not None else int(self.moments[0].shape[0])  # type: ignore[index]

    @property
    def n(self) -> int | None:
        return self.stats.n if self.stats is not None else None


def _load_npy(path: Path, label: str, keep: bool) -> FeatureStats:
    import numpy as np

    from mllmbench.suites.metrics.frechet import FeatureStats

    try:
        feats = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise InputError(f"--{label} {path}: not a readable .npy feature matrix ({exc})") from None
    if feats.ndim != 2 or not np.issubdtype(feats.dtype, np.number):
        raise InputError(
            f"--{label} {path}: expected a numeric N x D matrix, got {feats.dtype} {feats.shape}"
        )
    if not np.isfinite(feats).all():
        raise InputError(f"--{label} {path}: the feature matrix contains NaN or infinite values")
    return FeatureStats.from_features(feats.astype(np.float64), keep_features=keep)


def _load_npz(path: Path, label: str, keep: bool) -> _Side:
    import numpy as np

    from mllmbench.suites.metrics.frechet import FeatureStats

    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError) as exc:
        raise InputError(f"--{label} {path}: not a readable .npz ({exc})") from None
    if {"n", "sum", "outer"} <= arrays.keys():
        stats = FeatureStats.from_arrays(arrays)
        if keep and not stats.keep_features:
            raise InputError(f"--{label} {path}: KID needs the features, but this file holds only statistics")
        return _Side(label, path, stats, None)
    if "feats" in arrays:
        return _Side(label, path, FeatureStats.from_features(arrays["feats"], keep_features=keep), None)
    if not {"mu", "sigma"} <= arrays.keys():
        raise InputError(
            f"--{label} {path}: a statistics .npz needs arrays 'mu' and 'sigma' (found {sorted(arrays)})"
        )
    if keep:
        raise InputError(f"--{label} {path}: KID needs features; this .npz holds only mu and sigma")
    mu, sigma = (
        np.atleast_1d(arrays["mu"]).astype(np.float64),
        np.atleast_2d(arrays["sigma"]).astype(np.float64),
    )
    if mu.ndim != 1 or sigma.shape != (mu.shape[0], mu.shape[0]):
        raise InputError(f"--{label} {path}: mu {mu.shape} and sigma {sigma.shape} do not match")
    return _Side(label, path, None, (mu, sigma))


def _folder_stats(path: Path, label: str, extractor: FeatureExtractor, options: FidOptions) -> FeatureStats:
    from mllmbench.suites.metrics.image_features import folder_features, folder_fingerprint
    from mllmbench.suites.metrics.reference_stats import ReferenceStatsKey, cached_reference_stats

    def compute() -> FeatureStats:
        return folder_features(path, extractor, keep_features=options.kid, batch_size=options.batch_size)

    if label != "real" or not options.use_cache:
        return compute()
    key = ReferenceStatsKey(
        dataset=str(path.resolve()),
        fingerprint=folder_fingerprint(path),
        split="custom",
        resolution="na",
        mode=extractor.info.preprocessing,
        extractor=extractor.name,
        weights_hash=extractor.weights_hash,
    )
    return cached_reference_stats(key, compute, need_features=options.kid)


def _load_side(label: str, raw: str | Path, options: FidOptions, get_extractor: Any) -> _Side:
    path = Path(raw).expanduser()
    if not path.exists():
        raise InputError(f"--{label} not found: {path}")
    if path.is_dir():
        from mllmbench.suites.metrics.image_features import list_image_files

        list_image_files(path)  # refuse an empty folder or a stray file before loading weights
        return _Side(label, path, _folder_stats(path, label, get_extractor(), options), None)
    if path.suffix.lower() == ".npy":
        return _Side(label, path, _load_npy(path, label, options.kid), None)
    if path.suffix.lower() == ".npz":
        return _load_npz(path, label, options.kid)
    raise InputError(
        f"--{label} {path}: expected an image folder, a .npy feature matrix or a .npz of statistics"
    )


def _check_pair(real: _Side, fake: _Side) -> None:
    if real.dim != fake.dim:
        raise InputError(
            f"feature dimensions differ: --real {real.path} has {real.dim}, "
            f"--fake {fake.path} has {fake.dim} (both sides must come from the same extractor)"
        )
    for side in (real, fake):
        if side.n is not None and side.n < 2:
            raise InputError(f"--{side.label} {side.path}: {side.n} sample(s); a covariance needs at least 2")


def score_fid(real: str | Path, fake: str | Path, options: FidOptions | None = None) -> dict[str, Any]:
    """FID (and KID when ``options.kid``) of `fake` against `real`, with what was measured how.

    Each side is an image folder (through the chosen extractor; a `real` folder's statistics are
    cached unless ``options.use_cache`` is off), a ``.npy`` N x D feature matrix or a ``.npz``
    of statistics. Bad input raises `InputError` naming the side and the file.
    """
    from mllmbench.suites.metrics.extractors import load_extractor
    from mllmbench.suites.metrics.frechet import fd_from_stats, frechet_distance, kernel_distance

    options = options or FidOptions()
    extractor: list[FeatureExtractor] = []

    def get_extractor() -> FeatureExtractor:
        if not extractor:
            extractor.append(
                load_extractor(
                    options.extractor,
                    mode=options.mode,
                    inception_weights=options.inception_weights,
                    device=options.device,
                    batch_size=options.batch_size,
                )
            )
        return extractor[0]

    real_side = _load_side("real", real, options, get_extractor)
    fake_side = _load_side("fake", fake, options, get_extractor)
    _check_pair(real_side, fake_side)
    if fake_side.stats is not None and real_side.stats is not None:
        fid = fd_from_stats(fake_side.stats, real_side.stats)
    else:
        mu_f, sig_f = fake_side.moments or (fake_side.stats.mean(), fake_side.stats.covariance())  # type: ignore[union-attr]
        mu_r, sig_r = real_side.moments or (real_side.stats.mean(), real_side.stats.covariance())  # type: ignore[union-attr]
        fid = frechet_distance(mu_f, sig_f, mu_r, sig_r)
    result: dict[str, Any] = {"fid": fid}
    if options.kid:
        assert fake_side.stats is not None and real_side.stats is not None
        result["kid"] = kernel_distance(
            fake_side.stats.features(),
            real_side.stats.features(),
            options.kid_subsets,
            options.kid_subset_size,
            options.seed,
        )
        result["kid_subsets"] = options.kid_subsets
        result["kid_subset_size"] = min(fake_side.stats.n, real_side.stats.n, options.kid_subset_size)
        result["kid_seed"] = options.seed
    used = extractor[0] if extractor else None
    result.update(
        {
            "n_real": real_side.n,
            "n_fake": fake_side.n,
            "dim": real_side.dim,
            "extractor": used.info.to_dict() if used else {"name": "precomputed", "dim": real_side.dim},
            "mode": used.info.preprocessing if used else None,
            "fd_method": "sqrtm (pytorch-fid calculate_frechet_distance, eps=1e-6)",
            "real": str(real_side.path),
            "fake": str(fake_side.path),
        }
    )
    return result
