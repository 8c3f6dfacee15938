"""COCO captions, Karpathy test split (5,000 val2014 images), as lmms-eval ``coco_karpathy_test``.

Official layout: Karpathy's ``dataset_coco.json`` (caption_datasets.zip) beside the COCO
``val2014/`` folder; the images of split ``test`` are ``<filepath>/<filename>`` under the data
directory. Parquet layout: yerevann/coco-karpathy ``test`` (what lmms-eval reads; it holds
image URLs, not images), also with the local ``val2014/`` folder.

Prompt: lmms-eval's ``coco_karpathy_test`` wording ``Describe the image briefly.`` (its other
COCO tasks say ``Provide a one-sentence caption for the provided image.``). Scoring: the COCO
caption metrics on the raw ``sentences`` (5 per image).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

from mllmbench.core.errors import InputError
from mllmbench.suites.base import Sample
from mllmbench.suites.benchmarks.captioning import CaptionBenchmarkSuite, caption_sample, coco_image_sample
from mllmbench.suites.benchmarks.common import DataFile, ParquetSource
from mllmbench.suites.benchmarks.vqav2 import COCO_VAL2014
from mllmbench.suites.formats.common import resolve_image_path
from mllmbench.suites.formats.hf_parquet import ParquetSplit

KARPATHY_SPLITS = "Karpathy's caption_datasets.zip (https://cs.stanford.edu/people/karpathy/deepimagesent/)"
KARPATHY_PROMPT = "Describe the image briefly."
"""lmms-eval ``coco_karpathy_test`` ``doc_to_text``."""


class CocoKarpathySuite(CaptionBenchmarkSuite):
    """COCO Karpathy test: 5,000 images, 5 reference captions each."""

    name = "coco_karpathy"
    version = "1"
    title = "COCO Karpathy test"
    description = "COCO captions, Karpathy test split, COCO caption metrics (as lmms-eval coco_karpathy_test)"
    official = (
        DataFile("dataset_coco.json", KARPATHY_SPLITS),
        DataFile("val2014/", COCO_VAL2014),
    )
    parquet = ParquetSource(
        "yerevann/coco-karpathy", splits=("test",), columns=("filename", "filepath", "sentences")
    )
    prompt = KARPATHY_PROMPT
    split = "test"
    reference = "lmms-eval coco_karpathy_test"

    def official_samples(self) -> list[Sample]:
        """The images of the test split in file order."""
        from mllmbench.suites.formats.karpathy import load_karpathy

        self.official_path(self.official[1].path)  # the image folder must be there
        data = load_karpathy(
            self.official_path(self.official[0].path), split=self.split, image_root=self.data_dir
        )
        return [coco_image_sample(im, self.prompt) for im in data.images]

    def parquet_samples(self, split: ParquetSplit) -> Iterator[tuple[Sample, Any]]:
        """Rows with their local COCO image (the parquet files hold only URLs)."""
        from mllmbench.suites.benchmarks.hf_parquet import answer_texts
        from mllmbench.suites.formats.hf_parquet import require_cell

        assert self.parquet is not None
        folder = self.official[1]
        if folder.find(self.data_dir) is None:
            raise InputError(
                f"suite {self.name!r}: the {self.parquet.repo} parquet files hold image URLs only; "
                f"{self.data_dir} also needs {folder.describe()}"
            )
        names = split.require_columns(self.parquet.columns, self.parquet.repo)
        columns = list(self.parquet.columns) + (["cocoid"] if "cocoid" in names else [])
        for source, index, row in split.iter_rows(columns):
            filename = require_cell(row, "filename", str, source, f"row {index}")
            image_id = row.get("cocoid")
            if not isinstance(image_id, int):
                stem = filename.rsplit(".", 1)[0].split("_")[-1]
                if not stem.isdigit():
                    raise InputError(
                        f"{source}: row {index}: no cocoid and no COCO id in file name {filename!r}"
                    )
                image_id = int(stem)
            owner = f"image id {image_id!r}"
            filepath = require_cell(row, "filepath", str, source, owner)
            file_name = f"{filepath}/{filename}" if filepath else filename
            path = resolve_image_path(self.data_dir, file_name, source=source, owner=owner)
            sample = caption_sample(
                image_id, answer_texts(row, "sentences", source, owner), self.prompt, file_name=file_name
            )
            yield dataclasses.replace(sample, image_paths=(str(path),)), None
