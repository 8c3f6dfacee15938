"""Multiple-choice benchmark tables: VLMEvalKit's TSV/xlsx layout and lmms-eval's parquet layout.

VLMEvalKit TSV (``MMBench_DEV_EN.tsv``, ``SEEDBench_IMG.tsv``, ``ScienceQA_TEST.tsv``,
``AI2D_TEST.tsv``, ``MMStar.tsv``; ``vlmeval/dataset/image_mcq.py``): one row per question with
``index`` (int), ``question``, option columns ``A``..``Z`` (empty cells: no such option),
``answer`` (a letter; absent in test splits), optional ``hint``, ``category``, ``l2-category``,
``split``; the image as base64 in ``image`` (a cell of at most 64 characters names the ``index``
of the row holding the image, as the circular copies of MMBench do) or as a file name in
``image_path`` (relative to the table's folder). MMBench's circular copies of question ``i``
have ``index = i + k * 1e6``.

lmms-eval parquet layouts (lmms-lab/MMBench and the others): `mc_parquet`.

Pandas reads an empty TSV cell as NaN; `present_options` treats NaN, null and "" alike. Cells are
read as text (``dtype=str``), so a numeric option column with an empty cell keeps ``3`` rather
than becoming ``3.0`` (VLMEvalKit's default dtypes would show ``3.0``).
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mllmbench.core.errors import InputError
from mllmbench.suites.metrics.mc_extract import present_options

CIRCULAR_STRIDE = 1_000_000
"""``g_index = index % 1e6`` (VLMEvalKit ``mcq_circular_eval``)."""
REQUIRED = ("index", "question", "A", "B")
IMAGE_REF_MAX = 64
"""VLMEvalKit: an ``image`` cell this short is the index of the row with the image."""


@dataclass(frozen=True)
class MCItem:
    """One multiple-choice row."""

    index: int
    question: str
    options: dict[str, str]
    answer: str | None
    hint: str = ""
    category: str = ""
    l2_category: str = ""
    split: str = ""
    image_ref: Any = None
    """What locates the image: base64 text, a relative file name, or the parquet row's key."""
    image_kind: str = ""
    """``base64``, ``path`` or ``parquet``."""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def g_index(self) -> int:
        """The base question this row is a circular copy of (itself for base rows)."""
        return self.index % CIRCULAR_STRIDE


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value == ""


def _text(value: Any) -> str:
    return "" if _blank(value) else str(value)


def _int_index(value: Any, source: Path, row: int) -> int:
    if isinstance(value, bool) or _blank(value):
        raise InputError(f"{source}: row {row}: column 'index' must be an integer, got {value!r}")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, int):
        return value
    try:
        return int(str(value))
    except ValueError:
        raise InputError(f"{source}: row {row}: column 'index' must be an integer, got {value!r}") from None


