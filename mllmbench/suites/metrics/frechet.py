"""Fréchet distance, kernel (KID) distance and mergeable feature statistics (METRICS.md §3).

Pure numpy/scipy: no torch, no weights. The numbers equal the references on the same features:

* `frechet_distance` is pytorch-fid's ``calculate_frechet_distance`` / clean-fid's
  ``frechet_distance`` (matrix square root, the ``eps`` retry on a singular product, the 1e-3
  imaginary-part check), written without ``sqrtm(..., disp=False)`` so it keeps working on
  SciPy >= 1.18, where ``disp`` is gone (quirk Q14).
* `kernel_distance` is clean-fid's ``kernel_distance``, drawing the subsets with the same
  ``np.random.choice`` calls in the same order, so a seeded run gives the same number.
* `FeatureStats` keeps the sufficient statistics of a feature stream (count, sum, sum of outer
  products, all float64) and, when asked, the features themselves (KID needs them). Shards merge
  by adding the sums and concatenating the features.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np

from mllmbench.core.errors import InputError

log = logging.getLogger(__name__)

IMAGINARY_ATOL = 1e-3
"""pytorch-fid raises when ``diag(sqrtm(S1 S2)).imag`` is not within this of zero."""


def _as_moments(mu: np.ndarray, sigma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.atleast_1d(mu), np.atleast_2d(sigma)


def frechet_distance(
    mu1: np.ndarray,
    sigma1: np.ndarray,
    mu2: np.ndarray,
    sigma2: np.ndarray,
    eps: float = 1e-6,
    *,
    check_imaginary: bool = True,
) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2), as pytorch-fid computes it.

    ``||mu1 - mu2||^2 + tr(sigma1) + tr(sigma2) - 2 tr(sqrtm(sigma1 sigma2))``.

    Args:
        mu1: Mean of the first feature set, shape (d,).
        sigma1: Unbiased covariance of the first set, shape (d, d).
        mu2: Mean of the second set.
        sigma2: Covariance of the second set.
        eps: When the square root of the product is not finite, ``eps * I`` is added to both
            covariances and the root is taken again (pytorch-fid and clean-fid do the same).
        check_imaginary: ``True`` (pytorch-fid, dgm-eval): raise `ValueError` when the root's
            diagonal has an imaginary part above 1e-3. ``False`` (clean-fid): silently keep the
            real part.

    Returns:
        The distance as a Python float.

    Raises:
        InputError: The shapes do not match.
        ValueError: The imaginary-part check failed.

    Example:
        >>> import numpy as np
        >>> round(frechet_distance(np.zeros(2), np.eye(2), np.ones(2), np.eye(2)), 12)
        2.0
    """
    from scipy import linalg

    mu1, sigma1 = _as_moments(mu1, sigma1)
    mu2, sigma2 = _as_moments(mu2, sigma2)
    if mu1.shape != mu2.shape:
        raise InputError(f"mean vectors have different lengths: {mu1.shape[0]} vs {mu2.shape[0]}")
    if sigma1.shape != sigma2.shape:
        raise InputError(f"covariances have different shapes: {sigma1.shape} vs {sigma2.shape}")
    diff = mu1 - mu2
    # sqrtm(A) returns only the root on every SciPy version; the `disp` error estimate that the
    # references unpack and discard is deprecated in 1.16 and removed in 1.18 (Q14).
    covmean = linalg.sqrtm(sigma1.dot(sigma2))
    if not np.isfinite(covmean).all():
        log.warning("Fréchet distance: singular product; adding %s to the diagonal of both covariances", eps)
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
    if np.iscomplexobj(covmean):
        if check_imaginary and not np.allclose(np.diagonal(covmean).imag, 0, atol=IMAGINARY_ATOL):
            raise ValueError(f"Imaginary component {np.max(np.abs(covmean.imag))}")
        covmean = covmean.real
    tr_covmean = np.trace(covmean)
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * tr_covmean)


def frechet_distance_eigvals(
    mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray
) -> float:
    """The eigenvalue form used by torchmetrics ``_compute_fid`` and dgm-eval's efficient FD.

    ``tr(sqrtm(S1 S2)) = sum(sqrt(eigvals(S1 S2))).real``. It agrees with `frechet_distance`
    to about 1e-10 on well-conditioned inputs; it is kept as a cross-check.
    """
    mu1, sigma1 = _as_moments(mu1, sigma1)
    mu2, sigma2 = _as_moments(mu2, sigma2)
    diff = mu1 - mu2
    eig = np.linalg.eigvals(sigma1 @ sigma2).astype(np.complex128)
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.sqrt(eig).real.sum())


