"""Loader for the official VizWiz-VQA annotation files (vizwiz.org, Annotations.zip).

``val.json`` is a JSON array of ``{"image": "VizWiz_val_00000000.jpg", "question",
"answers": [{"answer", "answer_confidence"} x 10], "answer_type", "answerable"}``. There is no
question id: the image file's stem (``VizWiz_val_00000000``) is one, as in lmms-eval's
``lmms-lab/VizWiz-VQA``. Unanswerable questions have the answer ``unanswerable``. A question
with an empty answer list is kept (lmms-eval scores it 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mllmbench.core.errors import InputError
from mllmbench.core.jsonio import read_json
from mllmbench.suites.formats.common import (
    require_object,
    require_str,
    resolve_image_path,
    type_name,
)


@dataclass(frozen=True)
class VizWizQuestion:
    """One VizWiz question."""

    question_id: str
    """The image file's stem."""
    image_file: str
    question: str
    answers: tuple[str, ...]
    answer_type: str = ""
    answerable: int | None = None
    image_path: Path | None = None


def load_vizwiz(path: str | Path, *, image_dir: str | Path | None = None) -> tuple[VizWizQuestion, ...]:
    """Read and validate a VizWiz annotation file."""
    p = Path(path)
    raw = read_json(p, what="VizWiz annotation file")
    if not isinstance(raw, list):
        raise InputError(f"{p}: a VizWiz annotation file must be a JSON array, got {type_name(raw)}")
    out = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        rec = require_object(item, p, f"item {i}")
        image = require_str(rec, "image", p, f"item {i}")
        qid = Path(image).stem
        where = f"image {image!r}"
        if not qid:
            raise InputError(f"{p}: item {i}: invalid image file name {image!r}")
        if qid in seen:
            raise InputError(f"{p}: duplicate {where}")
        seen.add(qid)
        answers_raw = rec.get("answers", [])
        if not isinstance(answers_raw, list):
            raise InputError(f"{p}: {where}: 'answers' must be a JSON array, got {type_name(answers_raw)}")
        answers = tuple(
            require_str(require_object(a, p, f"{where}, answer {k}"), "answer", p, f"{where}, answer {k}")
            for k, a in enumerate(answers_raw)
        )
        answerable = rec.get("answerable")
        if answerable is not None and (not isinstance(answerable, int) or isinstance(answerable, bool)):
            raise InputError(f"{p}: {where}: 'answerable' must be 0 or 1, got {answerable!r}")
        image_path = None
        if image_dir is not None:
            image_path = resolve_image_path(Path(image_dir), image, source=p, owner=where)
        out.append(
            VizWizQuestion(
                question_id=qid,
                image_file=image,
                question=require_str(rec, "question", p, where),
                answers=answers,
                answer_type=require_str(rec, "answer_type", p, where, optional=True),
                answerable=answerable,
                image_path=image_path,
            )
        )
    if not out:
        raise InputError(f"{p}: no questions")
    return tuple(out)
