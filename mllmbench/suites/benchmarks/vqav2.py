"""VQAv2 (val2014, or a lite subset by question-id list), scored as lmms-eval ``vqav2_val``.

Official layout: ``v2_OpenEnded_mscoco_val2014_questions.json`` and
``v2_mscoco_val2014_annotations.json`` (visualqa.org/download.html) beside the COCO
``val2014/`` image folder. Parquet layout: lmms-lab/VQAv2 ``validation`` (or the ``lite``
split of lmms-lab/LMMs-Eval-Lite ``vqav2_val``). For a lite subset of the official files, pass
a question-id list file as ``--data``.

Prompt: ``{question}\\nAnswer the question using a single word or phrase.`` (LLaVA-1.5 and
lmms-eval). Scoring: `VQAAccuracy` with the ``lmms_eval`` variant (METRICS.md §1.3): the
prediction and the 10 answers are always normalised, then the official leave-one-out over
answer dicts; breakdown by answer type.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from mllmbench.core.types import Capability
from mllmbench.suites.base import Metric, Sample
from mllmbench.suites.benchmarks.common import BenchmarkSuite, DataFile, ParquetSource, vqa_question_sample
from mllmbench.suites.formats.hf_parquet import ParquetSplit
from mllmbench.suites.vqa_suite import VQA_PROMPT

VQA_DOWNLOAD = "the VQAv2 download page (https://visualqa.org/download.html)"
COCO_VAL2014 = "COCO 2014 val images (val2014.zip, https://cocodataset.org/#download)"
COCO_VAL2014_PATTERN = "COCO_val2014_{image_id:012d}.jpg"


class VQAv2Suite(BenchmarkSuite):
    """VQAv2 val: open-ended answers, 10 human answers per question."""

    name = "vqav2"
    version = "1"
    title = "VQAv2"
    description = "VQAv2 val (or a lite subset), VQA accuracy as lmms-eval vqav2_val"
    requires = Capability.UNDERSTAND
    metric_names = ("vqa_accuracy",)
    official = (
        DataFile(
            "v2_OpenEnded_mscoco_val2014_questions.json",
            f"{VQA_DOWNLOAD}, 'Validation questions' (v2_Questions_Val_mscoco.zip)",
        ),
        DataFile(
            "v2_mscoco_val2014_annotations.json",
            f"{VQA_DOWNLOAD}, 'Validation annotations' (v2_Annotations_Val_mscoco.zip)",
        ),
        DataFile("val2014/", COCO_VAL2014),
    )
    parquet = ParquetSource(
        "lmms-lab/VQAv2",
        splits=("validation", "lite"),
        columns=("question_id", "question", "image_id", "answers", "image"),
        image_key="image_id",
    )
    prompt = VQA_PROMPT
    scoring_variant = "lmms_eval"

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
        """One sample per row; the image is cached by image id."""
        from mllmbench.suites.benchmarks.hf_parquet import vqa_question

        assert self.parquet is not None
        names = split.require_columns(self.parquet.columns, self.parquet.repo)
        optional = [c for c in ("question_type", "answer_type", "multiple_choice_answer") if c in names]
        columns = [c for c in self.parquet.columns if c != "image"] + optional
        for source, index, row in split.iter_rows(columns):
            q = vqa_question(row, source, index)
            yield vqa_question_sample(q, self.prompt.format(question=q.question)), q.image_id

    def metrics(self) -> list[Metric]:
        """VQA accuracy, lmms-eval variant."""
        from mllmbench.suites.metrics.vqa import VQAAccuracy

        return [VQAAccuracy(self.scoring_variant)]

    def scoring_info(self) -> dict[str, Any]:
        """Layout, prompt and the VQA variant."""
        return {
            **super().scoring_info(),
            "metric": "vqa_accuracy (10-answer leave-one-out over answer dicts)",
            "vqa_variant": self.scoring_variant,
            "answer_processing": "prediction and answers: whitespace, processPunctuation, processDigitArticle",
            "reference": "lmms-eval vqav2_val (METRICS.md 1.3)",
        }
