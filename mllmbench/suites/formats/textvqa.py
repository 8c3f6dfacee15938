"""Loader for the official TextVQA files (textvqa.org/dataset).

- questions: ``TextVQA_0.5.1_val.json``: ``{"dataset_name": "textvqa", "data": [{"question_id",
  "image_id", "question", "answers": [10 strings], "question_tokens", "image_classes",
  "set_name", "flickr_original_url", ...}]}``
- OCR tokens (optional): ``TextVQA_Rosetta_OCR_v0.2_val.json``: ``{"data": [{"image_id",
  "ocr_tokens": [...], "ocr_info": [...]}]}``; an entry of the questions file may also carry its
  own ``ocr_tokens``, which then win.

Images are ``{image_id}.jpg`` in the image folder (``train_images/`` of train_val_images.zip,
which holds the val images too).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mllmbench.core.errors import InputError
from mllmbench.core.jsonio import read_json
from mllmbench.suites.formats.common import (
    Id,
    require_id,
    require_list,
    require_object,
    require_str,
    resolve_image_path,
)


@dataclass(frozen=True)
class TextVQAQuestion:
    """One TextVQA question with its answers and, when known, the OCR tokens of its image."""

    question_id: Id
    image_id: Id
    question: str
    answers: tuple[str, ...]
    ocr_tokens: tuple[str, ...] | None = None
    set_name: str = ""
    image_path: Path | None = None


def _strings(value: Any, path: Path, where: str, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(a, str) for a in value):
        raise InputError(f"{path}: {where}: {key!r} must be a JSON array of strings, got {value!r}")
    return tuple(value)


def load_ocr_tokens(path: str | Path) -> dict[Id, tuple[str, ...]]:
    """image id -> OCR tokens, from a Rosetta OCR file."""
    p = Path(path)
    top = require_object(read_json(p, what="TextVQA OCR file"), p, "a TextVQA OCR file")
    out: dict[Id, tuple[str, ...]] = {}
    for i, raw in enumerate(require_list(top, "data", p)):
        rec = require_object(raw, p, f"data[{i}]")
        image_id = require_id(rec, "image_id", p, f"data[{i}]")
        out[image_id] = _strings(rec.get("ocr_tokens"), p, f"image id {image_id!r}", "ocr_tokens")
    return out


def load_textvqa(
    path: str | Path, *, image_dir: str | Path | None = None, ocr_path: str | Path | None = None
) -> tuple[TextVQAQuestion, ...]:
    """Read and validate a TextVQA questions file; every question needs its answers."""
    p = Path(path)
    top = require_object(read_json(p, what="TextVQA file"), p, "a TextVQA file")
    ocr = load_ocr_tokens(ocr_path) if ocr_path is not None else {}
    out = []
    seen: set[Id] = set()
    for i, raw in enumerate(require_list(top, "data", p)):
        rec = require_object(raw, p, f"data[{i}]")
        qid = require_id(rec, "question_id", p, f"data[{i}]")
        where = f"question id {qid!r}"
        if qid in seen:
            raise InputError(f"{p}: duplicate {where}")
        seen.add(qid)
        image_id = require_id(rec, "image_id", p, where)
        question = require_str(rec, "question", p, where)
        if "answers" not in rec:
            raise InputError(
                f"{p}: {where} has no 'answers' (the test split has no public answers; use the val file)"
            )
        answers = _strings(rec["answers"], p, where, "answers")
        if not answers:
            raise InputError(f"{p}: {where}: 'answers' is empty")
        tokens = (
            _strings(rec["ocr_tokens"], p, where, "ocr_tokens") if "ocr_tokens" in rec else ocr.get(image_id)
        )
        image_path = None
        if image_dir is not None:
            image_path = resolve_image_path(
                Path(image_dir), f"{image_id}.jpg", source=p, owner=f"image id {image_id!r} ({where})"
            )
        out.append(
            TextVQAQuestion(
                question_id=qid,
                image_id=image_id,
                question=question,
                answers=answers,
                ocr_tokens=tokens,
                set_name=require_str(rec, "set_name", p, where, optional=True),
                image_path=image_path,
            )
        )
    if not out:
        raise InputError(f"{p}: no questions in 'data'")
    return tuple(out)
