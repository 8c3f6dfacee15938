"""The one plain-text table of the command line (`list`, `score`, `run`'s summary, leaderboards)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mllmbench.core.formatting import format_interval, format_metric


def text_table(header: Sequence[str], rows: Sequence[Sequence[object]], *, right: Sequence[int] = ()) -> str:
    """Columns padded to their widest cell, a dashed rule under the header, no trailing blanks.

    Cells are turned into text with `str`; the column indexes in `right` are right-aligned (numbers).
    """
    cells = [[str(c) for c in header], *[[str(c) for c in row] for row in rows]]
    width = len(cells[0])
    for row in cells:
        if len(row) != width:
            raise ValueError(f"table row has {len(row)} cells, the header has {width}: {row}")
    widths = [max(len(r[i]) for r in cells) for i in range(width)]

    def line(row: Sequence[str]) -> str:
        padded = [
            c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        return "  ".join(padded).rstrip()

    return "\n".join([line(cells[0]), "  ".join("-" * w for w in widths), *(line(r) for r in cells[1:])])


def _get(obj: Any, key: str, default: Any = None) -> Any:
    """A field of a run.json mapping or of a typed result object."""
    return obj.get(key, default) if isinstance(obj, Mapping) else getattr(obj, key, default)


def run_summary_table(suites: Mapping[str, Any]) -> str:
    """`run`'s and `rescore`'s table: suite, metric, value, 95% interval, n, errors.

    `suites` maps suite names to run.json suite entries (mappings) or typed suite results (objects
    with ``metrics``, ``notes`` and ``n_errors``); values are written by `format_metric`.
    """
    rows: list[tuple[str, ...]] = []
    for suite, res in suites.items():
        errors = str(_get(res, "n_errors", 0))
        for metric, mv in (_get(res, "metrics") or {}).items():
            unit = str(_get(mv, "unit") or "")
            rows.append(
                (
                    suite,
                    metric,
                    format_metric(metric, _get(mv, "value"), unit),
                    format_interval(metric, _get(mv, "ci_low"), _get(mv, "ci_high"), unit),
                    str(_get(mv, "n")),
                    errors,
                )
            )
        for metric, note in (_get(res, "notes") or {}).items():
            rows.append((suite, metric, "n/a", str(note)[:60], "-", errors))
    return text_table(("suite", "metric", "value", "95% interval", "n", "errors"), rows, right=(2, 4, 5))
