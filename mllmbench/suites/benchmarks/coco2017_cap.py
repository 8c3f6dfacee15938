"""COCO captions val2017 (5,000 images), as lmms-eval ``coco2017_cap_val``.

Official layout: ``captions_val2017.json`` (or ``annotations/captions_val2017.json``, from
annotations_trainval2017.zip) beside the ``val2017/`` image folder (cocodataset.org). Parquet
layout: lmms-lab/COCO-Caption2017 ``val``, whose ``question_id`` is the image file name.

Prompt: ``Provide a one-sentence caption for the provided image.`` (lmms-eval ``coco_cap``).
Scoring: the COCO caption metrics.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from mllmbench.core.errors import InputError
from mllmbench.suites.base import Sample
from mllmbench.suites.benchmarks.captioning import CaptionBenchmarkSuite, caption_sample, coco_image_sample
from mllmbench.suites.benchmarks.common import DataFile, ParquetSource
from mllmbench.suites.formats.hf_parquet import ParquetSplit

COCO_DOWNLOAD = "the COCO download page (https://cocodataset.org/#download)"


class Coco2017CaptionSuite(CaptionBenchmarkSuite):
    """COCO val2017 captions: 5 references per image."""

    name = "coco2017_cap"
    version = "1"
    title = "COCO val2017 captions"
    description = "COCO val2017 captions, COCO caption metrics (as lmms-eval coco2017_cap_val)"
    official = (
        DataFile(
            "captions_val2017.json",
            f"{COCO_DOWNLOAD}, annotations_trainval2017.zip",
            alternatives=("annotations/captions_val2017.json",),
        ),
        DataFile("val2017/", f"{COCO_DOWNLOAD}, val2017.zip"),
    )
    parquet = ParquetSource(
        "lmms-lab/COCO-Caption2017",
        splits=("val",),
        columns=("question_id", "answer", "image"),
        image_key="question_id",
    )
    reference = "lmms-eval coco2017_cap_val"

    def official_samples(self) -> list[Sample]:
        """Images with references, in the order of the ``images`` list."""
        from mllmbench.suites.formats.coco_captions import load_coco_captions

        data = load_coco_captions(
            self.official_path(self.official[0].path), image_dir=self.official_path(self.official[1].path)
        )
        return [coco_image_sample(im, self.prompt) for im in data.images]

    def parquet_samples(self, split: ParquetSplit) -> Iterator[tuple[Sample, Any]]:
        """One sample per row; the image id comes from the file name in ``question_id``."""
        from mllmbench.suites.benchmarks.hf_parquet import answer_texts
        from mllmbench.suites.formats.hf_parquet import require_cell

        assert self.parquet is not None
        split.require_columns(self.parquet.columns, self.parquet.repo)
        for source, index, row in split.iter_rows(["question_id", "answer"]):
            file_name = require_cell(row, "question_id", str, source, f"row {index}")
            stem = file_name.split("_")[-1].split(".")[0]
            if not stem.isdigit():
                raise InputError(
                    f"{source}: row {index}: question_id {file_name!r} is not a COCO image file name"
                )
            image_id = int(stem)
            refs = answer_texts(row, "answer", source, f"image id {image_id}")
            yield caption_sample(image_id, refs, self.prompt, file_name=file_name), file_name
