"""GQA testdev-balanced, scored with lmms-eval's exact match.

Official layout: ``testdev_balanced_questions.json`` (questions1.2.zip) and the ``images/``
folder (images.zip), both from cs.stanford.edu/people/dorarad/gqa/download.html. Parquet
layout: lmms-lab/GQA, its two configs side by side as on the Hub:
``testdev_balanced_instructions/testdev-*.parquet`` (the questions) and
``testdev_balanced_images/testdev-*.parquet`` (``id``, ``image``), joined on ``imageId`` as
lmms-eval's ``gqa_process_docs`` does.

Prompt (lmms-eval ``gqa`` default and LLaVA-1.5): ``{question}\\nAnswer the question using a
single word or phrase.`` Scoring: `ExactMatch` with ``ignore_case`` and ``ignore_punctuation``
(METRICS.md §1.3), broken down by the structural question type (query, verify, logical,
choose, compare).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from mllmbench.core.errors import InputError
from mllmbench.core.types import Capability
from mllmbench.suites.base import Metric, Sample
from mllmbench.suites.benchmarks.common import BenchmarkSuite, DataFile, ParquetSource
from mllmbench.suites.formats.hf_parquet import ParquetSplit

GQA_PROMPT = "{question}\nAnswer the question using a single word or phrase."
GQA_DOWNLOAD = "the GQA download page (https://cs.stanford.edu/people/dorarad/gqa/download.html)"
IMAGES_CONFIG = "testdev_balanced_images"


def gqa_sample(
    question_id: str, image_id: str, question: str, answer: str, types: dict[str, str], full_answer: str
) -> Sample:
    """A GQA sample without its image path."""
    return Sample(
        sample_id=question_id,
        image_paths=(),
        text=GQA_PROMPT.format(question=question),
        references=(answer,),
        meta={
            "question_id": question_id,
            "image_id": image_id,
            "question": question,
            "full_answer": full_answer,
            **{k: types.get(k, "") for k in ("structural", "semantic", "detailed")},
        },
    )


class GQASuite(BenchmarkSuite):
    """GQA testdev-balanced: compositional questions on Visual Genome images, one answer each."""

    name = "gqa"
    version = "1"
    title = "GQA"
    description = "GQA testdev-balanced, exact match as lmms-eval gqa, per structural type"
    requires = Capability.UNDERSTAND
    metric_names = ("exact_match",)
    official = (
        DataFile(
            "testdev_balanced_questions.json",
            f"{GQA_DOWNLOAD}, questions1.2.zip",
            alternatives=("questions1.2/testdev_balanced_questions.json",),
        ),
        DataFile("images/", f"{GQA_DOWNLOAD}, images.zip"),
    )
    parquet = ParquetSource(
        "lmms-lab/GQA",
        splits=("testdev",),
        columns=("id", "imageId", "question", "answer"),
        image_key="id",
        subdirs=("testdev_balanced_instructions",),
    )
    prompt = GQA_PROMPT

    def official_samples(self) -> list[Sample]:
        """Questions in file order."""
        import dataclasses

        from mllmbench.suites.formats.gqa import load_gqa

        questions = load_gqa(
            self.official_path(self.official[0].path), image_dir=self.official_path(self.official[1].path)
        )
        return [
            dataclasses.replace(
                gqa_sample(
                    q.question_id,
                    q.image_id,
                    q.question,
                    q.answer,
                    {"structural": q.structural, "semantic": q.semantic, "detailed": q.detailed},
                    q.full_answer,
                ),
                image_paths=(str(q.image_path),),
            )
            for q in questions
        ]

    def parquet_samples(self, split: ParquetSplit) -> Iterator[tuple[Sample, Any]]:
        """One sample per instruction row; the image key is its ``imageId``."""
        from mllmbench.suites.benchmarks.hf_parquet import optional_str, row_id
        from mllmbench.suites.formats.gqa import question_types
        from mllmbench.suites.formats.hf_parquet import require_cell

        assert self.parquet is not None
        names = split.require_columns(self.parquet.columns, self.parquet.repo)
        columns = list(self.parquet.columns) + [c for c in ("fullAnswer", "types") if c in names]
        for source, index, row in split.iter_rows(columns):
            qid = str(row_id(row, "id", source, index))
            owner = f"question id {qid!r}"
            image_id = str(row_id(row, "imageId", source, index))
            sample = gqa_sample(
                qid,
                image_id,
                require_cell(row, "question", str, source, owner),
                require_cell(row, "answer", str, source, owner),
                question_types(row.get("types"), source, owner),
                optional_str(row, "fullAnswer", source, owner),
            )
            yield sample, image_id

    def parquet_image_source(self, split: ParquetSplit) -> tuple[ParquetSplit, str | None]:
        """The ``testdev_balanced_images`` config beside the instructions, keyed by ``id``."""
        from mllmbench.suites.formats.hf_parquet import find_split

        images = find_split(self.data_dir, ("testdev",), (IMAGES_CONFIG,))
        if images is None:
            raise InputError(
                f"suite 'gqa': {self.data_dir} has the lmms-lab/GQA questions but not their images: "
                f"expected {IMAGES_CONFIG}/testdev-*.parquet from the same Hugging Face dataset"
            )
        images.require_columns(("id", "image"), "lmms-lab/GQA (testdev_balanced_images)")
        return images, "id"

    def metrics(self) -> list[Metric]:
        """Exact match, lowercased and without punctuation, per structural type."""
        from mllmbench.suites.metrics.exact_match import ExactMatch

        return [ExactMatch(ignore_case=True, ignore_punctuation=True, breakdown="structural")]

    def extract_answer(self, output: str) -> str:
        """The stripped output (lmms-eval strips every generation)."""
        return output.strip()

    def scoring_info(self) -> dict[str, Any]:
        """Layout, prompt and scoring rule."""
        return {
            **super().scoring_info(),
            "metric": "exact_match (ignore_case, ignore_punctuation: string.punctuation deleted)",
            "breakdown": "types.structural",
            "reference": "lmms-eval gqa (METRICS.md 1.3)",
        }
