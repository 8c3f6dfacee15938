"""Suite tables with comparability guards: who is ranked with whom, and why the others are not.

* A table ranks only runs of a suite with the same suite version, dataset fingerprint, metric
  versions, scoring settings and set of samples. The largest such group is the suite's main
  table; other groups get their own tables. Every run of the suite that a table does not rank is
  listed under it with the reason.
* Runs that did not finish (status ``interrupted`` or ``incomplete``) are never ranked.
* Efficiency columns compare only runs measured on the table's device (the most common
  ``provenance.device_name`` among its runs); the others show "other device" and a note.
* A table ranks by its suite's first metric, except a generation table, which ranks by the first
  of `QUALITY_METRICS` some run has a value for (its suite lists cost figures such as
  ``images_per_second`` first); that metric becomes the table's first column.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mllmbench.core.formatting import format_interval, format_metric
from mllmbench.reports.leaderboard_model import (
    Cell,
    Column,
    Exclusion,
    LeaderboardData,
    RunEntry,
    SuiteTable,
    TableRow,
    num,
    slug,
)

if TYPE_CHECKING:
    import pandas as pd

UNFINISHED = ("interrupted", "incomplete")
LATENCY = "latency (s/sample)"
TOKENS_PER_S = "throughput (output tokens/s)"
SAMPLES_PER_S = "throughput (samples/s)"
MEMORY = "peak memory (MiB)"
EFFICIENCY_UNITS = {LATENCY: "s", TOKENS_PER_S: "tokens/s", SAMPLES_PER_S: "samples/s", MEMORY: "MiB"}
"""The unit each efficiency column is written in (`core.formatting.format_metric`)."""
OTHER_DEVICE = "other device"
QUALITY_METRICS = ("shapes_eval", "geneval", "clip_score", "clipscore", "fid", "fd_dinov2", "fd_clip")
"""Quality metrics of a generation suite, in order of preference: the Shapes judge (GenEval's
rules), GenEval itself, then prompt alignment (CLIP score), then distance to the reference images."""


@dataclass(frozen=True)
class Comparable:
    """What must match for two runs of a suite to be ranked together."""

    version: str
    fingerprint: str
    metric_versions: str
    scoring: str
    sample_set: str

    @classmethod
    def of(cls, rec: dict[str, Any]) -> Comparable:
        """The key of one row of `load_suite_runs`."""
        return cls(
            str(rec["suite_version"]),
            str(rec["dataset_fingerprint"]),
            str(rec["metric_versions"]),
            str(rec["scoring"]),
            str(rec["sample_set"]),
        )

    def differences(self, table: Comparable, n: int, table_n: int) -> list[str]:
        """Why a run with this key is not ranked in a table with key `table` (empty when it is)."""
        out = []
        if self.version != table.version:
            out.append(f"suite version {self.version} differs from this table's version {table.version}")
        if self.fingerprint != table.fingerprint:
            out.append(
                f"dataset fingerprint {self.fingerprint or 'unknown'} differs from this table's "
                f"{table.fingerprint or 'unknown'} (another copy or version of the data)"
            )
        if self.metric_versions != table.metric_versions:
            out.append(
                f"metric versions {self.metric_versions} differ from this table's {table.metric_versions}"
            )
        if self.scoring != table.scoring:
            out.append(f"scoring settings {self.scoring} differ from this table's {table.scoring}")
        if self.sample_set != table.sample_set and self.fingerprint == table.fingerprint:
            out.append(
                f"it was evaluated on a different set of samples ({n}) than this table's runs "
                f"({table_n}), e.g. another --limit"
            )
        return out


def efficiency(samples: pd.DataFrame) -> dict[tuple[str, str], tuple[float | None, float | None]]:
    """(mean seconds per sample, output tokens per second) per (run_dir, task), successful samples only.

    Seconds per sample is the batch's time divided by its size, as the runner records it; tokens per
    second is the sum of output tokens over the sum of those times.
    """
    lat, tok = "timing.seconds_per_sample", "tokens.output"
    if not len(samples) or lat not in samples.columns:
        return {}
    ok = samples[samples["error"].isna()] if "error" in samples.columns else samples
    ok = ok[ok[lat].notna()]
    out: dict[tuple[str, str], tuple[float | None, float | None]] = {}
    for (run_dir, task), grp in ok.groupby(["run_dir", "suite"], sort=True):
        seconds = float(grp[lat].sum())
        tokens = grp[tok] if tok in grp.columns else None
        tps = (
            float(tokens.sum()) / seconds
            if tokens is not None and tokens.notna().all() and seconds > 0
            else None
        )
        out[(str(run_dir), str(task))] = (float(grp[lat].mean()), tps)
    return out


def suite_tables(
    data: LeaderboardData,
    suite: str,
    recs: list[dict[str, Any]],
    by_dir: dict[str, RunEntry],
    eff: dict[tuple[str, str], tuple[float | None, float | None]],
) -> list[SuiteTable]:
    """The tables of one suite: `recs` are its `load_suite_runs` rows in site order."""
    position = {e.key: i for i, e in enumerate(by_dir.values())}
    unfinished = [r for r in recs if r["status"] in UNFINISHED]
    groups: dict[Comparable, list[dict[str, Any]]] = {}
    for r in recs:
        if r["status"] not in UNFINISHED:
            groups.setdefault(Comparable.of(r), []).append(r)
    ordered = sorted(
        groups.items(),
        key=lambda kv: (
            -len(kv[1]),
            kv[0].version,
            kv[0].fingerprint,
            kv[0].metric_versions,
            kv[0].scoring,
            kv[0].sample_set,
        ),
    )
    tables = []
    for gi, (key, members) in enumerate(ordered):
        excluded = [
            Exclusion(
                by_dir[r["run_dir"]],
                f"not ranked: the run's status is {r['status']!r}, its numbers are incomplete",
            )
            for r in unfinished
        ]
        n_here = int(members[0]["n_samples"] or 0)
        for other_key, others in ordered:
            if other_key == key:
                continue
            for r in others:
                why = Comparable.of(r).differences(key, int(r["n_samples"] or 0), n_here)
                excluded.append(Exclusion(by_dir[r["run_dir"]], "not ranked here: " + "; ".join(why)))
        excluded.sort(key=lambda x: position[x.run.key])
        tables.append(_table(data, suite, key, gi, members, excluded, by_dir, eff))
    return tables


def _table(
    data: LeaderboardData,
    suite: str,
    key: Comparable,
    gi: int,
    members: list[dict[str, Any]],
    excluded: list[Exclusion],
    by_dir: dict[str, RunEntry],
    eff: dict[tuple[str, str], tuple[float | None, float | None]],
) -> SuiteTable:
    metric_order: list[str] = []
    for r in members:
        for metric in data.runs[r["run_dir"]].get("suites", {}).get(suite, {}).get("metrics", {}):
            if metric not in metric_order:
                metric_order.append(metric)
    metric_recs: dict[str, dict[str, dict[str, Any]]] = {}
    mdf = data.metrics
    if len(mdf):
        sub = mdf[(mdf["suite"] == suite) & (mdf["run_dir"].isin([r["run_dir"] for r in members]))]
        for rec in sub.to_dict("records"):
            metric_recs.setdefault(str(rec["metric"]), {})[str(rec["run_dir"])] = rec
    if str(members[0]["requires"]) == "generate":
        quality = quality_metric(metric_order, metric_recs)
        if quality:
            metric_order.remove(quality)
            metric_order.insert(0, quality)
    hib = {
        m: bool(next(iter(metric_recs.get(m, {}).values()), {}).get("higher_is_better", True))
        for m in metric_order
    }
    device = reference_device([str(r["device_name"]) for r in members])
    values = {
        r["run_dir"]: _efficiency_values(r, eff.get((r["run_dir"], suite), (None, None))) for r in members
    }
    columns = [Column(m, _metric_help(metric_recs.get(m, {})), hib[m]) for m in metric_order]
    columns.append(
        Column(
            LATENCY,
            "mean seconds per sample (batch time / batch size), successful samples",
            False,
            efficiency=True,
        )
    )
    if all(v[TOKENS_PER_S] is not None for v in values.values()):
        columns.append(Column(TOKENS_PER_S, "output tokens over generation seconds", True, efficiency=True))
    else:
        columns.append(Column(SAMPLES_PER_S, "1 / latency", True, efficiency=True))
    if any(v[MEMORY] is not None for v in values.values()):
        columns.append(Column(MEMORY, "from run.json efficiency fields", False, efficiency=True))
    notes: list[str] = []
    run_notes: dict[str, list[str]] = {}
    raw: dict[str, list[float | None]] = {c.name: [] for c in columns}
    cells_by_run: list[list[Cell]] = []
    for r in members:
        entry = by_dir[r["run_dir"]]
        cells: list[Cell] = []
        for m in metric_order:
            rec = metric_recs.get(m, {}).get(r["run_dir"])
            value = num(rec.get("value")) if rec else None
            raw[m].append(value)
            cells.append(_metric_cell(rec, value))
        same_device = str(r["device_name"]) == device
        for col in columns[len(metric_order) :]:
            value = values[r["run_dir"]][col.name] if same_device else None
            raw[col.name].append(value)
            if not same_device:
                cells.append(
                    Cell(
                        OTHER_DEVICE,
                        "",
                        title=f"measured on {r['device_name']}; this table compares "
                        f"efficiency on {device} only",
                        css="na",
                    )
                )
            else:
                cells.append(
                    Cell(
                        format_metric(col.name, value, EFFICIENCY_UNITS[col.name]),
                        "" if value is None else repr(value),
                        title=str(r["memory_source"]) if col.name == MEMORY else "",
                    )
                )
        if not same_device:
            notes.append(
                f"{entry.label}: efficiency not compared, measured on {r['device_name']} "
                f"(this table's device is {device})."
            )
        cells_by_run.append(cells)
        for metric, note in data.runs[r["run_dir"]].get("suites", {}).get(suite, {}).get("notes", {}).items():
            run_notes.setdefault(f"{metric}: {note}", []).append(entry.label)
    for note, labels in run_notes.items():
        notes.append(f"{note} ({'all runs' if len(labels) == len(members) else ', '.join(labels)})")
    if not key.fingerprint:
        notes.append(
            "The dataset fingerprint is unknown: whether these runs read the same data cannot be checked."
        )
    primary = metric_order[0] if metric_order else ""
    ranks = competition_ranks(raw[primary], hib[primary]) if primary else [None] * len(members)
    best = {c.name: best_index(raw[c.name], c.higher_is_better) for c in columns}
    rows = []
    for i, r in enumerate(members):
        cells = [
            Cell(c.text, c.sort, c.detail, c.title, "best" if best[col.name] == i else c.css)
            for col, c in zip(columns, cells_by_run[i], strict=True)
        ]
        rows.append(
            TableRow(
                by_dir[r["run_dir"]],
                ranks[i],
                tuple(cells),
                int(r["n_errors"] or 0),
                int(r.get("n_unparsed") or 0),
            )
        )
    rows.sort(key=lambda row: (row.rank is None, row.rank or 0))
    return SuiteTable(
        suite=suite,
        anchor=f"{slug(suite)}-{gi + 1}",
        requires=str(members[0]["requires"]),
        title=suite if gi == 0 else f"{suite} (not ranked with the main {suite} table)",
        version=key.version,
        fingerprint=key.fingerprint,
        n_samples=int(members[0]["n_samples"] or 0),
        main=gi == 0,
        primary_metric=primary,
        device_name=device,
        columns=tuple(columns),
        rows=tuple(rows),
        excluded=tuple(excluded),
        notes=tuple(notes),
        plots=(),
    )


def quality_metric(
    metric_order: Sequence[str], metric_recs: dict[str, dict[str, dict[str, Any]]]
) -> str | None:
    """The first of `QUALITY_METRICS` among `metric_order` that some run has a value for."""
    for name in QUALITY_METRICS:
        if name in metric_order and any(
            num(rec.get("value")) is not None for rec in metric_recs.get(name, {}).values()
        ):
            return name
    return None


def _efficiency_values(
    r: dict[str, Any], measured: tuple[float | None, float | None]
) -> dict[str, float | None]:
    """The efficiency numbers of one run and suite; the suite's own timing fills gaps."""
    latency, tps = measured
    wall, n, tokens = num(r["wall_seconds"]), num(r["n_samples"]), num(r["output_tokens"])
    if latency is None and wall and n:
        latency = wall / n
    if tps is None and wall and tokens is not None:
        tps = tokens / wall
    return {
        LATENCY: latency,
        TOKENS_PER_S: tps,
        SAMPLES_PER_S: 1 / latency if latency else None,
        MEMORY: num(r["memory_mib"]),
    }


