"""The view of one run's page: provenance, config, per-task breakdowns, sample explorer, gallery.

Images are not read here: an `ImageSink` (see `leaderboard_site.ImageStore`) turns an image
path into a site-relative file name, so this module stays free of file writing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from mllmbench.reports.leaderboard_model import IndexView, LeaderboardData, RunEntry, fmt, num, slug

BREAKDOWN_FIELDS = ("question_type", "answer_type")
"""Sample ``meta`` fields a run page breaks scores down by (any other ``meta.*_type`` field too)."""
SAMPLES_PER_SUITE = 200
"""Sample explorer rows per suite; the page says how many were left out."""
HIDDEN_CONFIG = ("out_dir",)
"""Config fields not published: where the run was written says nothing about its results."""
THUMBNAIL_PX = 128
GALLERY_PX = 256


class ImageSink(Protocol):
    """Turns an image path into a site-relative file name, or None when it cannot be read."""

    def add(self, path: str, size: int) -> str | None: ...


@dataclass(frozen=True)
class ScoreCell:
    """One per-sample score."""

    name: str
    text: str
    sort: str


@dataclass(frozen=True)
class SampleRow:
    """One sample of the explorer."""

    sample_id: str
    images: tuple[str, ...]
    """Site-relative thumbnail files."""
    missing_images: tuple[str, ...]
    """Image paths that could not be read (shown as text)."""
    text: str
    prompt: str
    output: str | None
    answer: str | None
    references: tuple[str, ...]
    scores: tuple[ScoreCell, ...]
    meta: tuple[tuple[str, str], ...]
    error: str | None


@dataclass(frozen=True)
class BreakdownRow:
    """Scores of the samples sharing one value of a breakdown field."""

    value: str
    n: int
    n_errors: int
    means: tuple[str, ...]


@dataclass(frozen=True)
class Breakdown:
    """Per-type means for one ``meta`` field."""

    field: str
    scores: tuple[str, ...]
    rows: tuple[BreakdownRow, ...]


@dataclass(frozen=True)
class GalleryItem:
    """A sample with generated images."""

    sample_id: str
    text: str
    images: tuple[str, ...]
    missing_images: tuple[str, ...]
    scores: tuple[ScoreCell, ...]


@dataclass(frozen=True)
class MetricLine:
    """One corpus metric of the run."""

    name: str
    value: str
    interval: str
    n: str
    method: str
    better: str
    unit: str


@dataclass(frozen=True)
class RunSuiteView:
    """One suite of the run."""

    name: str
    anchor: str
    version: str
    fingerprint: str
    dataset_path: str
    n_samples: int
    n_errors: int
    n_unparsed: int
    metrics: tuple[MetricLine, ...]
    notes: tuple[str, ...]
    timing: tuple[tuple[str, str], ...]
    placement: tuple[tuple[str, str, str], ...]
    """(table title, link from this page, rank or why the run is left out) per table of the suite."""
    breakdowns: tuple[Breakdown, ...]
    score_names: tuple[str, ...]
    meta_names: tuple[str, ...]
    samples: tuple[SampleRow, ...]
    samples_total: int
    gallery: tuple[GalleryItem, ...]


@dataclass(frozen=True)
class RunPageView:
    """Everything a run page shows."""

    title: str
    run: RunEntry
    started_at: str
    finished_at: str
    provenance: tuple[tuple[str, str], ...]
    config: tuple[tuple[str, str], ...]
    generation: tuple[tuple[str, str], ...]
    adapter: tuple[tuple[str, str], ...]
    suites: tuple[RunSuiteView, ...]


def flatten(d: dict[str, Any], prefix: str = "") -> tuple[tuple[str, str], ...]:
    """Nested dicts as (dotted key, text) pairs in the file's own order; lists as JSON."""
    out: list[tuple[str, str]] = []
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out.extend(flatten(v, key + "."))
        elif isinstance(v, str):
            out.append((key, v))
        else:
            out.append((key, json.dumps(v, sort_keys=True, ensure_ascii=False)))
    return tuple(out)


