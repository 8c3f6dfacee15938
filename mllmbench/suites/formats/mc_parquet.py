"""lmms-eval's parquet layouts of the multiple-choice benchmarks, read into `MCItem` rows.

Columns are those lmms-eval's task code reads (``lmms_eval/tasks/<task>/utils.py`` and the task
yaml); ``image`` is a ``datasets.Image`` struct (SEED-Bench: a list holding one).

=====================  ===================  =======  ================================================
suite                  dataset              split    columns (optional ones in brackets)
=====================  ===================  =======  ================================================
mmbench                lmms-lab/MMBench     dev,     index, question, A, B, [C, D, E], answer (null in
                       (``en/``, ``cn/``)   test     test), [hint, category, L2-category, split], image
seedbench              lmms-lab/SEED-Bench  test     question_id, question, choice_a..choice_d, answer,
                                                     data_type (only ``image`` rows are read), image
                                                     (list of one), [question_type_id]
scienceqa_img          lmms-lab/ScienceQA   test     question, choices (list), answer (int), image,
                       (``ScienceQA-IMG/``)          [hint, category, subject]; id: the row number
ai2d                   lmms-lab/ai2d        test     question, options (list), answer (the option's
                                                     number as a string), image; id: the row number
mmstar                 Lin-Chen/MMStar      val      index, question (the options inline:
                                                     ``Options: A: x, B: y, ...``), answer, image,
                                                     [category, l2_category]
=====================  ===================  =======  ================================================

The prompt is the same for every layout (`mc_prompt`), so a TSV copy and a parquet copy of one
benchmark give the same samples. Sample ids are the dataset's own (``index``, ``question_id``)
or, where it has none, the row number over the split (lmms-eval's ``doc_id``).
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from mllmbench.core.errors import InputError
from mllmbench.suites.formats.mc_table import MCItem, _blank, _int_index, _text, item_from_row

Converter = Callable[[Mapping[str, Any], Path, int], "MCItem | None"]


@dataclass(frozen=True)
class ParquetLayout:
    """Where an lmms-eval dataset keeps a split and how a row becomes an `MCItem`."""

    repo: str
    splits: tuple[str, ...]
    subdirs: tuple[str, ...]
    columns: tuple[str, ...]
    """Required columns besides ``image``."""
    convert: Converter


def _question(row: Mapping[str, Any], source: Path, owner: str) -> str:
    q = row.get("question")
    if not isinstance(q, str) or not q.strip():
        raise InputError(f"{source}: {owner}: column 'question' must be a non-empty string, got {q!r}")
    return q


def _listed_options(row: Mapping[str, Any], column: str, source: Path, owner: str) -> dict[str, str]:
    values = row.get(column)
    if not isinstance(values, list) or len(values) < 2:
        raise InputError(f"{source}: {owner}: column {column!r} must be a list of at least two options")
    return {string.ascii_uppercase[k]: str(v) for k, v in enumerate(values)}


def _numbered_answer(row: Mapping[str, Any], options: Mapping[str, str], source: Path, owner: str) -> str:
    value = row.get("answer")
    try:
        k = int(str(value).strip())
    except ValueError:
        k = -1
    letters = list(options)
    if isinstance(value, bool) or not 0 <= k < len(letters):
        raise InputError(
            f"{source}: {owner}: column 'answer' must be an option number 0..{len(letters) - 1}, got {value!r}"
        )
    return letters[k]


def mmbench_row(row: Mapping[str, Any], source: Path, number: int) -> MCItem:
    """lmms-lab/MMBench: the TSV's columns (``L2-category``)."""
    return item_from_row(row, source, number)


def seedbench_row(row: Mapping[str, Any], source: Path, number: int) -> MCItem | None:
    """lmms-lab/SEED-Bench: ``choice_a``..``choice_d``; video rows (``data_type`` != image) skipped."""
    if str(row.get("data_type") or "image") != "image":
        return None
    index = _int_index(row.get("question_id"), source, number)
    options = {k.upper(): str(row[f"choice_{k}"]) for k in "abcd" if not _blank(row.get(f"choice_{k}"))}
    return _checked(
        MCItem(
            index=index,
            question=_question(row, source, f"question_id {index}"),
            options=options,
            answer=_text(row.get("answer")).strip() or None,
            category=_text(row.get("question_type_id")),
        ),
        source,
    )


