"""Standard errors and intervals, as lmms-eval computes them (METRICS.md §6).

The formulas follow lmms-eval ``lmms_eval/api/metrics.py`` operation by operation, so the
numbers match its output exactly (`bootstrap_stderr` bit for bit on CPython 3.11, where
``random.Random(i).choices`` is stable).
"""

from __future__ import annotations

import collections
import math
import random
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

T = TypeVar("T")

Z_95 = 1.96
"""The 95% normal interval multiplier METRICS.md §6 prescribes (mean +- 1.96 SE)."""


def mean(xs: Sequence[float]) -> float:
    """lmms-eval's ``mean`` aggregation: ``sum(xs) / len(xs)``."""
    return sum(xs) / len(xs)


def pop_stddev(xs: Sequence[float]) -> float:
    """Population standard deviation (ddof = 0)."""
    mu = mean(xs)
    return math.sqrt(sum([(x - mu) ** 2 for x in xs]) / len(xs))


def sample_stddev(xs: Sequence[float]) -> float:
    """Sample standard deviation (ddof = 1); needs at least two values."""
    if len(xs) < 2:
        raise ValueError("the sample standard deviation needs at least two values")
    mu = mean(xs)
    return math.sqrt(sum([(x - mu) ** 2 for x in xs]) / (len(xs) - 1))


def mean_stderr(xs: Sequence[float]) -> float:
    """Standard error of the mean: sample sd / sqrt(n) (lmms-eval's default for means)."""
    return sample_stddev(xs) / math.sqrt(len(xs))


def binomial_stderr(p: float, n: int) -> float:
    """sqrt(p(1-p)/n): smaller than `mean_stderr` of 0/1 scores by sqrt((n-1)/n)."""
    return math.sqrt(p * (1 - p) / n)


def normal_interval(value: float, stderr: float, z: float = Z_95) -> tuple[float, float]:
    """value +- z * stderr."""
    return value - z * stderr, value + z * stderr


def bootstrap_stderr(f: Callable[[list[T]], float], xs: Sequence[T], iters: int) -> float:
    """lmms-eval ``bootstrap_stderr``: sample sd of `f` over resamples, chunked and seeded.

    Chunk i (of ``iters // min(1000, iters)``) draws ``min(1000, iters)`` resamples with
    ``random.Random(i).choices(xs, k=len(xs))``. Run in one process here; the chunks and their
    order are the same as lmms-eval's pool, so the result is identical.
    """
    if iters <= 0:
        raise ValueError("iters must be positive")
    chunk = min(1000, iters)
    population = list(xs)
    reps: list[float] = []
    for i in range(iters // chunk):
        rnd = random.Random()
        rnd.seed(i)
        reps.extend(f(rnd.choices(population, k=len(population))) for _ in range(chunk))
    return sample_stddev(reps)


def clustered_stderr(scores: Sequence[float], cluster_ids: Sequence[Hashable]) -> float:
    """Cluster-robust SE (Miller 2024, Eq. 4), as lmms-eval ``clustered_stderr``.

    SE^2 = s^2/n + (1/n^2) * sum_c sum_{i != j in c} (x_i - mean)(x_j - mean). NaN when n < 2.
    """
    n = len(scores)
    if n < 2:
        return float("nan")
    if len(cluster_ids) != n:
        raise ValueError("scores and cluster_ids must have the same length")
    s_bar = sum(scores) / n
    se_clt_squared = sum((s - s_bar) ** 2 for s in scores) / (n - 1) / n
    clusters: dict[Hashable, list[float]] = collections.defaultdict(list)
    for score, cid in zip(scores, cluster_ids, strict=True):
        clusters[cid].append(score)
    cross = 0.0
    for members in clusters.values():
        deviations = [s - s_bar for s in members]
        total = sum(deviations)
        cross += total * total - sum(d * d for d in deviations)
    cross /= n * n
    return math.sqrt(se_clt_squared + cross)


@dataclass(frozen=True)
class PairedComparison:
    """Mean per-sample difference (current - baseline) with its t-based 95% interval."""

    mean_diff: float
    se_diff: float
    ci_low: float
    ci_high: float
    t_stat: float
    p_value: float
    n: int

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return dict(self.__dict__)


def paired_ttest(current: Sequence[float], baseline: Sequence[float]) -> PairedComparison:
    """lmms-eval ``paired_ttest``: SE = sd(d)/sqrt(n), t with n-1 dof, CI from t.ppf(0.975, n-1)."""
    from scipy import stats as sps

    if len(current) != len(baseline):
        raise ValueError(f"score lists differ in length: {len(current)} vs {len(baseline)}")
    n = len(current)
    if n < 2:
        nan = float("nan")
        return PairedComparison(nan, nan, nan, nan, nan, nan, n)
    diffs = [c - b for c, b in zip(current, baseline, strict=True)]
    mean_diff = sum(diffs) / n
    se_diff = math.sqrt(sum((d - mean_diff) ** 2 for d in diffs) / (n - 1) / n)
    if se_diff == 0:
        t_stat = math.copysign(math.inf, mean_diff) if mean_diff != 0 else 0.0
        p_value = 0.0 if mean_diff != 0 else 1.0
    else:
        t_stat = mean_diff / se_diff
        p_value = float(2 * (1 - sps.t.cdf(abs(t_stat), n - 1)))
    t_crit = float(sps.t.ppf(0.975, n - 1))
    return PairedComparison(
        mean_diff, se_diff, mean_diff - t_crit * se_diff, mean_diff + t_crit * se_diff, t_stat, p_value, n
    )


def percentile_interval(replicates: ArrayLike, level: float = 0.95) -> tuple[float, float]:
    """The (1-level)/2 and (1+level)/2 percentiles of bootstrap replicates (linear interpolation)."""
    import numpy as np

    lo, hi = np.percentile(np.asarray(replicates, dtype=float), [50 * (1 - level), 50 * (1 + level)])
    return float(lo), float(hi)
