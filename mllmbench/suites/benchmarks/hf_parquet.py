"""Rows of lmms-eval's Hugging Face datasets (parquet layout) turned into benchmark records.

Assumed layouts (from lmms-eval's task yaml and ``utils.py`` files, which name the columns they
read; the repositories themselves could not be opened offline, so columns lmms-eval does not
read are treated as optional). Files are the Hub's ``{split}-NNNNN-of-MMMMM.parquet`` shards,
under ``data/`` unless said otherwise; ``image`` columns are ``datasets.Image`` structs
``{bytes, path}``.

============================  ==========  ==================================================
dataset                       split       columns read (optional ones in brackets)
============================  ==========  ==================================================
lmms-lab/VQAv2                validation  question_id, question, image_id, image, answers
                                          (list of {answer, answer_confidence, answer_id}),
                                          [question_type, answer_type, multiple_choice_answer]
lmms-lab/LMMs-Eval-Lite       lite        the VQAv2 columns, in ``vqav2_val/`` (pass that
 (vqav2_val)                              folder as --data)
lmms-lab/textvqa              validation  question_id, question, image_id, image, answers
                                          (list of str), [ocr_tokens, set_name]
lmms-lab/VizWiz-VQA           val         question_id (``VizWiz_val_00000000``), question,
                                          image, answers (list of str), [category]
lmms-lab/GQA                  testdev     ``testdev_balanced_instructions/``: id, imageId,
                                          question, answer, [fullAnswer, types];
                                          ``testdev_balanced_images/``: id, image
lmms-lab/OK-VQA               val2014     question_id, question, image, answers (list of str),
                                          [question_type, answer_type, image_id]
yerevann/coco-karpathy        test        filename, filepath, sentences (list of str),
                                          [cocoid]; no images: COCO ``val2014/`` beside them
lmms-lab/COCO-Caption2017     val         question_id (the image file name), image, answer
                                          (list of str), [id, file_name]
lmms-lab/NoCaps               validation  image_id, image, annotations_captions (list of str),
                                          [image_file_name, image_domain or domain]
lmms-lab/flickr30k            test        img_id, image, caption (list of str), [filename]
============================  ==========  ==================================================

Answers given as structs are read through their ``answer`` field, so either form works where
lmms-eval's code would accept it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mllmbench.core.errors import InputError
from mllmbench.suites.formats.common import Id, is_id, type_name
from mllmbench.suites.formats.hf_parquet import require_cell
from mllmbench.suites.formats.vqav2 import VQAAnswer, VQAQuestion


def row_id(row: Mapping[str, Any], column: str, source: Path, index: int) -> Id:
    """``row[column]`` as an id (integer or non-empty string)."""
    value: Id | None = row.get(column)
    if value is None or not is_id(value):
        raise InputError(
            f"{source}: row {index}: {column!r} must be an integer or a non-empty string, got {value!r}"
        )
    return value


def answer_texts(row: Mapping[str, Any], column: str, source: Path, owner: str) -> tuple[str, ...]:
    """A list column of answers or captions: strings, or structs with an ``answer`` field."""
    items = require_cell(row, column, list, source, owner)
    out = []
    for k, item in enumerate(items):
        if isinstance(item, dict):
            item = item.get("answer")
        if not isinstance(item, str):
            raise InputError(f"{source}: {owner}: {column}[{k}] must be a string, got {type_name(item)}")
        out.append(item)
    return tuple(out)


def optional_str(row: Mapping[str, Any], column: str, source: Path, owner: str) -> str:
    """A string column that may be absent or null ("" then)."""
    value = row.get(column)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InputError(f"{source}: {owner}: column {column!r} must be a string, got {type_name(value)}")
    return value


def vqa_question(row: Mapping[str, Any], source: Path, index: int) -> VQAQuestion:
    """A VQAv2-style row (lmms-lab/VQAv2, lmms-lab/OK-VQA) as a `VQAQuestion`.

    Struct answers keep their ``answer_confidence`` and ``answer_id`` (the reference's
    leave-one-out compares whole answer dicts).
    """
    qid = row_id(row, "question_id", source, index)
    owner = f"question id {qid!r}"
    items = require_cell(row, "answers", list, source, owner)
    if not items:
        raise InputError(f"{source}: {owner}: 'answers' is empty")
    answers = []
    for k, item in enumerate(items):
        if isinstance(item, str):
            answers.append(VQAAnswer(item))
        elif isinstance(item, dict) and isinstance(item.get("answer"), str):
            conf, aid = item.get("answer_confidence"), item.get("answer_id")
            answers.append(
                VQAAnswer(
                    item["answer"],
                    conf if isinstance(conf, str) else None,
                    aid if isinstance(aid, int) else None,
                )
            )
        else:
            raise InputError(f"{source}: {owner}: answers[{k}] must be a string or a struct with 'answer'")
    raw_image_id = row.get("image_id")
    image_id: Id = raw_image_id if raw_image_id is not None and is_id(raw_image_id) else qid
    return VQAQuestion(
        question_id=qid,
        image_id=image_id,
        question=require_cell(row, "question", str, source, owner),
        question_type=optional_str(row, "question_type", source, owner),
        answer_type=optional_str(row, "answer_type", source, owner),
        answers=tuple(answers),
        multiple_choice_answer=optional_str(row, "multiple_choice_answer", source, owner),
    )
