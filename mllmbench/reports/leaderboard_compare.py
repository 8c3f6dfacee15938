"""Pairwise comparison pages: every two runs of a table, on the samples both scored.

For each metric of the table: McNemar's exact test when both runs' per-sample scores are 0/1,
otherwise a paired bootstrap of the mean difference (`mllmbench.reports.paired`). A metric gets
no test when its corpus value is not the mean of per-sample scores (CIDEr and other corpus-level
metrics, whose per-sample values come from ``sample_scores.jsonl``): resampling those values
would ignore how the metric depends on the whole set. The page says so.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mllmbench.core.formatting import significant as plain_number
from mllmbench.reports import paired
from mllmbench.reports.leaderboard_model import LeaderboardData, RunEntry, SuiteTable, fmt, num

ALPHA = 0.05
MEAN_TOLERANCE = 1e-6
"""Relative tolerance when checking that a metric is the mean of its per-sample scores."""


def _signed(value: float, digits: int = 3) -> str:
    """``+0.125`` / ``-0.5`` / ``0``: a difference in plain notation with its sign."""
    text = plain_number(value, digits)
    return text if value <= 0 or text.startswith("<") else "+" + text


@dataclass(frozen=True)
class PairView:
    """Run A against run B on one metric."""

    a: RunEntry
    b: RunEntry
    n: int
    mean_a: str
    mean_b: str
    difference: str
    difference_sort: str
    interval: str
    p_value: str
    p_holm: str
    detail: str
    verdict: str
    significant: bool


@dataclass(frozen=True)
class MatrixCell:
    """Row run minus column run."""

    text: str
    title: str
    css: str


@dataclass(frozen=True)
class MetricComparison:
    """All pairs on one metric, or why there is no test."""

    metric: str
    test: str
    unavailable: str | None
    matrix: tuple[tuple[RunEntry, tuple[MatrixCell, ...]], ...]
    pairs: tuple[PairView, ...]


@dataclass(frozen=True)
class ComparePageView:
    """The comparison page of one table."""

    title: str
    table: SuiteTable
    runs: tuple[RunEntry, ...]
    metrics: tuple[MetricComparison, ...]
    iterations: int


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm step-down adjusted p-values (family-wise error over all pairs of one metric)."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: (p_values[i], i))
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def _per_sample(data: LeaderboardData, entry: RunEntry, suite: str, metric: str) -> dict[str, float]:
    """Per-sample scores of `metric`, by sample id (successful samples only).

    A breakdown metric ``base/group`` (``vqa_accuracy/yes/no``) without its own per-sample
    column uses the ``base`` scores of the samples whose ``meta`` field (the first, by name, that
    has the value) equals ``group``; `_why_untestable` then checks that they reproduce its value.
    """
    s = data.samples
    if not len(s):
        return {}
    rows = s[(s["run_dir"] == entry.run_dir) & (s["suite"] == suite)]
    if "error" in rows.columns:
        rows = rows[rows["error"].isna()]
    col = f"score.{metric}"
    if col not in rows.columns or not rows[col].notna().any():
        base, _, group = metric.partition("/")
        col = f"score.{base}"
        if not group or col not in rows.columns:
            return {}
        for meta in sorted(c for c in rows.columns if c.startswith("meta.")):
            subset = rows[rows[meta].astype(str) == group]
            if len(subset):
                rows = subset
                break
        else:
            return {}
    rows = rows[rows[col].notna()]
    return {str(k): float(v) for k, v in zip(rows["sample_id"], rows[col], strict=True)}


def _late(data: LeaderboardData, entry: RunEntry, suite: str) -> set[str]:
    ex = data.extras
    if not len(ex):
        return set()
    rows = ex[(ex["run_dir"] == entry.run_dir) & (ex["suite"] == suite)]
    return {n for names in rows["late_scores"] for n in str(names).split(",") if n}


def _why_untestable(
    data: LeaderboardData, table: SuiteTable, metric: str, scores: dict[str, dict[str, float]]
) -> tuple[str | None, float]:
    """Why `metric` gets no paired test (None when it does), and the scale of its value.

    The scale is 100 for a percentage metric whose per-sample scores are fractions, else 1.
    """
    scale = 1.0
    for row in table.rows:
        if metric in _late(data, row.run, table.suite):
            return (
                f"{metric} is computed over the whole set (its per-sample values come from "
                "sample_scores.jsonl, written once the set is complete); resampling those values is not "
                "recomputing the metric, so no paired test is made"
            ), scale
        per = scores[row.run.key]
        if not per:
            return f"{row.run.label} has no per-sample {metric} scores", scale
        mv = data.runs[row.run.run_dir]["suites"][table.suite]["metrics"].get(metric, {})
        value, n = num(mv.get("value")), num(mv.get("n"))
        mean = math.fsum(per.values()) / len(per)
        scale = 100.0 if mv.get("unit") == "%" and value is not None and abs(value - mean) > 1e-9 else 1.0
        if (
            value is None
            or abs(scale * mean - value) > MEAN_TOLERANCE * max(1.0, abs(value))
            or (n is not None and int(n) != len(per))
        ):
            return (
                f"{metric} of {row.run.label} ({fmt(value)}, n={fmt(n)}) is not the mean of its "
                f"{len(per)} per-sample scores ({fmt(scale * mean)}); a paired test on them would not test "
                "the metric"
            ), scale
    return None, scale


def build_compare_page(
    data: LeaderboardData, table: SuiteTable, *, iterations: int = paired.BOOTSTRAP_ITERATIONS
) -> ComparePageView:
    """Paired tests between every two runs of `table`, metric by metric."""
    runs = tuple(r.run for r in table.rows)
    metrics = [c for c in table.columns if not c.efficiency]
    out = []
    for col in metrics:
        scores = {e.key: _per_sample(data, e, table.suite, col.name) for e in runs}
        why, scale = _why_untestable(data, table, col.name, scores)
        if why:
            out.append(MetricComparison(col.name, "", why, (), ()))
            continue
        binary = all(paired.is_binary(list(scores[e.key].values())) for e in runs)
        out.append(_compare_metric(col.name, col.higher_is_better, runs, scores, binary, iterations, scale))
    title = f"Pairwise comparison: {table.title}"
    return ComparePageView(title, table, runs, tuple(out), iterations)


def _compare_metric(
    metric: str,
    higher_is_better: bool,
    runs: Sequence[RunEntry],
    scores: dict[str, dict[str, float]],
    binary: bool,
    iterations: int,
    scale: float,
) -> MetricComparison:
    """All pairs on one metric; numbers are shown in the metric's own unit (`scale` x the scores)."""
    raw: list[tuple[RunEntry, RunEntry, int, Any, Any]] = []
    for i, a in enumerate(runs):
        for b in runs[i + 1 :]:
            ids = sorted(set(scores[a.key]) & set(scores[b.key]))
            if not ids:
                raw.append((a, b, 0, None, None))
                continue
            xa = [scores[a.key][k] for k in ids]
            xb = [scores[b.key][k] for k in ids]
            boot = paired.paired_bootstrap(xa, xb, iterations=iterations, seed=0)
            mcn = paired.mcnemar(xa, xb) if binary else None
            raw.append((a, b, len(ids), boot, mcn))
    p_values = [(m.p_value if m is not None else boot.p_value) for _, _, n, boot, m in raw if n]
    adjusted = iter(holm(p_values))
    pairs = []
    cells: dict[tuple[str, str], MatrixCell] = {}
    for a, b, n, boot, mcn in raw:
        if not n:
            pairs.append(
                PairView(a, b, 0, "", "", "", "", "", "", "", "", "no samples scored by both", False)
            )
            continue
        p = mcn.p_value if mcn is not None else boot.p_value
        p_adj = next(adjusted)
        significant = p < ALPHA
        if significant:
            winner = a if (boot.difference > 0) == higher_is_better else b
            verdict = f"{winner.label} is better (p < {ALPHA})"
        else:
            verdict = f"no significant difference at {ALPHA}"
        detail = (
            f"only A right: {mcn.a_only}, only B right: {mcn.b_only}, "
            f"both: {mcn.both}, neither: {mcn.neither}"
            if mcn is not None
            else f"{boot.iterations} resamples, seed {boot.seed}"
        )
        pairs.append(
            PairView(
                a=a,
                b=b,
                n=n,
                mean_a=fmt(scale * boot.mean_a),
                mean_b=fmt(scale * boot.mean_b),
                difference=_signed(scale * boot.difference + 0.0, 4),
                difference_sort=repr(scale * boot.difference + 0.0),
                interval=f"[{_signed(scale * boot.ci_low + 0.0, 4)}, {_signed(scale * boot.ci_high + 0.0, 4)}]",
                p_value=plain_number(p),
                p_holm=plain_number(p_adj),
                detail=detail,
                verdict=verdict,
                significant=significant,
            )
        )
        for x, y, sign in ((a, b, 1), (b, a, -1)):
            diff = sign * scale * boot.difference + 0.0  # no "-0"
            css = ("better" if (diff > 0) == higher_is_better else "worse") if significant else "same"
            cells[(x.key, y.key)] = MatrixCell(
                f"{_signed(diff)} (p={plain_number(p, 2)})",
                f"{x.label} minus {y.label} on {n} shared samples",
                css,
            )
    matrix = tuple(
        (
            x,
            tuple(
                cells.get((x.key, y.key), MatrixCell("", "", "self" if x.key == y.key else "na"))
                for y in runs
            ),
        )
        for x in runs
    )
    test = (
        paired.McNemarResult.method + "; interval: paired bootstrap of the difference"
        if binary
        else paired.PairedBootstrapResult.method
    )
    return MetricComparison(metric, test, None, matrix, tuple(pairs))
