"""Paired tests against scipy.stats and against cases worked out by hand."""

from __future__ import annotations

import itertools
import math
import random

import numpy as np
import pytest
import scipy.stats

from mllmbench.reports.paired import (
    binomial_two_sided_p,
    chi2_sf_1df,
    is_binary,
    mcnemar,
    mcnemar_from_counts,
    paired_bootstrap,
)


def _pairs(a_only: int, b_only: int, both: int, neither: int) -> tuple[list[int], list[int]]:
    a = [1] * a_only + [0] * b_only + [1] * both + [0] * neither
    b = [0] * a_only + [1] * b_only + [1] * both + [0] * neither
    return a, b


def test_mcnemar_hand_computed_case() -> None:
    # b = 1, c = 7: P[X <= 1] for X ~ Bin(8, 1/2) is (1 + 8) / 256, doubled: 18 / 256.
    a, b = _pairs(a_only=1, b_only=7, both=5, neither=3)
    res = mcnemar(a, b)
    assert (res.n, res.a_only, res.b_only, res.both, res.neither) == (16, 1, 7, 5, 3)
    assert res.p_value == pytest.approx(18 / 256, abs=1e-15)
    # Edwards' corrected statistic: (|1 - 7| - 1)^2 / 8 = 25 / 8.
    assert res.chi2 == pytest.approx(25 / 8, abs=1e-15)
    assert res.mean_a == pytest.approx(6 / 16)
    assert res.mean_b == pytest.approx(12 / 16)
    assert res.difference == pytest.approx(-6 / 16)


@pytest.mark.parametrize(
    ("b", "c"), [(0, 0), (0, 1), (1, 0), (3, 3), (2, 9), (10, 4), (0, 25), (40, 61), (250, 199), (1, 1200)]
)
def test_mcnemar_exact_matches_scipy_binomtest(b: int, c: int) -> None:
    exact, stat, p_chi2 = mcnemar_from_counts(b, c)
    n = b + c
    expected = 1.0 if n == 0 else scipy.stats.binomtest(min(b, c), n, 0.5, alternative="two-sided").pvalue
    assert exact == pytest.approx(expected, rel=1e-9, abs=1e-300)
    if n:
        expected_stat = max(0, abs(b - c) - 1) ** 2 / n
        assert stat == pytest.approx(expected_stat)
        assert p_chi2 == pytest.approx(scipy.stats.chi2.sf(expected_stat, df=1), rel=1e-9, abs=1e-300)


def test_binomial_p_is_symmetric_and_capped() -> None:
    for n in range(0, 30):
        for k in range(n + 1):
            assert binomial_two_sided_p(k, n) == binomial_two_sided_p(n - k, n)
            assert 0 < binomial_two_sided_p(k, n) <= 1
    assert binomial_two_sided_p(5, 10) == 1.0
    with pytest.raises(ValueError):
        binomial_two_sided_p(11, 10)


def test_chi2_sf_matches_scipy() -> None:
    for x in (0.0, 0.1, 1.0, 3.841458820694124, 10.0, 50.0):
        assert chi2_sf_1df(x) == pytest.approx(scipy.stats.chi2.sf(x, df=1), rel=1e-12, abs=1e-300)


def test_mcnemar_rejects_graded_scores_and_bad_lengths() -> None:
    with pytest.raises(ValueError, match="0/1"):
        mcnemar([1, 0.3], [1, 0])
    with pytest.raises(ValueError, match="equal lengths"):
        mcnemar([1, 0], [1])
    assert is_binary([0, 1.0, 1]) and not is_binary([0, 0.6])


def test_bootstrap_constant_difference_hand_computed() -> None:
    # Every resample has the same mean difference: the interval collapses, and no resample is
    # as far from the observed difference as the null, so p = 1 / (B + 1).
    a = [0.6, 1.0, 0.3, 0.9]
    b = [x - 0.25 for x in a]
    res = paired_bootstrap(a, b, iterations=999, seed=3)
    assert res.difference == pytest.approx(0.25)
    assert res.ci_low == pytest.approx(0.25) and res.ci_high == pytest.approx(0.25)
    assert res.p_value == pytest.approx(1 / 1000)