def build_run_page(
    data: LeaderboardData,
    entry: RunEntry,
    index: IndexView,
    images: ImageSink,
    *,
    samples_per_suite: int = SAMPLES_PER_SUITE,
) -> RunPageView:
    """The page of one run."""
    run = data.runs[entry.run_dir]
    samples = data.samples
    mine = samples[samples["run_dir"] == entry.run_dir] if len(samples) else samples
    extras = data.extras[data.extras["run_dir"] == entry.run_dir] if len(data.extras) else data.extras
    suites = []
    for name, res in run.get("suites", {}).items():
        rows = mine[mine["suite"] == name] if len(mine) else mine
        ex = extras[extras["suite"] == name] if len(extras) else extras
        suites.append(_suite_view(name, res, rows, ex, entry, index, images, samples_per_suite))
    adapter = {k: v for k, v in run.get("adapter", {}).items() if k != "chat_template"}
    return RunPageView(
        title=f"{entry.label}: run {entry.run_id}",
        run=entry,
        started_at=str(run.get("started_at", "")),
        finished_at=str(run.get("finished_at", "")),
        provenance=flatten(run.get("provenance", {})),
        config=flatten({k: v for k, v in run.get("config", {}).items() if k not in HIDDEN_CONFIG}),
        generation=flatten(run.get("generation", {})),
        adapter=flatten(adapter)
        + (("chat_template", str(run.get("adapter", {}).get("chat_template") or "")),),
        suites=tuple(suites),
    )


def _placement(entry: RunEntry, suite: str, index: IndexView) -> tuple[tuple[str, str, str], ...]:
    out = []
    for section in index.sections:
        for table in section.tables:
            if table.suite != suite:
                continue
            href = f"../index.html#{table.anchor}"
            row = next((r for r in table.rows if r.run.key == entry.key), None)
            if row is not None:
                ranked = f"rank {row.rank} of {len(table.rows)}" if row.rank else "ranked, no primary value"
                out.append((table.title, href, ranked))
                continue
            why = next((x.reason for x in table.excluded if x.run.key == entry.key), None)
            if why:
                out.append((table.title, href, why))
    return tuple(out)


def _suite_view(
    name: str,
    res: dict[str, Any],
    rows: Any,
    extras: Any,
    entry: RunEntry,
    index: IndexView,
    images: ImageSink,
    limit: int,
) -> RunSuiteView:
    metrics = tuple(
        MetricLine(
            name=m,
            value=fmt(num(mv.get("value"))),
            interval=(
                f"[{fmt(num(mv.get('ci_low')))}, {fmt(num(mv.get('ci_high')))}]"
                if num(mv.get("ci_low")) is not None
                else ""
            ),
            n=str(mv.get("n", "")),
            method=str(mv.get("ci_method") or ""),
            better="higher" if mv.get("higher_is_better", True) else "lower",
            unit=str(mv.get("unit") or ""),
        )
        for m, mv in res.get("metrics", {}).items()
    )
    score_cols = (
        [c for c in rows.columns if c.startswith("score.") and rows[c].notna().any()] if len(rows) else []
    )
    meta_cols = (
        [c for c in rows.columns if c.startswith("meta.") and rows[c].notna().any()] if len(rows) else []
    )
    breakdown_cols = [f"meta.{f}" for f in BREAKDOWN_FIELDS if f"meta.{f}" in meta_cols]
    breakdown_cols += sorted(c for c in meta_cols if c.endswith("_type") and c not in breakdown_cols)
    records = rows.to_dict("records") if len(rows) else []
    gen = (
        {str(r["sample_id"]): r.get("generated_images") for r in extras.to_dict("records")}
        if len(extras)
        else {}
    )
    return RunSuiteView(
        name=name,
        anchor=f"suite-{slug(name)}",
        version=str(res.get("version", "")),
        fingerprint=str(res.get("dataset", {}).get("fingerprint") or ""),
        dataset_path=str(res.get("dataset", {}).get("path") or ""),
        n_samples=int(res.get("n_samples") or 0),
        n_errors=int(res.get("n_errors") or 0),
        n_unparsed=int(res.get("n_unparsed") or 0),
        metrics=metrics,
        notes=tuple(f"{k}: {v}" for k, v in res.get("notes", {}).items()),
        timing=tuple(
            (k, fmt(num(v)) if num(v) is not None else str(v)) for k, v in res.get("timing", {}).items()
        ),
        placement=_placement(entry, name, index),
        breakdowns=tuple(_breakdown(records, c, score_cols) for c in breakdown_cols),
        score_names=tuple(c.removeprefix("score.") for c in score_cols),
        meta_names=tuple(c.removeprefix("meta.") for c in breakdown_cols),
        samples=tuple(_sample_row(r, score_cols, breakdown_cols, images) for r in records[:limit]),
        samples_total=len(records),
        gallery=tuple(_gallery(records, gen, score_cols, images, limit)),
    )


