"""Trade-off figures of a suite table: quality against latency, throughput and memory.

Quality is the table's primary metric; one point per run on the table's device, coloured by
paradigm, with the Pareto front marked (`svg_plots`). A figure without data says why.
"""

from __future__ import annotations

from dataclasses import replace

from mllmbench.reports import svg_plots
from mllmbench.reports.leaderboard_model import PlotView, SuiteTable, num
from mllmbench.reports.leaderboard_tables import LATENCY, MEMORY, OTHER_DEVICE, SAMPLES_PER_S, TOKENS_PER_S

AXES = ((LATENCY, "latency"), ((TOKENS_PER_S, SAMPLES_PER_S), "throughput"), (MEMORY, "memory"))
NO_MEMORY = (
    "unavailable: none of these runs records peak memory (run.json has no efficiency field such as "
    "peak_memory_bytes)"
)


def with_plots(table: SuiteTable) -> SuiteTable:
    """`table` with its three trade-off figures."""
    if not table.primary_metric:
        return table
    names = [c.name for c in table.columns]
    q = names.index(table.primary_metric)
    quality = table.columns[q]
    plots = []
    for wanted, short in AXES:
        options = wanted if isinstance(wanted, tuple) else (wanted,)
        col_name = next((n for n in options if n in names), options[0])
        title = f"{table.suite}: {quality.name} against {col_name} on {table.device_name}"
        if col_name not in names:
            plots.append(
                PlotView(title, None, NO_MEMORY if short == "memory" else f"unavailable: no {short}", ())
            )
            continue
        e = names.index(col_name)
        points, left_out = [], []
        for row in table.rows:
            qv, ev = num(row.cells[q].sort), num(row.cells[e].sort)
            if row.cells[e].text == OTHER_DEVICE:
                left_out.append(f"{row.run.label}: measured on {row.run.device_name}")
            elif qv is None or ev is None:
                left_out.append(f"{row.run.label}: no {short if qv is not None else quality.name} value")
            else:
                points.append(
                    svg_plots.PlotPoint(row.run.label, row.run.tag, ev, qv, row.run.paradigm, row.run.href)
                )
        if not points:
            plots.append(
                PlotView(
                    title, None, f"unavailable: no run has both {quality.name} and {short}", tuple(left_out)
                )
            )
            continue
        colours = {row.run.paradigm: row.run.colour for row in table.rows}
        svg = svg_plots.scatter_svg(
            points,
            svg_plots.Axis(col_name, table.columns[e].higher_is_better),
            svg_plots.Axis(quality.name, quality.higher_is_better),
            colours=colours,
            title=title,
            element_id=f"plot-{table.anchor}-{short}",
        )
        plots.append(PlotView(title, svg, None, tuple(left_out), tuple((p.tag, p.label) for p in points)))
    return replace(table, plots=tuple(plots))
