"""The one plain-text table of the command line (`list`, `score`, `run`'s summary, leaderboards)."""

from __future__ import annotations

from collections.abc import Sequence


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