def read_table_rows(path: Path) -> list[dict[str, Any]]:
    """Rows of a ``.tsv`` (or ``.csv``) / ``.xlsx`` file as dicts (pandas, as VLMEvalKit reads them)."""
    import pandas as pd

    if not path.is_file():
        raise InputError(f"{path}: file not found")
    if path.suffix.lower() not in (".tsv", ".csv", ".xlsx", ".xls"):
        raise InputError(
            f"{path}: unknown layout: expected a VLMEvalKit table (.tsv or .xlsx) or an lmms-eval .parquet file"
        )
    try:
        if path.suffix.lower() in (".xlsx", ".xls"):
            frame = pd.read_excel(path, dtype=str)
        else:
            frame = pd.read_csv(path, sep="\t" if path.suffix.lower() != ".csv" else ",", dtype=str)
    except (OSError, ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise InputError(f"{path}: not a readable table: {exc}") from None
    return frame.to_dict(orient="records")


def require_columns(
    names: list[str], source: Path, *, need_answer: bool, extra: tuple[str, ...] = ()
) -> None:
    """The columns a multiple-choice table must have."""
    needed = list(REQUIRED) + (["answer"] if need_answer else []) + list(extra)
    missing = [c for c in needed if c not in names]
    if missing:
        hint = (
            " (a test split has no answers: it is scored by the benchmark's server)"
            if missing == ["answer"]
            else ""
        )
        raise InputError(
            f"{source}: column(s) {', '.join(missing)} missing{hint}; found: {', '.join(map(str, names))}"
        )


def item_from_row(row: Mapping[str, Any], source: Path, number: int) -> MCItem:
    """One `MCItem` from a table row (`number` is the row's position, for messages)."""
    index = _int_index(row.get("index"), source, number)
    owner = f"{source}: index {index}"
    question = row.get("question")
    if _blank(question) or not isinstance(question, str):
        raise InputError(f"{owner}: column 'question' must be a non-empty string, got {question!r}")
    options = present_options(row)
    if len(options) < 2:
        raise InputError(f"{owner}: needs at least two options (columns A, B, ...), found {sorted(options)}")
    answer = None if _blank(row.get("answer")) else str(row.get("answer")).strip()
    if answer is not None and answer not in options:
        raise InputError(f"{owner}: answer {answer!r} is not one of the options {', '.join(options)}")
    return MCItem(
        index=index,
        question=question,
        options=options,
        answer=answer,
        hint=_text(row.get("hint")),
        category=_text(row.get("category")),
        l2_category=_text(row.get("l2-category", row.get("L2-category"))),
        split=_text(row.get("split")),
    )


def table_items(path: Path, *, need_answer: bool = True) -> list[MCItem]:
    """Every row of a VLMEvalKit TSV/xlsx table, with where its image is."""
    rows = read_table_rows(path)
    if not rows:
        raise InputError(f"{path}: the table has no rows")
    names = list(rows[0])
    require_columns(names, path, need_answer=need_answer)
    if "image" not in names and "image_path" not in names:
        raise InputError(
            f"{path}: no image column ('image' as base64 or 'image_path'); found: {', '.join(names)}"
        )
    images = {_int_index(r.get("index"), path, i): r for i, r in enumerate(rows)}
    out = []
    seen: set[int] = set()
    for number, row in enumerate(rows):
        item = item_from_row(row, path, number)
        if item.index in seen:
            raise InputError(f"{path}: index {item.index} occurs twice")
        seen.add(item.index)
        kind, ref = _image_of(row, images, path, item.index)
        out.append(MCItem(**{**item.__dict__, "image_ref": ref, "image_kind": kind}))
    return out


def _image_of(
    row: Mapping[str, Any], rows: Mapping[int, Mapping[str, Any]], path: Path, index: int
) -> tuple[str, Any]:
    if "image" in row and not _blank(row.get("image")):
        cell = str(row["image"])
        if len(cell) <= IMAGE_REF_MAX:  # the index of the row that holds the image
            ref = rows.get(_int_index(cell, path, index))
            if ref is None or _blank(ref.get("image")) or len(str(ref["image"])) <= IMAGE_REF_MAX:
                raise InputError(f"{path}: index {index}: 'image' refers to index {cell}, which has no image")
            cell = str(ref["image"])
        return "base64", cell
    if not _blank(row.get("image_path")):
        return "path", str(row["image_path"])
    raise InputError(f"{path}: index {index}: no image (column 'image' or 'image_path' is empty)")


def decode_base64_image(cell: str, source: Path, index: int) -> bytes:
    """The bytes of a base64 ``image`` cell."""
    try:
        return base64.b64decode(cell, validate=False)
    except (binascii.Error, ValueError) as exc:
        raise InputError(f"{source}: index {index}: column 'image' is not valid base64: {exc}") from None


def check_answers(items: list[MCItem], source: Path, *, optional: bool) -> bool:
    """Whether the items have answers: all of them (True) or, where `optional`, none (False: a test
    split, predicted and saved for the benchmark's server, not scored). A partly empty ``answer``
    column is an error naming the first row without one."""
    blank = [it.index for it in items if it.answer is None]
    if not blank:
        return True
    if optional and len(blank) == len(items):
        return False
    raise InputError(
        f"{source}: index {blank[0]}: column 'answer' is empty ({len(blank)} of {len(items)} rows)"
        + ("" if optional else "; this suite's data must have every answer")
    )
