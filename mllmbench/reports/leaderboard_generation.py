"""Quality against cost across generation paradigms, for the index's generation tables.

For every table of a suite that requires image generation, one row per ranked run: the table's
quality metric (`leaderboard_tables.QUALITY_METRICS`: ``shapes_eval`` when present, else GenEval,
CLIP score, FID...) beside what its images cost, computed from the per-sample records of
``samples.jsonl`` (the adapter's `GenerateUsage`, read by `frame.load_samples` as
``generation.*``, ``seed``, ``images_generated`` and ``timing.*``), successful samples only:

* images/s: images over the summed share of adapter-call wall time of each sample
  (``call_seconds / call_requests``), the suite's own ``images_per_second`` rule; compared on the
  table's device only;
* sequential calls per image (``generation.sequential_calls``, mean): generator forward calls
  that ran one after another, counted by the adapter; a count, so compared across devices;
* NFE per image and steps (means), the guidance multiplier(s), distinct seeds.

Two figures: quality against images/s and quality against sequential calls per image, one point
per run, coloured by generation paradigm and labelled with the run's tag and its paradigm.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from mllmbench.core.formatting import count, format_metric
from mllmbench.core.types import GenerationParadigm
from mllmbench.reports import svg_plots
from mllmbench.reports.leaderboard_model import (
    PALETTE,
    Cell,
    Column,
    GenerationTradeoff,
    PlotView,
    SuiteTable,
    TableRow,
    TradeoffRow,
    num,
)
from mllmbench.reports.leaderboard_tables import QUALITY_METRICS

if TYPE_CHECKING:
    import pandas as pd

IMAGES_PER_S = "images/s"
SEQUENTIAL_CALLS = "sequential calls/image"
NFE = "NFE/image"
STEPS = "steps"
GUIDANCE = "guidance multiplier"
SEEDS = "seeds"
COST_COLUMNS = (
    Column(IMAGES_PER_S, "images over the adapter-call seconds of their samples", True, efficiency=True),
    Column(SEQUENTIAL_CALLS, "generator forward calls one after another per image (counted)", False),
    Column(NFE, "generator forward passes per image: steps x guidance multiplier", False),
    Column(STEPS, "denoising or decoding steps per image, mean", False),
    Column(GUIDANCE, "2 when every step also ran the unconditional branch", False),
    Column(SEEDS, "distinct seeds over the images (one per prompt: same seed, same image)", True),
)
GENERATION_COLOURS = {p.value: PALETTE[i % len(PALETTE)] for i, p in enumerate(GenerationParadigm)}
"""One colour per generation paradigm, fixed by the enum's order (the same on every site)."""


@dataclass(frozen=True)
class GenerationCost:
    """What one run's images of one suite cost, from its sample records."""

    n_samples: int
    n_images: int
    images_per_second: float | None
    sequential_calls: float | None
    nfe: float | None
    steps: float | None
    guidance: tuple[int, ...]
    seeds: int