def reference_counts(refs: Sequence[Any]) -> tuple[str, ...]:
    """Distinct references in first-seen order, with a count when one repeats (``no (x10)``)."""
    counts: dict[str, int] = {}
    for r in refs:
        counts[str(r)] = counts.get(str(r), 0) + 1
    return tuple(f"{r} (\u00d7{n})" if n > 1 else r for r, n in counts.items())


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and value != value):
        return None
    return str(value)


def _paths(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return []


def _scores(rec: dict[str, Any], score_cols: Sequence[str]) -> tuple[ScoreCell, ...]:
    out = []
    for c in score_cols:
        v = num(rec.get(c))
        out.append(ScoreCell(c.removeprefix("score."), fmt(v), "" if v is None else repr(v)))
    return tuple(out)


def _images(paths: Sequence[str], images: ImageSink, size: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    shown, missing = [], []
    for p in paths:
        name = images.add(p, size)
        if name is None:
            missing.append(p)
        else:
            shown.append(name)
    return tuple(shown), tuple(missing)


def _sample_row(
    rec: dict[str, Any], score_cols: Sequence[str], meta_cols: Sequence[str], images: ImageSink
) -> SampleRow:
    shown, missing = _images(_paths(rec.get("image")), images, THUMBNAIL_PX)
    refs = rec.get("references")
    return SampleRow(
        sample_id=str(rec.get("sample_id")),
        images=tuple("../" + s for s in shown),
        missing_images=missing,
        text=_text(rec.get("text")) or "",
        prompt=_text(rec.get("prompt")) or "",
        output=_text(rec.get("output")),
        answer=_text(rec.get("answer")),
        references=reference_counts(refs if isinstance(refs, list | tuple) else ()),
        scores=_scores(rec, score_cols),
        meta=tuple((c.removeprefix("meta."), _text(rec.get(c)) or "") for c in meta_cols),
        error=_text(rec.get("error")),
    )


def _breakdown(records: Sequence[dict[str, Any]], col: str, score_cols: Sequence[str]) -> Breakdown:
    groups: dict[str, list[dict[str, Any]]] = {}
    for rec in records:
        groups.setdefault(_text(rec.get(col)) or "(none)", []).append(rec)
    rows = []
    for value in sorted(groups):
        recs = groups[value]
        means = []
        for c in score_cols:
            vals = [v for v in (num(r.get(c)) for r in recs) if v is not None]
            means.append(fmt(sum(vals) / len(vals)) if vals else "\u2013")
        rows.append(
            BreakdownRow(value, len(recs), sum(1 for r in recs if _text(r.get("error"))), tuple(means))
        )
    return Breakdown(
        col.removeprefix("meta."), tuple(c.removeprefix("score.") for c in score_cols), tuple(rows)
    )


def _gallery(
    records: Sequence[dict[str, Any]],
    gen: dict[str, Any],
    score_cols: Sequence[str],
    images: ImageSink,
    limit: int,
) -> list[GalleryItem]:
    out = []
    for rec in records:
        paths = _paths(gen.get(str(rec.get("sample_id"))))
        if not paths:
            continue
        shown, missing = _images(paths, images, GALLERY_PX)
        out.append(
            GalleryItem(
                str(rec.get("sample_id")),
                _text(rec.get("text")) or "",
                tuple("../" + s for s in shown),
                missing,
                _scores(rec, score_cols),
            )
        )
        if len(out) >= limit:
            break
    return out
