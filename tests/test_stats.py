"""Statistics helpers against the lmms-eval golden vectors and against scipy / numpy."""

from __future__ import annotations

import math
import random
import statistics

import numpy as np
import pytest
import scipy.stats
from golden_paths import load_golden

from mllmbench.suites.metrics import stats


@pytest.fixture(scope="module")
def cases() -> dict:
    return load_golden("stats_golden.json")["cases"]


@pytest.mark.parametrize("name", ["binary_20", "vqa_soft_12"])
def test_moments_match_lmms_eval(cases: dict, name: str) -> None:
    case = cases[name]
    xs = case["values"]
    assert stats.mean(xs) == case["mean"]
    assert stats.pop_stddev(xs) == pytest.approx(case["pop_stddev"], rel=1e-15)
    assert stats.sample_stddev(xs) == pytest.approx(case["sample_stddev"], rel=1e-15)
    assert stats.mean_stderr(xs) == pytest.approx(case["mean_stderr (sample sd / sqrt n)"], rel=1e-15)


@pytest.mark.parametrize("name", ["binary_20", "vqa_soft_12"])
@pytest.mark.parametrize("iters", [1000, 2000])
def test_bootstrap_stderr_is_bit_identical(cases: dict, name: str, iters: int) -> None:
    case = cases[name]
    assert (
        stats.bootstrap_stderr(stats.mean, case["values"], iters)
        == case[f"bootstrap_stderr(mean, iters={iters})"]
    )


def test_binomial_form_and_its_relation_to_mean_stderr(cases: dict) -> None:
    case = cases["binary_20"]
    n, p = len(case["values"]), case["mean"]
    assert stats.binomial_stderr(p, n) == pytest.approx(case["binomial_se sqrt(p(1-p)/n)"], rel=1e-15)
    assert stats.binomial_stderr(p, n) == pytest.approx(
        stats.mean_stderr(case["values"]) * math.sqrt((n - 1) / n)
    )


def test_clustered_stderr_matches_lmms_eval(cases: dict) -> None:
    case = cases["vqa_soft_12"]
    assert stats.clustered_stderr(case["values"], case["cluster_ids"]) == pytest.approx(
        case["clustered_stderr"], rel=1e-15
    )


def test_clustered_stderr_with_singleton_clusters_is_mean_stderr(cases: dict) -> None:
    xs = cases["vqa_soft_12"]["values"]
    assert stats.clustered_stderr(xs, list(range(len(xs)))) == pytest.approx(stats.mean_stderr(xs), rel=1e-14)
    assert math.isnan(stats.clustered_stderr([1.0], ["a"]))
    with pytest.raises(ValueError):
        stats.clustered_stderr([1.0, 0.0], ["a"])


def test_mean_stderr_equals_statistics_module() -> None:
    rng = random.Random(5)
    xs = [rng.random() for _ in range(57)]
    assert stats.mean_stderr(xs) == pytest.approx(statistics.stdev(xs) / math.sqrt(len(xs)), rel=1e-13)
    with pytest.raises(ValueError):
        stats.sample_stddev([1.0])


def test_paired_ttest_matches_scipy() -> None:
    rng = random.Random(11)
    a = [rng.choice([0, 0.3, 0.6, 0.9, 1.0]) for _ in range(40)]
    b = [min(1.0, x + rng.choice([-0.3, 0, 0, 0.3])) for x in a]
    res = stats.paired_ttest(a, b)
    ref = scipy.stats.ttest_rel(a, b)
    assert res.t_stat == pytest.approx(ref.statistic, rel=1e-10)
    assert res.p_value == pytest.approx(ref.pvalue, rel=1e-8)
    diffs = np.subtract(a, b)
    assert res.mean_diff == pytest.approx(diffs.mean(), rel=1e-12)
    assert res.se_diff == pytest.approx(scipy.stats.sem(diffs), rel=1e-12)
    half = scipy.stats.t.ppf(0.975, len(a) - 1) * scipy.stats.sem(diffs)
    assert (res.ci_low, res.ci_high) == pytest.approx((diffs.mean() - half, diffs.mean() + half), rel=1e-10)
    assert res.n == 40 and res.to_dict()["n"] == 40


def test_paired_ttest_degenerate_cases() -> None:
    same = stats.paired_ttest([1.0, 0.0, 1.0], [1.0, 0.0, 1.0])
    assert (same.t_stat, same.p_value) == (0.0, 1.0)
    shifted = stats.paired_ttest([1.0, 1.0], [0.0, 0.0])
    assert shifted.t_stat == math.inf and shifted.p_value == 0.0
    assert math.isnan(stats.paired_ttest([1.0], [0.0]).mean_diff)
    with pytest.raises(ValueError):
        stats.paired_ttest([1.0, 2.0], [1.0])


def test_intervals() -> None:
    assert stats.normal_interval(50.0, 2.0) == pytest.approx((50 - 3.92, 50 + 3.92))
    reps = np.random.default_rng(0).normal(size=1001)
    assert stats.percentile_interval(reps) == pytest.approx(tuple(np.percentile(reps, [2.5, 97.5])))
