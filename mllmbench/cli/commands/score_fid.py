"""`mllm-bench score fid`: FID (and KID) between two image folders or feature files.

``--real`` and ``--fake`` each take an image folder, a ``.npy`` feature matrix (N x D) or a
``.npz`` with ``mu`` and ``sigma`` (pytorch-fid / clean-fid statistics; FID only). Folders go
through the chosen extractor; feature files are used as they are. Nothing is downloaded.
Statistics of a ``--real`` folder are cached under the mllm-bench cache (``--no-cache`` to skip).
"""

from __future__ import annotations

import argparse
import json
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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `score fid`."""
    parser.add_argument(
        "--real", required=True, help="reference images: a folder, a .npy (N x D) or a .npz (mu, sigma)"
    )
    parser.add_argument(
        "--fake", required=True, help="generated images: a folder, a .npy (N x D) or a .npz (mu, sigma)"
    )
    parser.add_argument(
        "--extractor",
        default="inception",
        help="inception (clean-fid Inception-v3), clip:PATH or dinov2:PATH "
        "(PATH: a local transformers model directory)",
    )
    parser.add_argument(
        "--mode",
        choices=MODES,
        default=None,
        help="clean-fid preprocessing for inception (default clean); for dinov2, 'clean' selects dgm-eval's "
        "clean resize instead of its torchvision resize",
    )
    parser.add_argument(
        "--inception-weights",
        default=None,
        help="path of inception-2015-12-05.pt (legacy_pytorch: pt_inception-2015-12-05-6726825d.pth)",
    )
    parser.add_argument("--kid", action="store_true", help="also compute KID (clean-fid kernel_distance)")
    parser.add_argument("--kid-subsets", type=int, default=100, help="KID subsets (default 100)")
    parser.add_argument("--kid-subset-size", type=int, default=1000, help="largest KID subset (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the KID subset draws (default 0)")
    parser.add_argument(
        "--device", default=None, help="torch device (default: cuda when available, else cpu)"
    )
    parser.add_argument("--batch-size", type=int, default=64, help="images per extractor batch")
    parser.add_argument(
        "--no-cache", action="store_true", help="do not read or write cached --real folder statistics"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")


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


def _folder_stats(
    path: Path, label: str, extractor: FeatureExtractor, args: argparse.Namespace
) -> FeatureStats:
    from mllmbench.suites.metrics.image_features import folder_features, folder_fingerprint
    from mllmbench.suites.metrics.reference_stats import ReferenceStatsKey, cached_reference_stats

    def compute() -> FeatureStats:
        return folder_features(path, extractor, keep_features=args.kid, batch_size=args.batch_size)

    if label != "real" or args.no_cache:
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
    return cached_reference_stats(key, compute, need_features=args.kid)


def _load_side(label: str, raw: str, args: argparse.Namespace, get_extractor: Any) -> _Side:
    path = Path(raw).expanduser()
    if not path.exists():
        raise InputError(f"--{label} not found: {path}")
    if path.is_dir():
        from mllmbench.suites.metrics.image_features import list_image_files

        list_image_files(path)  # refuse an empty folder or a stray file before loading weights
        return _Side(label, path, _folder_stats(path, label, get_extractor(), args), None)
    if path.suffix.lower() == ".npy":
        return _Side(label, path, _load_npy(path, label, args.kid), None)
    if path.suffix.lower() == ".npz":
        return _load_npz(path, label, args.kid)
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


def compute_scores(args: argparse.Namespace) -> dict[str, Any]:
    """Everything `run` prints, as a dict."""
    from mllmbench.suites.metrics.frechet import fd_from_stats, frechet_distance, kernel_distance
    from mllmbench.suites.metrics.image_features import load_extractor

    extractor: list[FeatureExtractor] = []

    def get_extractor() -> FeatureExtractor:
        if not extractor:
            extractor.append(
                load_extractor(
                    args.extractor,
                    mode=args.mode,
                    inception_weights=args.inception_weights,
                    device=args.device,
                    batch_size=args.batch_size,
                )
            )
        return extractor[0]

    real = _load_side("real", args.real, args, get_extractor)
    fake = _load_side("fake", args.fake, args, get_extractor)
    _check_pair(real, fake)
    if fake.stats is not None and real.stats is not None:
        fid = fd_from_stats(fake.stats, real.stats)
    else:
        mu_f, sig_f = fake.moments or (fake.stats.mean(), fake.stats.covariance())  # type: ignore[union-attr]
        mu_r, sig_r = real.moments or (real.stats.mean(), real.stats.covariance())  # type: ignore[union-attr]
        fid = frechet_distance(mu_f, sig_f, mu_r, sig_r)
    result: dict[str, Any] = {"fid": fid}
    if args.kid:
        assert fake.stats is not None and real.stats is not None
        result["kid"] = kernel_distance(
            fake.stats.features(), real.stats.features(), args.kid_subsets, args.kid_subset_size, args.seed
        )
        result["kid_subsets"] = args.kid_subsets
        result["kid_subset_size"] = min(fake.stats.n, real.stats.n, args.kid_subset_size)
        result["kid_seed"] = args.seed
    used = extractor[0] if extractor else None
    result.update(
        {
            "n_real": real.n,
            "n_fake": fake.n,
            "dim": real.dim,
            "extractor": used.info.to_dict() if used else {"name": "precomputed", "dim": real.dim},
            "mode": used.info.preprocessing if used else None,
            "fd_method": "sqrtm (pytorch-fid calculate_frechet_distance, eps=1e-6)",
            "real": str(real.path),
            "fake": str(fake.path),
        }
    )
    return result


def run(args: argparse.Namespace) -> int:
    """Compute and print FID (and KID)."""
    result = compute_scores(args)
    if args.json:
        print(json.dumps(result, allow_nan=True))
        return 0
    ext = result["extractor"]["name"] + (f" ({result['mode']})" if result["mode"] else "")
    print(f"FID  {result['fid']:.6f}   real n={result['n_real']}  fake n={result['n_fake']}  extractor={ext}")
    if "kid" in result:
        print(f"KID  {result['kid']:.8f}   subsets={result['kid_subsets']} x {result['kid_subset_size']}")
    return 0
