"""VizWiz-VQA val, with unanswerable questions, scored as lmms-eval ``vizwiz_vqa_val``.

Official layout: ``val.json`` (``Annotations/val.json`` of Annotations.zip, vizwiz.org) and the
``val/`` image folder (val.zip). Parquet layout: lmms-lab/VizWiz-VQA ``val``. The question id
is the image file's stem (``VizWiz_val_00000000``) in both.

Prompt (lmms-eval): ``question.capitalize()`` + ``\\nWhen the provided information is
insufficient, respond with 'Unanswerable'.\\nAnswer the question using a single word or
phrase.`` Scoring: `EvalAIVQAAccuracy` (EvalAI processor on prediction and answers,
leave-one-out by index; 0 when a question has no answers), with a breakdown by answer type
(``unanswerable``, ``yes/no``, ``number``, ``other``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from mllmbench.core.types import Capability
from mllmbench.suites.base import Metric, Sample
from mllmbench.suites.benchmarks.common import BenchmarkSuite, DataFile, ParquetSource
from mllmbench.suites.formats.hf_parquet import ParquetSplit

VIZWIZ_PROMPT = (
    "{question}\nWhen the provided information is insufficient, respond with 'Unanswerable'."
    "\nAnswer the question using a single word or phrase."
)
"""Applied to ``question.capitalize()`` (lmms-eval ``vizwiz_vqa`` post_prompt)."""
VIZWIZ_DOWNLOAD = "the VizWiz-VQA download page (https://vizwiz.org/tasks-and-datasets/vqa/)"


def vizwiz_sample(
    question_id: str, question: str, answers: tuple[str, ...], answer_type: str, answerable: int | None
) -> Sample:
    """A VizWiz sample without its image path."""
    return Sample(
        sample_id=question_id,
        image_paths=(),
        text=VIZWIZ_PROMPT.format(question=question.capitalize()),
        references=answers,
        meta={
            "question_id": question_id,
            "question": question,
            "answer_type": answer_type,
            "answerable": answerable,
        },
    )


class VizWizSuite(BenchmarkSuite):
    """VizWiz-VQA val: photos taken by blind people, some questions unanswerable."""

    name = "vizwiz"
    version = "1"
    title = "VizWiz-VQA"
    description = "VizWiz-VQA val, accuracy as lmms-eval vizwiz_vqa_val, per answer type"
    requires = Capability.UNDERSTAND
    metric_names = ("vqa_accuracy",)
    official = (
        DataFile("val.json", f"{VIZWIZ_DOWNLOAD}, Annotations.zip", alternatives=("Annotations/val.json",)),
        DataFile("val/", f"{VIZWIZ_DOWNLOAD}, val.zip"),
    )
    parquet = ParquetSource(
        "lmms-lab/VizWiz-VQA",
        splits=("val",),
        columns=("question_id", "question", "answers", "image"),
        image_key="question_id",
    )
    prompt = VIZWIZ_PROMPT

    def official_samples(self) -> list[Sample]:
        """Questions in file order."""
        import dataclasses

        from mllmbench.suites.formats.vizwiz import load_vizwiz

        questions = load_vizwiz(
            self.official_path(self.official[0].path), image_dir=self.official_path(self.official[1].path)
        )
        return [
            dataclasses.replace(
                vizwiz_sample(q.question_id, q.question, q.answers, q.answer_type, q.answerable),
                image_paths=(str(q.image_path),),
            )
            for q in questions
        ]

    def parquet_samples(self, split: ParquetSplit) -> Iterator[tuple[Sample, Any]]:
        """One sample per row; ``category`` is taken as the answer type when present."""
        from mllmbench.suites.benchmarks.hf_parquet import answer_texts, optional_str, row_id
        from mllmbench.suites.formats.hf_parquet import require_cell

        assert self.parquet is not None
        names = split.require_columns(self.parquet.columns, self.parquet.repo)
        extra = [c for c in ("category", "answer_type") if c in names]
        columns = [c for c in self.parquet.columns if c != "image"] + extra
        for source, index, row in split.iter_rows(columns):
            qid = str(row_id(row, "question_id", source, index))
            owner = f"question id {qid!r}"
            answer_type = optional_str(row, "answer_type", source, owner) or optional_str(
                row, "category", source, owner
            )
            sample = vizwiz_sample(
                qid,
                require_cell(row, "question", str, source, owner),
                answer_texts(row, "answers", source, owner),
                answer_type,
                None,
            )
            yield sample, qid

    def metrics(self) -> list[Metric]:
        """EvalAI-processed accuracy; no answers scores 0."""
        from mllmbench.suites.metrics.evalai_vqa import EvalAIVQAAccuracy

        return [EvalAIVQAAccuracy(empty_answers="zero")]

    def scoring_info(self) -> dict[str, Any]:
        """Layout, prompt and scoring rule."""
        return {
            **super().scoring_info(),
            "question_preprocessing": "str.capitalize()",
            "metric": "vqa_accuracy (leave-one-out by answer index)",
            "answer_processing": "EvalAIAnswerProcessor() on prediction and every answer",
            "empty_answers": "score 0",
            "reference": "lmms-eval vizwiz_vqa_val (METRICS.md 1.3)",
        }
