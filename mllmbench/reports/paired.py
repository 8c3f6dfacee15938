"""Paired tests for two models scored on the same samples: is a difference real?

* `mcnemar` - for 0/1 scores (exact-match accuracy). The p-value is the **exact** two-sided
  binomial test on the discordant pairs (b = A right and B wrong, c = A wrong and B right):
  ``p = min(1, 2 * P[X <= min(b, c)])`` with ``X ~ Binomial(b + c, 1/2)``; this equals
  ``scipy.stats.binomtest(min(b, c), b + c, 0.5).pvalue``. The chi-squared statistic with
  Edwards' continuity correction, ``(|b - c| - 1)^2 / (b + c)`` (clamped at 0), and its p-value
  from chi2 with one degree of freedom are reported next to it for readers used to that form.
* `paired_bootstrap` - for any per-sample score whose corpus value is the mean of the per-sample
  values. Samples are resampled with replacement, keeping each sample's two scores together; the
  interval is the percentile interval of the mean difference, and the two-sided p-value comes
  from the bootstrap distribution shifted to the null (centred on zero):
  ``p = (1 + #{|delta* - delta| >= |delta|}) / (B + 1)``.

Everything is deterministic: the bootstrap uses NumPy's PCG64 generator with a fixed seed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

BOOTSTRAP_ITERATIONS = 2000
"""Default number of bootstrap resamples (the smallest reachable p-value is 1 / (B + 1))."""
BOOTSTRAP_CHUNK = 500
"""Resamples drawn at once, to bound memory (chunk x n indices)."""


@dataclass(frozen=True)
class McNemarResult:
    """McNemar's test on paired 0/1 scores of models A and B."""

    n: int
    """Paired samples."""
    a_only: int
    """b: samples A got right and B got wrong."""
    b_only: int
    """c: samples A got wrong and B got right."""
    both: int
    neither: int
    mean_a: float
    mean_b: float
    p_value: float
    """Exact two-sided binomial p-value on the discordant pairs."""
    chi2: float
    """(|b - c| - 1)^2 / (b + c), clamped at 0; 0 when there are no discordant pairs."""
    p_value_chi2: float
    """Upper tail of chi2 with 1 degree of freedom at `chi2`."""
    method: str = "McNemar exact (two-sided binomial on discordant pairs)"

    @property
    def difference(self) -> float:
        """mean(A) - mean(B)."""
        return self.mean_a - self.mean_b


@dataclass(frozen=True)
class PairedBootstrapResult:
    """Paired bootstrap of the mean difference of per-sample scores, A - B."""

    n: int
    mean_a: float
    mean_b: float
    difference: float
    ci_low: float
    ci_high: float
    confidence: float
    p_value: float
    iterations: int
    seed: int
    method: str = "paired bootstrap (percentile interval, null-centred two-sided p)"


def _check_pairs(a: Sequence[float], b: Sequence[float]) -> int:
    if len(a) != len(b):
        raise ValueError(f"paired scores need equal lengths, got {len(a)} and {len(b)}")
    if not a:
        raise ValueError("paired scores are empty")
    return len(a)


def is_binary(values: Sequence[float]) -> bool:
    """True when every value is exactly 0 or 1 (the case McNemar's test is for)."""
    return all(v in (0, 1) for v in values)


def binomial_two_sided_p(k: int, n: int) -> float:
    """Exact two-sided p-value of observing k successes in n fair trials (p = 1/2).

    ``min(1, 2 * sum_{i <= min(k, n-k)} C(n, i) / 2^n)``, computed with exact integers.
    """
    if n < 0 or not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    if n == 0:
        return 1.0
    low = min(k, n - k)
    term = 1  # C(n, 0)
    total = 0
    for i in range(low + 1):
        total += term
        term = term * (n - i) // (i + 1)
    return min(1.0, 2 * total / 2**n)


def chi2_sf_1df(x: float) -> float:
    """Upper tail probability of chi-squared with one degree of freedom: erfc(sqrt(x / 2))."""
    if x <= 0:
        return 1.0
    return math.erfc(math.sqrt(x / 2))


def mcnemar_from_counts(a_only: int, b_only: int) -> tuple[float, float, float]:
    """(exact p, chi2 statistic, chi2 p) from the discordant counts b = `a_only`, c = `b_only`."""
    n = a_only + b_only
    exact = binomial_two_sided_p(a_only, n)
    if n == 0:
        return exact, 0.0, 1.0
    stat = max(0, abs(a_only - b_only) - 1) ** 2 / n
    return exact, stat, chi2_sf_1df(stat)


def mcnemar(a: Sequence[float], b: Sequence[float]) -> McNemarResult:
    """McNemar's test on paired 0/1 scores (``a[i]`` and ``b[i]`` score the same sample)."""
    n = _check_pairs(a, b)
    if not (is_binary(a) and is_binary(b)):
        raise ValueError("McNemar's test needs 0/1 scores; use paired_bootstrap for graded scores")
    counts = {(1, 1): 0, (1, 0): 0, (0, 1): 0, (0, 0): 0}
    for x, y in zip(a, b, strict=True):
        counts[(int(x), int(y))] += 1
    a_only, b_only = counts[(1, 0)], counts[(0, 1)]
    exact, stat, p_chi2 = mcnemar_from_counts(a_only, b_only)
    return McNemarResult(
        n=n,
        a_only=a_only,
        b_only=b_only,
        both=counts[(1, 1)],
        neither=counts[(0, 0)],
        mean_a=sum(a) / n,
        mean_b=sum(b) / n,
        p_value=exact,
        chi2=stat,
        p_value_chi2=p_chi2,
    )


def paired_bootstrap(
    a: Sequence[float],
    b: Sequence[float],
    *,
    iterations: int = BOOTSTRAP_ITERATIONS,
    seed: int = 0,
    confidence: float = 0.95,
) -> PairedBootstrapResult:
    """Paired bootstrap of mean(A) - mean(B) over samples scored by both models.

    The interval is the percentile interval of the resampled differences (NumPy's default
    linear interpolation); the p-value is two-sided against "no difference".
    """
    import numpy as np

    n = _check_pairs(a, b)
    if iterations < 1:
        raise ValueError("iterations must be positive")
    if not 0 < confidence < 1:
        raise ValueError("confidence must be between 0 and 1")
    xa = np.asarray(a, dtype=np.float64)
    xb = np.asarray(b, dtype=np.float64)
    d = xa - xb
    delta = float(d.mean())
    rng = np.random.default_rng(seed)
    reps = np.empty(iterations, dtype=np.float64)
    for start in range(0, iterations, BOOTSTRAP_CHUNK):
        size = min(BOOTSTRAP_CHUNK, iterations - start)
        idx = rng.integers(0, n, size=(size, n))
        reps[start : start + size] = d[idx].mean(axis=1)
    alpha = (1 - confidence) / 2
    lo, hi = np.percentile(reps, [100 * alpha, 100 * (1 - alpha)])
    # Resampled means of a constant vector may differ from delta in the last bit; do not
    # count such rounding as evidence against the null.
    tol = 1e-12 * max(1.0, abs(delta))
    extreme = int(np.count_nonzero(np.abs(reps - delta) >= abs(delta) - tol)) if delta != 0 else iterations
    return PairedBootstrapResult(
        n=n,
        mean_a=float(xa.mean()),
        mean_b=float(xb.mean()),
        difference=delta,
        ci_low=float(lo),
        ci_high=float(hi),
        confidence=confidence,
        p_value=(1 + extreme) / (iterations + 1),
        iterations=iterations,
        seed=seed,
    )
