"""Loader for the official GQA question files (questions1.2.zip, cs.stanford.edu/people/dorarad/gqa).

``testdev_balanced_questions.json`` is an object keyed by question id: ``{"201307251":
{"imageId": "n10987", "question", "answer", "fullAnswer", "isBalanced", "types":
{"structural", "semantic", "detailed"}, ...}}``. Images are ``{imageId}.jpg`` in ``images/``
(images.zip).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mllmbench.core.errors import InputError
from mllmbench.core.jsonio import read_json
from mllmbench.suites.formats.common import require_id, require_object, require_str, resolve_image_path

TYPE_KEYS = ("structural", "semantic", "detailed")


@dataclass(frozen=True)
class GQAQuestion:
    """One GQA question with its single answer and its type labels."""

    question_id: str
    image_id: str
    question: str
    answer: str
    full_answer: str = ""
    structural: str = ""
    semantic: str = ""
    detailed: str = ""
    image_path: Path | None = None


def question_types(value: Any, path: Path, where: str) -> dict[str, str]:
    """The ``types`` object: structural / semantic / detailed strings (each may be absent)."""
    if value is None:
        return {}
    types = require_object(value, path, f"{where}: 'types'")
    return {k: require_str(types, k, path, f"{where}: 'types'", optional=True) for k in TYPE_KEYS}


def load_gqa(path: str | Path, *, image_dir: str | Path | None = None) -> tuple[GQAQuestion, ...]:
    """Read and validate a GQA questions file, in the file's order."""
    p = Path(path)
    top = require_object(read_json(p, what="GQA questions file"), p, "a GQA questions file")
    out = []
    for qid, raw in top.items():
        where = f"question id {qid!r}"
        rec = require_object(raw, p, where)
        image_id = str(require_id(rec, "imageId", p, where))
        types = question_types(rec.get("types"), p, where)
        image_path = None
        if image_dir is not None:
            image_path = resolve_image_path(Path(image_dir), f"{image_id}.jpg", source=p, owner=where)
        out.append(
            GQAQuestion(
                question_id=str(qid),
                image_id=image_id,
                question=require_str(rec, "question", p, where),
                answer=require_str(rec, "answer", p, where),
                full_answer=require_str(rec, "fullAnswer", p, where, optional=True),
                image_path=image_path,
                **types,
            )
        )
    if not out:
        raise InputError(f"{p}: no questions")
    return tuple(out)