def _mean(values: list[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None


def generation_costs(samples: pd.DataFrame) -> dict[tuple[str, str], GenerationCost]:
    """`GenerationCost` per (run_dir, suite) of every suite whose samples saved images."""
    if not len(samples) or "images_generated" not in samples.columns:
        return {}
    ok = samples[samples["error"].isna()] if "error" in samples.columns else samples
    ok = ok[ok["images_generated"].notna()]
    out: dict[tuple[str, str], GenerationCost] = {}
    for (run_dir, suite), grp in ok.groupby(["run_dir", "suite"], sort=True):
        recs = grp.to_dict("records")
        n_images = sum(int(r["images_generated"]) for r in recs)
        shares = []
        for r in recs:
            call = num(r.get("timing.call_seconds"))
            if call is not None:
                per = num(r.get("timing.call_requests")) or num(r.get("timing.batch_size")) or 1.0
                shares.append(call / max(1.0, per))
        seconds = math.fsum(shares)

        def values(col: str, recs: list[dict[str, object]] = recs) -> list[float]:
            return [v for r in recs if (v := num(r.get(col))) is not None]

        seeds = {r["seed"] for r in recs if num(r.get("seed")) is not None}
        out[(str(run_dir), str(suite))] = GenerationCost(
            n_samples=len(recs),
            n_images=n_images,
            images_per_second=n_images / seconds if len(shares) == len(recs) and seconds > 0 else None,
            sequential_calls=_mean(values("generation.sequential_calls")),
            nfe=_mean(values("generation.nfe")),
            steps=_mean(values("generation.steps")),
            guidance=tuple(sorted({int(v) for v in values("generation.guidance_multiplier")})),
            seeds=len(seeds),
        )
    return out


def _cost_cells(cost: GenerationCost | None, same_device: bool, device: str) -> tuple[Cell, ...]:
    if cost is None:
        missing = Cell("\u2013", "", title="no sample record of this run saved an image", css="na")
        return (missing,) * len(COST_COLUMNS)
    ips = (
        Cell(
            format_metric("images_per_second", cost.images_per_second, "images/s"),
            repr(cost.images_per_second),
        )
        if same_device and cost.images_per_second is not None
        else Cell(
            "other device" if not same_device else "\u2013",
            "",
            title=f"this table compares speed on {device} only" if not same_device else "no call timing",
            css="na",
        )
    )

    def counted(value: float | None) -> Cell:
        if value is None:
            return Cell("\u2013", "", title="not recorded by this run's samples", css="na")
        return Cell(count(value), repr(value))

    guidance = ", ".join(str(g) for g in cost.guidance)
    return (
        ips,
        counted(cost.sequential_calls),
        counted(cost.nfe),
        counted(cost.steps),
        Cell(guidance or "\u2013", str(cost.guidance[0]) if len(cost.guidance) == 1 else ""),
        Cell(f"{cost.seeds} of {cost.n_images} images", str(cost.seeds)),
    )


def _plot(
    table: SuiteTable,
    rows: list[tuple[TableRow, float | None, GenerationCost | None]],
    quality: Column,
    axis: Column,
    field: str,
) -> PlotView:
    title = f"{table.suite}: {quality.name} against {axis.name}" + (
        f" on {table.device_name}" if axis.efficiency else " (all devices: a count)"
    )
    points, left_out = [], []
    for row, q, cost in rows:
        x = getattr(cost, field) if cost is not None else None
        if axis.efficiency and row.run.device_name != table.device_name:
            left_out.append(f"{row.run.label}: measured on {row.run.device_name}")
        elif q is None or x is None:
            left_out.append(f"{row.run.label}: no {axis.name if q is not None else quality.name} value")
        else:
            generation = row.run.generation or "none"
            points.append(
                svg_plots.PlotPoint(
                    f"{row.run.label} [{generation}]",
                    f"{row.run.tag} {generation}",
                    x,
                    q,
                    generation,
                    row.run.href,
                )
            )
    if not points:
        return PlotView(
            title, None, f"unavailable: no run has both {quality.name} and {axis.name}", tuple(left_out)
        )
    slug = "ips" if field == "images_per_second" else "calls"
    svg = svg_plots.scatter_svg(
        points,
        svg_plots.Axis(axis.name, axis.higher_is_better),
        svg_plots.Axis(quality.name, quality.higher_is_better),
        colours=GENERATION_COLOURS,
        title=title,
        element_id=f"plot-{table.anchor}-{slug}",
    )
    return PlotView(title, svg, None, tuple(left_out), tuple((p.tag, p.label) for p in points))


def with_tradeoff(table: SuiteTable, costs: Mapping[tuple[str, str], GenerationCost]) -> SuiteTable:
    """`table` (of a generation suite) with its quality-against-cost rows and two figures.

    The table's plots become these figures; a table without a quality metric
    (`leaderboard_tables.QUALITY_METRICS`) gets none and says why in its notes.
    """
    names = [c.name for c in table.columns]
    if table.primary_metric not in QUALITY_METRICS:
        note = (
            f"No quality-against-cost figure: none of {', '.join(QUALITY_METRICS)} has a value "
            "in these runs (e.g. FID without its extractor's weights, CLIP score without a CLIP model)."
        )
        return replace(table, notes=(*table.notes, note))
    q = names.index(table.primary_metric)
    quality = table.columns[q]
    rows = []
    plotted: list[tuple[TableRow, float | None, GenerationCost | None]] = []
    for row in table.rows:
        cost = costs.get((row.run.run_dir, table.suite))
        same_device = row.run.device_name == table.device_name
        colour = GENERATION_COLOURS.get(row.run.generation, "#777")
        cells = _cost_cells(cost, same_device, table.device_name)
        rows.append(TradeoffRow(row.run, colour, row.cells[q], cells))
        plotted.append((row, num(row.cells[q].sort), cost))
    by_field = {IMAGES_PER_S: "images_per_second", SEQUENTIAL_CALLS: "sequential_calls"}
    plots = tuple(
        _plot(table, plotted, quality, c, by_field[c.name]) for c in COST_COLUMNS if c.name in by_field
    )
    tradeoff = GenerationTradeoff(
        quality_metric=quality.name,
        quality_higher_is_better=quality.higher_is_better,
        cost_columns=COST_COLUMNS,
        rows=tuple(rows),
        plots=plots,
    )
    return replace(table, tradeoff=tradeoff, plots=plots)
