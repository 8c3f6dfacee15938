"""TextVQA val (v0.5.1), OCR-free prompt, scored with the official TextVQA accuracy.

Official layout: ``TextVQA_0.5.1_val.json`` (textvqa.org/dataset) and the images in
``train_images/`` (train_val_images.zip holds train and val images); the Rosetta OCR tokens
``TextVQA_Rosetta_OCR_v0.2_val.json`` are read when present and kept in the sample log.
Parquet layout: lmms-lab/textvqa ``validation`` (with its ``ocr_tokens`` column).

Prompt (lmms-eval ``textvqa_val`` default, ``ocr: false``):
``question.capitalize()`` + ``\\nAnswer the question using a single word or phrase.``; Python's
``str.capitalize`` also lowercases the rest of the question, as in lmms-eval.
Scoring: `EvalAIVQAAccuracy` (EvalAI processor on prediction and answers, leave-one-out by
index), which equals MMF's ``TextVQAAccuracyEvaluator`` (METRICS.md §1.3).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from mllmbench.core.errors import InputError
from mllmbench.core.types import Capability
from mllmbench.suites.base import Metric, Sample
from mllmbench.suites.benchmarks.common import BenchmarkSuite, DataFile, ParquetSource
from mllmbench.suites.formats.common import Id
from mllmbench.suites.formats.hf_parquet import ParquetSplit

TEXTVQA_PROMPT = "{question}\nAnswer the question using a single word or phrase."
"""Applied to ``question.capitalize()``."""
TEXTVQA_DOWNLOAD = "the TextVQA download page (https://textvqa.org/dataset)"


def textvqa_sample(
    question_id: Id, image_id: Id, question: str, answers: tuple[str, ...], ocr_tokens: tuple[str, ...] | None
) -> Sample:
    """A TextVQA sample without its image path."""
    meta: dict[str, Any] = {"question_id": question_id, "image_id": image_id, "question": question}
    if ocr_tokens is not None:
        meta["ocr_tokens"] = list(ocr_tokens)
    return Sample(
        sample_id=str(question_id),
        image_paths=(),
        text=TEXTVQA_PROMPT.format(question=question.capitalize()),
        references=answers,
        meta=meta,
    )


class TextVQASuite(BenchmarkSuite):
    """TextVQA val: questions that need reading text in the image, 10 answers each."""

    name = "textvqa"
    version = "1"
    title = "TextVQA"
    description = "TextVQA val, OCR-free prompt, official TextVQA accuracy (as lmms-eval textvqa_val)"
    requires = Capability.UNDERSTAND
    metric_names = ("vqa_accuracy",)
    official = (
        DataFile("TextVQA_0.5.1_val.json", f"{TEXTVQA_DOWNLOAD}, 'Validation set'"),
        DataFile("train_images/", f"{TEXTVQA_DOWNLOAD}, train_val_images.zip"),
        DataFile(
            "TextVQA_Rosetta_OCR_v0.2_val.json", f"{TEXTVQA_DOWNLOAD}, 'Rosetta OCR tokens'", optional=True
        ),
    )
    parquet = ParquetSource(
        "lmms-lab/textvqa",
        splits=("validation",),
        columns=("question_id", "question", "image_id", "answers", "image"),
        image_key="image_id",
    )
    prompt = TEXTVQA_PROMPT

    def official_samples(self) -> list[Sample]:
        """Questions in file order."""
        import dataclasses

        from mllmbench.suites.formats.textvqa import load_textvqa

        _, present, _ = self.layout()
        questions = load_textvqa(
            self.official_path(self.official[0].path),
            image_dir=self.official_path(self.official[1].path),
            ocr_path=present.get(self.official[2].path),
        )
        return [
            dataclasses.replace(
                textvqa_sample(q.question_id, q.image_id, q.question, q.answers, q.ocr_tokens),
                image_paths=(str(q.image_path),),
            )
            for q in questions
        ]

    def parquet_samples(self, split: ParquetSplit) -> Iterator[tuple[Sample, Any]]:
        """One sample per row; the image is cached by image id."""
        from mllmbench.suites.benchmarks.hf_parquet import answer_texts, row_id
        from mllmbench.suites.formats.hf_parquet import require_cell

        assert self.parquet is not None
        names = split.require_columns(self.parquet.columns, self.parquet.repo)
        columns = [c for c in self.parquet.columns if c != "image"] + (
            ["ocr_tokens"] if "ocr_tokens" in names else []
        )
        for source, index, row in split.iter_rows(columns):
            qid = row_id(row, "question_id", source, index)
            owner = f"question id {qid!r}"
            image_id = row_id(row, "image_id", source, index)
            question = require_cell(row, "question", str, source, owner)
            answers = answer_texts(row, "answers", source, owner)
            if not answers:
                raise InputError(f"{source}: {owner}: 'answers' is empty (is this the test split?)")
            ocr = (
                tuple(answer_texts(row, "ocr_tokens", source, owner))
                if row.get("ocr_tokens") is not None
                else None
            )
            yield textvqa_sample(qid, image_id, question, answers, ocr), image_id

    def metrics(self) -> list[Metric]:
        """EvalAI-processed accuracy; every question must have answers."""
        from mllmbench.suites.metrics.evalai_vqa import EvalAIVQAAccuracy

        return [EvalAIVQAAccuracy(empty_answers="error")]

    def scoring_info(self) -> dict[str, Any]:
        """Layout, prompt and scoring rule."""
        return {
            **super().scoring_info(),
            "question_preprocessing": "str.capitalize()",
            "ocr_tokens_in_prompt": False,
            "metric": "vqa_accuracy (leave-one-out by answer index)",
            "answer_processing": "EvalAIAnswerProcessor() on prediction and every answer",
            "reference": "lmms-eval textvqa_val = MMF TextVQAAccuracyEvaluator (METRICS.md 1.3)",
        }