def scienceqa_row(row: Mapping[str, Any], source: Path, number: int) -> MCItem:
    """lmms-lab/ScienceQA (ScienceQA-IMG): ``choices`` list, ``answer`` its number."""
    owner = f"row {number}"
    options = _listed_options(row, "choices", source, owner)
    return MCItem(
        index=number,
        question=_question(row, source, owner),
        options=options,
        answer=_numbered_answer(row, options, source, owner),
        hint=_text(row.get("hint")),
        category=_text(row.get("category")),
        l2_category=_text(row.get("subject")),
    )


def ai2d_row(row: Mapping[str, Any], source: Path, number: int) -> MCItem:
    """lmms-lab/ai2d: ``options`` list, ``answer`` its number (a string)."""
    owner = f"row {number}"
    options = _listed_options(row, "options", source, owner)
    return MCItem(
        index=number,
        question=_question(row, source, owner),
        options=options,
        answer=_numbered_answer(row, options, source, owner),
    )


_MMSTAR_OPTIONS = re.compile(r"\s*Options:\s*(A:.*)$", re.DOTALL)
_MMSTAR_SPLIT = re.compile(r"(?:^|,\s*)([A-Z]):\s*")


def mmstar_options(question: str) -> tuple[str, dict[str, str]] | None:
    """(stem, options) of an MMStar question with its options inline; None when it has none.

    Example:
        >>> mmstar_options("Which is it?\\nOptions: A: a cat, B: a dog, C: 3, D: 4")
        ('Which is it?', {'A': 'a cat', 'B': 'a dog', 'C': '3', 'D': '4'})
    """
    m = _MMSTAR_OPTIONS.search(question)
    if not m:
        return None
    parts = _MMSTAR_SPLIT.split(m.group(1))
    letters, texts = parts[1::2], parts[2::2]
    if letters != list(string.ascii_uppercase[: len(letters)]) or len(letters) < 2:
        return None
    return question[: m.start()].strip(), {k: v.strip() for k, v in zip(letters, texts, strict=True)}


def mmstar_row(row: Mapping[str, Any], source: Path, number: int) -> MCItem:
    """Lin-Chen/MMStar: the options are parsed out of the question text."""
    index = _int_index(row.get("index"), source, number)
    owner = f"index {index}"
    parsed = mmstar_options(_question(row, source, owner))
    if parsed is None:
        raise InputError(
            f"{source}: {owner}: column 'question' has no inline option list ('Options: A: ..., B: ...')"
        )
    stem, options = parsed
    return _checked(
        MCItem(
            index=index,
            question=stem,
            options=options,
            answer=_text(row.get("answer")).strip() or None,
            category=_text(row.get("category")),
            l2_category=_text(row.get("l2_category")),
        ),
        source,
    )


def _checked(item: MCItem, source: Path) -> MCItem:
    if len(item.options) < 2:
        raise InputError(
            f"{source}: index {item.index}: needs at least two options, found {sorted(item.options)}"
        )
    if item.answer is not None and item.answer not in item.options:
        raise InputError(
            f"{source}: index {item.index}: answer {item.answer!r} is not one of the options "
            f"{', '.join(item.options)}"
        )
    return item


LAYOUTS: dict[str, ParquetLayout] = {
    "mmbench": ParquetLayout(
        "lmms-lab/MMBench",
        ("dev", "test"),
        ("en", "cn", "data", ""),
        ("index", "question", "A", "B"),
        mmbench_row,
    ),
    "seedbench": ParquetLayout(
        "lmms-lab/SEED-Bench",
        ("test",),
        ("data", ""),
        ("question_id", "question", "choice_a", "choice_b", "choice_c", "choice_d", "answer"),
        seedbench_row,
    ),
    "scienceqa_img": ParquetLayout(
        "lmms-lab/ScienceQA",
        ("test",),
        ("ScienceQA-IMG", "data", ""),
        ("question", "choices", "answer"),
        scienceqa_row,
    ),
    "ai2d": ParquetLayout(
        "lmms-lab/ai2d", ("test",), ("data", ""), ("question", "options", "answer"), ai2d_row
    ),
    "mmstar": ParquetLayout(
        "Lin-Chen/MMStar", ("val",), ("data", ""), ("index", "question", "answer"), mmstar_row
    ),
}
"""lmms-eval parquet layout by suite name."""


def parquet_items(rows: Any, layout: ParquetLayout) -> list[MCItem]:
    """`MCItem`s of a split's rows (images located later by row number, in ``image_ref``)."""
    out: list[MCItem] = []
    seen: set[int] = set()
    for source, number, row in rows:
        item = layout.convert(row, source, number)
        if item is None:
            continue
        if item.index in seen:
            raise InputError(f"{source}: index {item.index} occurs twice")
        seen.add(item.index)
        out.append(replace(item, image_ref=number, image_kind="parquet"))
    return out
