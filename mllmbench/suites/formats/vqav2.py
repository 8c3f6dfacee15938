"""Loaders for the official VQAv2 files: questions, annotations and results.

- questions: ``{"questions": [{"image_id", "question", "question_id"}], "data_subtype": ...}``
- annotations: ``{"annotations": [{"question_id", "image_id", "question_type", "answer_type",
  "multiple_choice_answer", "answers": [{"answer", "answer_confidence", "answer_id"} x 10]}]}``
- results: ``[{"question_id", "answer"}]``

Image file names come from, in this order: an explicit ``image_files`` mapping; an explicit
``image_pattern`` such as ``"COCO_val2014_{image_id:012d}.jpg"`` (fields: ``image_id`` and the
questions file's scalar top-level fields); a COCO-style ``"images": [{"id", "file_name"}]`` list
in either file (the Shapes layout); or, for real VQAv2, the COCO pattern built from the questions
file's ``data_subtype``. Names are refused if they escape the image directory.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mllmbench.core.errors import InputError
from mllmbench.core.jsonio import read_json
from mllmbench.suites.formats.common import (
    Id,
    check_id_coverage,
    require_id,
    require_list,
    require_object,
    require_str,
    resolve_image_path,
    type_name,
)

log = logging.getLogger(__name__)

VQAV2_IMAGE_PATTERN = "COCO_{data_subtype}_{image_id:012d}.jpg"
"""How VQAv2 names its COCO images, e.g. ``COCO_val2014_000000000042.jpg``."""


@dataclass(frozen=True)
class VQAAnswer:
    """One human answer."""

    answer: str
    answer_confidence: str | None = None
    """``yes``, ``maybe`` or ``no`` in VQAv2."""
    answer_id: int | None = None
    """1..10 in VQAv2; it makes each answer dict distinct in the reference's leave-one-out."""


@dataclass(frozen=True)
class VQAQuestion:
    """A question joined with its annotation."""

    question_id: Id
    image_id: Id
    question: str
    question_type: str
    answer_type: str
    answers: tuple[VQAAnswer, ...]
    multiple_choice_answer: str = ""
    image_file: str | None = None
    """The image's file name relative to the image directory, when it is known."""
    image_path: Path | None = None
    """``image_dir / image_file`` when an image directory was given."""

    @property
    def answer_texts(self) -> tuple[str, ...]:
        """The raw answer strings."""
        return tuple(a.answer for a in self.answers)

    @property
    def answer_keys(self) -> tuple[tuple[str | None, int | None], ...]:
        """The other fields of each answer dict, which the reference compares in its leave-one-out."""
        return tuple((a.answer_confidence, a.answer_id) for a in self.answers)


@dataclass(frozen=True)
class VQADataset:
    """Questions in the annotation file's order (the order the reference scores them in)."""

    questions: tuple[VQAQuestion, ...]
    questions_path: Path
    annotations_path: Path
    info: dict[str, Any] = field(default_factory=dict)
    """Top-level scalar fields of the questions file (``data_type``, ``data_subtype``, ...)."""

    @property
    def question_ids(self) -> tuple[Id, ...]:
        """All question ids, in order."""
        return tuple(q.question_id for q in self.questions)


def _parse_answers(raw: Any, path: Path, where: str) -> tuple[VQAAnswer, ...]:
    if not isinstance(raw, list) or not raw:
        raise InputError(f"{path}: {where}: 'answers' must be a non-empty JSON array, got {raw!r}")
    answers = []
    for k, item in enumerate(raw):
        here = f"{where}, answer {k}"
        item = require_object(item, path, here)
        text = require_str(item, "answer", path, here)
        confidence = item.get("answer_confidence")
        if confidence is not None and not isinstance(confidence, str):
            raise InputError(
                f"{path}: {here}: 'answer_confidence' must be a string, got {type_name(confidence)}"
            )
        answer_id = item.get("answer_id")
        if answer_id is not None and (not isinstance(answer_id, int) or isinstance(answer_id, bool)):
            raise InputError(f"{path}: {here}: 'answer_id' must be an integer, got {answer_id!r}")
        answers.append(VQAAnswer(text, confidence, answer_id))
    return tuple(answers)


def _read_questions(path: Path) -> tuple[dict[str, Any], dict[Id, dict[str, Any]]]:
    top = require_object(read_json(path, what="VQA questions file"), path, "the questions file")
    out: dict[Id, dict[str, Any]] = {}
    for i, raw in enumerate(require_list(top, "questions", path)):
        where = f"questions[{i}]"
        rec = require_object(raw, path, where)
        qid = require_id(rec, "question_id", path, where)
        where = f"question id {qid!r}"
        if qid in out:
            raise InputError(f"{path}: duplicate {where}")
        out[qid] = {
            "image_id": require_id(rec, "image_id", path, where),
            "question": require_str(rec, "question", path, where),
        }
    return top, out