def kernel_distance(
    feats1: np.ndarray,
    feats2: np.ndarray,
    num_subsets: int = 100,
    max_subset_size: int = 1000,
    seed: int | np.random.RandomState | None = None,
) -> float:
    """KID: the unbiased MMD² with kernel ``(x.y/d + 1)^3``, averaged over random subsets.

    The same computation as clean-fid's ``kernel_distance``, with the same draws: for each
    subset, ``m`` rows of `feats2`, then ``m`` rows of `feats1`, without replacement, where
    ``m = min(N1, N2, max_subset_size)``.

    Args:
        feats1: First feature matrix (N1, d); clean-fid passes the generated images here.
        feats2: Second feature matrix (N2, d).
        num_subsets: Number of subsets averaged.
        max_subset_size: Largest subset.
        seed: ``None`` draws from numpy's global state, exactly as clean-fid does; an int seeds
            a private ``RandomState`` (``np.random.seed(s)`` then clean-fid gives the same value);
            a ``RandomState`` is used as is.

    Returns:
        The KID value (not scaled by 1e3).
    """
    f1 = np.asarray(feats1)
    f2 = np.asarray(feats2)
    if f1.ndim != 2 or f2.ndim != 2 or f1.shape[1] != f2.shape[1]:
        raise InputError(f"KID needs two feature matrices with the same width, got {f1.shape} and {f2.shape}")
    if min(f1.shape[0], f2.shape[0], max_subset_size) < 2:
        raise InputError(f"KID needs at least 2 samples in each set, got {f1.shape[0]} and {f2.shape[0]}")
    if seed is None:
        choice = np.random.choice
    else:
        rs = seed if isinstance(seed, np.random.RandomState) else np.random.RandomState(seed)
        choice = rs.choice
    n = f1.shape[1]
    m = min(min(f1.shape[0], f2.shape[0]), max_subset_size)
    t = 0
    for _ in range(num_subsets):
        x = f2[choice(f2.shape[0], m, replace=False)]
        y = f1[choice(f1.shape[0], m, replace=False)]
        a = (x @ x.T / n + 1) ** 3 + (y @ y.T / n + 1) ** 3
        b = (x @ y.T / n + 1) ** 3
        t += (a.sum() - np.diag(a).sum()) / (m - 1) - b.sum() * 2 / m
    return float(t / num_subsets / m)


def fid_from_features(feats1: np.ndarray, feats2: np.ndarray, *, check_imaginary: bool = True) -> float:
    """Fréchet distance of two feature matrices (clean-fid ``fid_from_feats``): mean and ``np.cov``."""
    f1 = np.asarray(feats1, dtype=np.float64)
    f2 = np.asarray(feats2, dtype=np.float64)
    for name, f in (("first", f1), ("second", f2)):
        if f.ndim != 2 or f.shape[0] < 2:
            raise InputError(f"the {name} feature matrix needs shape (N >= 2, d), got {f.shape}")
    if f1.shape[1] != f2.shape[1]:
        raise InputError(f"feature dimensions differ: {f1.shape[1]} vs {f2.shape[1]}")
    mu1, sig1 = np.mean(f1, axis=0), np.cov(f1, rowvar=False)
    mu2, sig2 = np.mean(f2, axis=0), np.cov(f2, rowvar=False)
    return frechet_distance(mu1, sig1, mu2, sig2, check_imaginary=check_imaginary)


