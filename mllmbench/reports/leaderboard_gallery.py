"""The gallery page of the leaderboard: generated images side by side per prompt, and per-tag bars.

For every suite with generated images, one row per prompt (sample id, in the first run's order,
at most `limit`) with each run's images and per-sample scores (``shapes_eval_correct``,
``geneval_correct``...) in run order, and under them what that image cost as its record says
(seed, sequential calls, NFE); each run's column is headed by its generation paradigm. Below, for every metric family with per-tag values
(``shapes_eval/<tag>``, ``geneval/<tag>``), grouped horizontal bars: one group per tag, one bar
per run, in the run's paradigm colour.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

from mllmbench.reports.leaderboard_generation import GENERATION_COLOURS
from mllmbench.reports.leaderboard_model import LeaderboardData, RunEntry, fmt, num, slug
from mllmbench.reports.leaderboard_runs import GALLERY_PX, ImageSink, ScoreCell, _images, _paths, _scores

GALLERY_HREF = "gallery.html"


@dataclass(frozen=True)
class GalleryCell:
    """One run's images for one prompt."""

    run: RunEntry
    images: tuple[str, ...]
    missing: tuple[str, ...]
    scores: tuple[ScoreCell, ...]
    cost: str = ""
    """The sample's seed, sequential calls and NFE from its record (empty when none is recorded)."""


@dataclass(frozen=True)
class PromptRow:
    """One prompt across runs."""

    sample_id: str
    text: str
    cells: tuple[GalleryCell, ...]


@dataclass(frozen=True)
class SuiteGallery:
    """One suite's side-by-side rows and per-tag bars."""

    suite: str
    anchor: str
    runs: tuple[RunEntry, ...]
    colours: tuple[str, ...]
    """Each run's generation-paradigm colour (`leaderboard_generation.GENERATION_COLOURS`)."""
    rows: tuple[PromptRow, ...]
    bars: tuple[tuple[str, str], ...]
    """(metric family, SVG) per family with per-tag values."""


@dataclass(frozen=True)
class GalleryPageView:
    """Everything the gallery page shows."""

    title: str
    suites: tuple[SuiteGallery, ...]


def tag_bars_svg(family: str, tags: Sequence[str], runs: Sequence[tuple[RunEntry, dict[str, float]]]) -> str:
    """Grouped horizontal bars (0-100) of `family`/<tag> per run; a missing value draws no bar."""
    bar, gap, left, width = 12, 10, 130, 320
    height = 30 + len(tags) * (len(runs) * bar + gap)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{left + width + 60}" height="{height}" '
        f'aria-label="{escape(family)} per tag">',
        f'<text x="0" y="14" font-size="12">{escape(family)} per tag (%)</text>',
    ]
    y = 24
    for tag in tags:
        parts.append(f'<text x="0" y="{y + len(runs) * bar / 2 + 4:.0f}" font-size="11">{escape(tag)}</text>')
        for run, values in runs:
            v = values.get(tag)
            if v is not None:
                w = max(0.0, min(100.0, v)) / 100 * width
                parts.append(
                    f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar - 2}" fill="{escape(run.colour)}">'
                    f"<title>{escape(run.label)}: {fmt(v)}</title></rect>"
                    f'<text x="{left + w + 4:.1f}" y="{y + bar - 3}" font-size="10">{escape(run.tag)} {fmt(v, 3)}</text>'
                )
            y += bar
        y += gap
    parts.append("</svg>")
    return "".join(parts)


def _bars(data: LeaderboardData, suite: str, runs: Sequence[RunEntry]) -> tuple[tuple[str, str], ...]:
    families: dict[str, list[str]] = {}
    per_run = []
    for entry in runs:
        metrics = data.runs[entry.run_dir].get("suites", {}).get(suite, {}).get("metrics", {})
        values: dict[str, dict[str, float]] = {}
        for name, mv in metrics.items():
            family, sep, tag = name.partition("/")
            v = num(mv.get("value")) if isinstance(mv, dict) else None
            if sep and v is not None:
                values.setdefault(family, {})[tag] = v
                if tag not in families.setdefault(family, []):
                    families[family].append(tag)
        per_run.append((entry, values))
    return tuple(
        (family, tag_bars_svg(family, tags, [(e, v.get(family, {})) for e, v in per_run]))
        for family, tags in families.items()
    )


def _suite_gallery(
    data: LeaderboardData, suite: str, entries: Sequence[RunEntry], images: ImageSink, limit: int
) -> SuiteGallery | None:
    extras, samples = data.extras, data.samples
    ex = extras[extras["suite"] == suite] if len(extras) else extras
    runs = [e for e in entries if len(ex) and (ex["run_dir"] == e.run_dir).any()]
    if not runs:
        return None
    order: list[str] = []
    texts: dict[str, str] = {}
    cells: dict[str, list[GalleryCell]] = {}
    for entry in runs:
        mine = (
            samples[(samples["run_dir"] == entry.run_dir) & (samples["suite"] == suite)]
            if len(samples)
            else samples
        )
        score_cols = (
            [c for c in mine.columns if c.startswith("score.") and mine[c].notna().any()] if len(mine) else []
        )
        records = {str(r["sample_id"]): r for r in mine.to_dict("records")} if len(mine) else {}
        gen = {
            str(r["sample_id"]): r.get("generated_images")
            for r in ex[ex["run_dir"] == entry.run_dir].to_dict("records")
        }
        for sid, paths in gen.items():
            if sid not in texts:
                if len(order) >= limit:
                    continue
                order.append(sid)
                texts[sid] = str((records.get(sid) or {}).get("text") or "")
            shown, missing = _images(_paths(paths), images, GALLERY_PX)
            rec = records.get(sid, {})
            scores = _scores(rec, score_cols)
            cells.setdefault(sid, []).append(
                GalleryCell(entry, tuple(shown), missing, scores, sample_cost(rec))
            )
    rows = []
    for sid in order:
        got = {c.run.run_dir: c for c in cells.get(sid, [])}
        row = tuple(got.get(e.run_dir) or GalleryCell(e, (), ("no image for this prompt",), ()) for e in runs)
        rows.append(PromptRow(sid, texts[sid], row))
    colours = tuple(GENERATION_COLOURS.get(e.generation, "#777") for e in runs)
    return SuiteGallery(
        suite, f"gallery-{slug(suite)}", tuple(runs), colours, tuple(rows), _bars(data, suite, runs)
    )


def sample_cost(rec: dict[str, Any]) -> str:
    """``seed 7 · 12 sequential calls · 24 NFE`` from one sample row of `frame.load_samples`."""
    parts = []
    for col, fmt_part in (
        ("seed", "seed {}"),
        ("generation.sequential_calls", "{} sequential calls"),
        ("generation.nfe", "{} NFE"),
    ):
        v = num(rec.get(col))
        if v is not None:
            parts.append(fmt_part.format(int(v) if v.is_integer() else v))
    return " · ".join(parts)


def build_gallery_page(
    data: LeaderboardData, entries: Sequence[RunEntry], images: ImageSink, *, limit: int = 24
) -> GalleryPageView:
    """The gallery of every suite with generated images (empty when no run generated any)."""
    suites: list[Any] = (
        sorted(set(data.extras["suite"])) if len(data.extras) and "suite" in data.extras else []
    )
    views = [v for s in suites if (v := _suite_gallery(data, s, entries, images, limit)) is not None]
    return GalleryPageView(title="Generated images side by side", suites=tuple(views))