def test_bootstrap_identical_models_give_p_one() -> None:
    a = [0.0, 1.0, 0.3, 0.6, 1.0]
    res = paired_bootstrap(a, list(a), iterations=200)
    assert res.difference == 0 and res.p_value == 1.0
    assert res.ci_low == 0 and res.ci_high == 0


def test_bootstrap_matches_exact_enumeration_of_all_resamples() -> None:
    # n = 3 differences: the bootstrap distribution is the mean over all 27 equally likely
    # index triples; the exact p and quantiles are worked out by enumeration.
    a = [1.0, 1.0, 0.0]
    b = [0.0, 1.0, 0.0]  # d = [1, 0, 0], delta = 1/3
    d = [x - y for x, y in zip(a, b, strict=True)]
    means = [sum(d[i] for i in idx) / 3 for idx in itertools.product(range(3), repeat=3)]
    delta = 1 / 3
    exact_p = sum(abs(m - delta) >= delta - 1e-12 for m in means) / len(means)
    # Resample means 0 (8/27) and 2/3, 1 (7/27 together) are at least 1/3 from delta: p = 15/27.
    assert exact_p == pytest.approx(15 / 27)
    res = paired_bootstrap(a, b, iterations=20000, seed=0)
    assert res.p_value == pytest.approx(exact_p, abs=0.015)
    # The resample mean is k/3 with k ~ Bin(3, 1/3): P[0] = 8/27 > 2.5% gives the lower end 0,
    # P[1] = 1/27 > 2.5% gives the upper end 1.
    assert res.ci_low == 0.0
    assert res.ci_high == 1.0


def test_bootstrap_interval_agrees_with_scipy_bootstrap() -> None:
    rnd = random.Random(7)
    a = [rnd.choice([0.0, 0.3, 0.6, 0.9, 1.0]) for _ in range(80)]
    b = [min(1.0, max(0.0, x + rnd.choice([-0.3, 0.0, 0.0, 0.3]))) for x in a]
    res = paired_bootstrap(a, b, iterations=4000, seed=1)
    ref = scipy.stats.bootstrap(
        (np.asarray(a), np.asarray(b)),
        lambda x, y, axis: np.mean(x - y, axis=axis),
        paired=True,
        vectorized=True,
        n_resamples=4000,
        method="percentile",
        confidence_level=0.95,
        random_state=np.random.default_rng(2),
    )
    se = float(np.std(np.asarray(a) - np.asarray(b), ddof=1) / math.sqrt(len(a)))
    # Two Monte Carlo estimates of the same quantiles: agree to a small fraction of the SE.
    assert res.ci_low == pytest.approx(ref.confidence_interval.low, abs=0.15 * se)
    assert res.ci_high == pytest.approx(ref.confidence_interval.high, abs=0.15 * se)
    assert res.difference == pytest.approx(float(np.mean(np.asarray(a) - np.asarray(b))))


def test_bootstrap_p_value_agrees_with_paired_t_test_for_large_n() -> None:
    rnd = random.Random(11)
    a = [float(rnd.random() < 0.62) for _ in range(400)]
    b = [float(rnd.random() < 0.55) for _ in range(400)]
    res = paired_bootstrap(a, b, iterations=4000, seed=0)
    ref = scipy.stats.ttest_rel(a, b)
    assert res.p_value == pytest.approx(ref.pvalue, abs=0.02)


def test_bootstrap_is_deterministic_and_seeded() -> None:
    a = [0.0, 1.0, 1.0, 0.6, 0.3, 1.0, 0.0]
    b = [1.0, 1.0, 0.0, 0.3, 0.3, 0.6, 0.0]
    assert paired_bootstrap(a, b, seed=5) == paired_bootstrap(a, b, seed=5)
    assert paired_bootstrap(a, b, seed=5).ci_low != paired_bootstrap(a, b, seed=6).ci_low or (
        paired_bootstrap(a, b, seed=5).p_value != paired_bootstrap(a, b, seed=6).p_value
    )
    with pytest.raises(ValueError):
        paired_bootstrap([], [])