def _read_annotations(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    top = require_object(read_json(path, what="VQA annotations file"), path, "the annotations file")
    seen: set[Id] = set()
    out = []
    for i, raw in enumerate(require_list(top, "annotations", path)):
        rec = require_object(raw, path, f"annotations[{i}]")
        qid = require_id(rec, "question_id", path, f"annotations[{i}]")
        where = f"annotation of question id {qid!r}"
        if qid in seen:
            raise InputError(f"{path}: duplicate {where}")
        seen.add(qid)
        out.append(
            {
                "question_id": qid,
                "image_id": require_id(rec, "image_id", path, where),
                "question_type": require_str(rec, "question_type", path, where),
                "answer_type": require_str(rec, "answer_type", path, where),
                "multiple_choice_answer": require_str(
                    rec, "multiple_choice_answer", path, where, optional=True
                ),
                "answers": _parse_answers(rec.get("answers"), path, where),
            }
        )
    return top, out


def _images_list(top: Mapping[str, Any], path: Path) -> dict[Id, str]:
    """A COCO-style ``images`` list: image id -> file name."""
    out: dict[Id, str] = {}
    for i, raw in enumerate(require_list(top, "images", path)):
        rec = require_object(raw, path, f"images[{i}]")
        image_id = require_id(rec, "id", path, f"images[{i}]")
        if image_id in out:
            raise InputError(f"{path}: duplicate image id {image_id!r} in 'images'")
        out[image_id] = require_str(rec, "file_name", path, f"image id {image_id!r}")
    return out


def _image_name_source(
    q_top: Mapping[str, Any],
    a_top: Mapping[str, Any],
    questions_path: Path,
    annotations_path: Path,
    image_files: Mapping[Id, str] | None,
    image_pattern: str | None,
) -> tuple[Mapping[Id, str] | None, str | None, Path]:
    """Decide where file names come from: (mapping, pattern, the file that defined them)."""
    if image_files is not None:
        return image_files, None, questions_path
    if image_pattern is not None:
        return None, image_pattern, questions_path
    for top, path in ((q_top, questions_path), (a_top, annotations_path)):
        if "images" in top:
            return _images_list(top, path), None, path
    if isinstance(q_top.get("data_subtype"), str):
        return None, VQAV2_IMAGE_PATTERN, questions_path
    return None, None, questions_path


def _format_name(pattern: str, image_id: Id, info: Mapping[str, Any], source: Path) -> str:
    try:
        return pattern.format(image_id=image_id, **{k: v for k, v in info.items() if k != "image_id"})
    except (KeyError, ValueError, IndexError) as exc:
        raise InputError(
            f"{source}: image file pattern {pattern!r} fails for image id {image_id!r}: {exc}"
        ) from None


def load_vqa(
    questions_path: str | Path,
    annotations_path: str | Path,
    *,
    image_dir: str | Path | None = None,
    image_files: Mapping[Id, str] | None = None,
    image_pattern: str | None = None,
    check_images: bool = False,
) -> VQADataset:
    """Read and cross-check a questions file and its annotations file.

    Every annotation must belong to a question of the same image and vice versa. With
    `image_dir`, every question gets an ``image_path`` inside it (`check_images` also requires
    the file to exist).
    """
    q_path, a_path = Path(questions_path), Path(annotations_path)
    q_top, questions = _read_questions(q_path)
    a_top, annotations = _read_annotations(a_path)
    info = {k: v for k, v in q_top.items() if isinstance(v, str | int | float) and not isinstance(v, bool)}
    names, pattern, names_source = _image_name_source(
        q_top, a_top, q_path, a_path, image_files, image_pattern
    )
    out = []
    for ann in annotations:
        qid = ann["question_id"]
        if qid not in questions:
            raise InputError(f"{a_path}: question id {qid!r} is not in the questions file {q_path}")
        q = questions[qid]
        if q["image_id"] != ann["image_id"]:
            raise InputError(
                f"{a_path}: question id {qid!r} has image id {ann['image_id']!r}, "
                f"but {q_path} says {q['image_id']!r}"
            )
        file_name: str | None = None
        if names is not None:
            file_name = names.get(q["image_id"])
        elif pattern is not None:
            file_name = _format_name(pattern, q["image_id"], info, names_source)
        image_path = None
        if image_dir is not None:
            if file_name is None:
                raise InputError(
                    f"{names_source}: no image file name for image id {q['image_id']!r} (question {qid!r})"
                )
            owner = f"image id {q['image_id']!r} (question {qid!r})"
            image_path = resolve_image_path(
                Path(image_dir), file_name, source=names_source, owner=owner, must_exist=check_images
            )
        out.append(
            VQAQuestion(
                question_id=qid,
                image_id=q["image_id"],
                question=q["question"],
                question_type=ann["question_type"],
                answer_type=ann["answer_type"],
                answers=ann["answers"],
                multiple_choice_answer=ann["multiple_choice_answer"],
                image_file=file_name,
                image_path=image_path,
            )
        )
    annotated = {a["question_id"] for a in annotations}
    unannotated = [qid for qid in questions if qid not in annotated]
    if unannotated:
        raise InputError(f"{q_path}: question id {unannotated[0]!r} has no annotation in {a_path}")
    if not out:
        raise InputError(f"{a_path}: no annotations")
    log.debug("read %d VQA questions from %s", len(out), q_path)
    return VQADataset(questions=tuple(out), questions_path=q_path, annotations_path=a_path, info=info)


def load_vqa_results(path: str | Path, expected_ids: Collection[Id]) -> dict[Id, str]:
    """Read a results file ``[{"question_id", "answer"}]`` covering exactly `expected_ids`.

    Empty and non-ASCII answers are valid. Extra fields are ignored.
    """
    p = Path(path)
    raw = read_json(p, what="VQA results file")
    if not isinstance(raw, list):
        raise InputError(
            f"{p}: a VQA results file must be a JSON array of {{question_id, answer}}, got {type_name(raw)}"
        )
    out: dict[Id, str] = {}
    for i, item in enumerate(raw):
        rec = require_object(item, p, f"result {i}")
        qid = require_id(rec, "question_id", p, f"result {i}")
        where = f"result for question id {qid!r}"
        answer = require_str(rec, "answer", p, where)
        if qid in out:
            raise InputError(f"{p}: duplicate result for question id {qid!r}")
        out[qid] = answer
    check_id_coverage(out.keys(), expected_ids, p, what="question")
    return out