class FeatureStats:
    """Streaming statistics of a feature set: count, sum and sum of outer products in float64.

    The mean is ``sum / n`` and the covariance the unbiased
    ``(outer - n mu mu^T) / (n - 1)`` (what ``np.cov`` gives, up to rounding). With
    ``keep_features=True`` the rows are kept as well, for KID. `merge` adds another shard; the
    merged statistics are those of one pass over both shards (the features in shard order).
    """

    def __init__(self, dim: int, *, keep_features: bool = False) -> None:
        if dim < 1:
            raise ValueError(f"feature dimension must be positive, got {dim}")
        self.dim = dim
        self.keep_features = keep_features
        self.n = 0
        self.sum = np.zeros(dim, dtype=np.float64)
        self.outer = np.zeros((dim, dim), dtype=np.float64)
        self._chunks: list[np.ndarray] = []

    @classmethod
    def from_features(cls, feats: np.ndarray, *, keep_features: bool = False) -> FeatureStats:
        """Statistics of one feature matrix (N, d)."""
        f = np.asarray(feats)
        if f.ndim != 2:
            raise InputError(f"features must be a 2-D matrix (N, d), got shape {f.shape}")
        stats = cls(f.shape[1], keep_features=keep_features)
        stats.update(f)
        return stats

    def update(self, feats: np.ndarray) -> None:
        """Add a batch of rows (N, d); a 1-D vector counts as one row."""
        f = np.asarray(feats, dtype=np.float64)
        if f.ndim == 1:
            f = f[None, :]
        if f.ndim != 2 or f.shape[1] != self.dim:
            raise InputError(f"feature batch has shape {f.shape}, expected (N, {self.dim})")
        if not np.isfinite(f).all():
            raise InputError("feature batch contains NaN or infinite values")
        self.n += f.shape[0]
        self.sum += f.sum(axis=0)
        self.outer += f.T @ f
        if self.keep_features:
            self._chunks.append(f.copy())

    def merge(self, other: FeatureStats) -> None:
        """Add another shard's statistics (and its features, after ours)."""
        if other.dim != self.dim:
            raise InputError(f"cannot merge feature statistics of dimension {other.dim} into {self.dim}")
        if self.keep_features and not other.keep_features and other.n:
            raise InputError("cannot merge: this shard keeps features for KID but the other does not")
        self.n += other.n
        self.sum += other.sum
        self.outer += other.outer
        if self.keep_features:
            self._chunks.extend(c.copy() for c in other._chunks)

    def mean(self) -> np.ndarray:
        """The mean feature vector."""
        if self.n < 1:
            raise InputError("no features were added: the mean is undefined")
        return self.sum / self.n

    def covariance(self) -> np.ndarray:
        """The unbiased (N - 1) covariance."""
        if self.n < 2:
            raise InputError(f"a covariance needs at least 2 samples, got {self.n}")
        mu = self.mean()
        return (self.outer - self.n * np.outer(mu, mu)) / (self.n - 1)

    def features(self) -> np.ndarray:
        """All rows added, in order (only with ``keep_features=True``)."""
        if not self.keep_features:
            raise InputError("these statistics were built without keep_features=True: no features to return")
        if not self._chunks:
            return np.zeros((0, self.dim), dtype=np.float64)
        return np.concatenate(self._chunks, axis=0)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Plain arrays for ``np.savez``: ``n``, ``sum``, ``outer``, ``mu``, ``sigma`` (+ ``feats``)."""
        arrays = {"n": np.asarray(self.n, dtype=np.int64), "sum": self.sum, "outer": self.outer}
        if self.n >= 2:
            arrays["mu"] = self.mean()
            arrays["sigma"] = self.covariance()
        if self.keep_features:
            arrays["feats"] = self.features()
        return arrays

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> FeatureStats:
        """Inverse of `to_arrays` (exact: the sums are stored, not re-derived from mu and sigma)."""
        total = np.asarray(arrays["sum"], dtype=np.float64)
        stats = cls(total.shape[0], keep_features="feats" in arrays)
        stats.n = int(arrays["n"])
        stats.sum = total.copy()
        stats.outer = np.asarray(arrays["outer"], dtype=np.float64).copy()
        if stats.outer.shape != (stats.dim, stats.dim):
            raise InputError(f"statistics arrays disagree: sum {total.shape}, outer {stats.outer.shape}")
        if "feats" in arrays:
            feats = np.asarray(arrays["feats"], dtype=np.float64)
            if feats.shape != (stats.n, stats.dim):
                raise InputError(
                    f"stored features have shape {feats.shape}, expected ({stats.n}, {stats.dim})"
                )
            stats._chunks = [feats.copy()]
        return stats


def fd_from_stats(stats1: FeatureStats, stats2: FeatureStats, *, check_imaginary: bool = True) -> float:
    """Fréchet distance between two `FeatureStats` (dimensions and counts checked)."""
    if stats1.dim != stats2.dim:
        raise InputError(f"feature dimensions differ: {stats1.dim} vs {stats2.dim}")
    for label, s in (("first", stats1), ("second", stats2)):
        if s.n < 2:
            raise InputError(f"the {label} set has {s.n} sample(s); a covariance needs at least 2")
    if stats1.n <= stats1.dim or stats2.n <= stats2.dim:
        log.warning(
            "FD with N <= d (N = %d and %d, d = %d): the covariances are rank-deficient and the value is "
            "unreliable (pytorch-fid recommends N >= 2048 for 2048-d Inception features)",
            stats1.n,
            stats2.n,
            stats1.dim,
        )
    return frechet_distance(
        stats1.mean(),
        stats1.covariance(),
        stats2.mean(),
        stats2.covariance(),
        check_imaginary=check_imaginary,
    )