def reference_device(names: Sequence[str]) -> str:
    """The most common device name (ties: the first in sorted order)."""
    counts = Counter(names)
    return sorted(counts, key=lambda n: (-counts[n], n))[0]


def _metric_help(recs: dict[str, dict[str, Any]]) -> str:
    rec = next(iter(recs.values()), None)
    if not rec:
        return ""
    better = "higher is better" if rec.get("higher_is_better", True) else "lower is better"
    unit = f", unit {rec['unit']}" if rec.get("unit") else ""
    return f"{better}; 95% interval: {rec.get('ci_method') or 'none'}{unit}"


def _metric_cell(rec: dict[str, Any] | None, value: float | None) -> Cell:
    if rec is None:
        return Cell("\u2013", "", title="this run has no value for the metric", css="na")
    lo, hi, n = num(rec.get("ci_low")), num(rec.get("ci_high")), num(rec.get("n"))
    metric, unit = str(rec.get("metric", "")), str(rec.get("unit") or "")
    detail = format_interval(metric, lo, hi, unit) if lo is not None and hi is not None else ""
    title = f"n = {int(n) if n is not None else '?'}; interval: {rec.get('ci_method') or 'none'}"
    return Cell(format_metric(metric, value, unit), "" if value is None else repr(value), detail, title)


def best_index(values: Sequence[float | None], higher_is_better: bool) -> int | None:
    """The index of the single best value; None when fewer than two values or a tie for best."""
    scored = [(v, i) for i, v in enumerate(values) if v is not None]
    if len(scored) < 2:
        return None
    target = max(v for v, _ in scored) if higher_is_better else min(v for v, _ in scored)
    winners = [i for v, i in scored if v == target]
    return winners[0] if len(winners) == 1 else None


def competition_ranks(values: Sequence[float | None], higher_is_better: bool) -> list[int | None]:
    """Competition ranking (1, 2, 2, 4); None for missing values."""
    sign = -1 if higher_is_better else 1
    present = sorted((sign * v, i) for i, v in enumerate(values) if v is not None)
    ranks: list[int | None] = [None] * len(values)
    for pos, (v, i) in enumerate(present):
        ranks[i] = 1 + sum(1 for w, _ in present[:pos] if w < v)
    return ranks
