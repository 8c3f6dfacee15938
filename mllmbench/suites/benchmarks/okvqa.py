"""OK-VQA (val2014), scored as lmms-eval ``ok_vqa_val2014``.

Official layout: ``OpenEnded_mscoco_val2014_questions.json`` and
``mscoco_val2014_annotations.json`` (okvqa.allenai.org/download.html, VQAv2 format) beside the
COCO ``val2014/`` folder. Parquet layout: lmms-lab/OK-VQA ``val2014``.

lmms-eval scores OK-VQA like TextVQA and VizWiz (METRICS.md §1.3): `EvalAIVQAAccuracy`, the
full EvalAI answer processor on the prediction and on every answer, leave-one-out by index,
0 for a question without answers. Its prompt is the one lmms-eval's OK-VQA template inherited
from VizWiz, kept verbatim so numbers stay comparable.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from mllmbench.core.types import Capability
from mllmbench.suites.base import Metric, Sample
from mllmbench.suites.benchmarks.common import BenchmarkSuite, DataFile, ParquetSource, vqa_question_sample
from mllmbench.suites.benchmarks.vqav2 import COCO_VAL2014, COCO_VAL2014_PATTERN
from mllmbench.suites.formats.hf_parquet import ParquetSplit

OKVQA_PROMPT = (
    "{question}\nWhen the provided information is insufficient, respond with 'Unanswerable'."
    "\nAnswer the question using a single word or phrase."
)
"""lmms-eval ``ok_vqa`` ``post_prompt`` after the question."""
OKVQA_DOWNLOAD = "the OK-VQA download page (https://okvqa.allenai.org/download.html)"


class OKVQASuite(BenchmarkSuite):
    """OK-VQA val: outside-knowledge questions on COCO images, 10 answers each."""

    name = "okvqa"
    version = "1"
    title = "OK-VQA"
    description = "OK-VQA val2014, accuracy as lmms-eval ok_vqa (EvalAI processor, leave-one-out)"
    requires = Capability.UNDERSTAND
    metric_names = ("vqa_accuracy",)
    official = (
        DataFile("OpenEnded_mscoco_val2014_questions.json", f"{OKVQA_DOWNLOAD}, 'Testing questions'"),
        DataFile("mscoco_val2014_annotations.json", f"{OKVQA_DOWNLOAD}, 'Testing annotations'"),
        DataFile("val2014/", COCO_VAL2014),
    )
    parquet = ParquetSource(
        "lmms-lab/OK-VQA",
        splits=("val2014",),
        columns=("question_id", "question", "answers", "image"),
        image_key="question_id",
    )
    prompt = OKVQA_PROMPT

    def official_samples(self) -> list[Sample]:
        """Questions in annotation order."""
        from mllmbench.suites.formats.vqav2 import load_vqa

        data = load_vqa(
            self.official_path(self.official[0].path),
            self.official_path(self.official[1].path),
            image_dir=self.official_path(self.official[2].path),
            image_pattern=COCO_VAL2014_PATTERN,
        )
        return [vqa_question_sample(q, self.prompt.format(question=q.question)) for q in data.questions]

    def parquet_samples(self, split: ParquetSplit) -> Iterator[tuple[Sample, Any]]:
        """One sample per row; the image is cached by question id."""
        from mllmbench.suites.benchmarks.hf_parquet import vqa_question

        assert self.parquet is not None
        names = split.require_columns(self.parquet.columns, self.parquet.repo)
        optional = [c for c in ("question_type", "answer_type", "image_id") if c in names]
        columns = [c for c in self.parquet.columns if c != "image"] + optional
        for source, index, row in split.iter_rows(columns):
            q = vqa_question(row, source, index)
            yield vqa_question_sample(q, self.prompt.format(question=q.question)), q.question_id

    def metrics(self) -> list[Metric]:
        """EvalAI-processed accuracy; a question without answers scores 0."""
        from mllmbench.suites.metrics.evalai_vqa import EvalAIVQAAccuracy

        return [EvalAIVQAAccuracy(empty_answers="zero")]

    def scoring_info(self) -> dict[str, Any]:
        """Layout, prompt and scoring rule."""
        return {
            **super().scoring_info(),
            "metric": "vqa_accuracy (leave-one-out by answer index)",
            "answer_processing": "EvalAIAnswerProcessor() on prediction and every answer",
            "empty_answers": "score 0",
            "reference": "lmms-eval ok_vqa_val2014 (METRICS.md 1.3, as textvqa/vizwiz_vqa)",
        }
