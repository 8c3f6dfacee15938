"""Flickr30k captions, as lmms-eval ``flickr30k_test``.

Official layout: Karpathy's ``dataset_flickr30k.json`` (caption_datasets.zip), split ``test``
(1,000 images), with the images in ``flickr30k-images/`` (from the Flickr30k request form).
Parquet layout: lmms-lab/flickr30k ``test``, which is what lmms-eval scores: all 31,784 images
of Flickr30k, not the 1,000-image Karpathy test split, so the two layouts give different
numbers (``scoring_info`` records which was read).

Prompt: ``Provide a one-sentence caption for the provided image.`` (lmms-eval). Scoring: the COCO
caption metrics on the 5 raw captions per image.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from mllmbench.suites.base import Sample
from mllmbench.suites.benchmarks.captioning import CaptionBenchmarkSuite, caption_sample, coco_image_sample
from mllmbench.suites.benchmarks.coco_karpathy import KARPATHY_SPLITS
from mllmbench.suites.benchmarks.common import DataFile, ParquetSource
from mllmbench.suites.formats.hf_parquet import ParquetSplit

FLICKR_IMAGES = (
    "the Flickr30k images (flickr30k-images.tar, https://shannon.cs.illinois.edu/DenotationGraph/)"
)


class Flickr30kSuite(CaptionBenchmarkSuite):
    """Flickr30k: 5 reference captions per image."""

    name = "flickr30k"
    version = "1"
    title = "Flickr30k"
    description = "Flickr30k captions (Karpathy test, or lmms-lab/flickr30k test), COCO caption metrics"
    official = (
        DataFile("dataset_flickr30k.json", KARPATHY_SPLITS),
        DataFile("flickr30k-images/", FLICKR_IMAGES),
    )
    parquet = ParquetSource(
        "lmms-lab/flickr30k", splits=("test",), columns=("img_id", "caption", "image"), image_key="img_id"
    )
    split = "test"
    reference = "lmms-eval flickr30k_test"

    def official_samples(self) -> list[Sample]:
        """The images of Karpathy's test split in file order."""
        from mllmbench.suites.formats.karpathy import load_karpathy

        data = load_karpathy(
            self.official_path(self.official[0].path),
            split=self.split,
            image_root=self.official_path(self.official[1].path),
        )
        return [coco_image_sample(im, self.prompt) for im in data.images]

    def parquet_samples(self, split: ParquetSplit) -> Iterator[tuple[Sample, Any]]:
        """One sample per row; the image is cached by ``img_id``."""
        from mllmbench.suites.benchmarks.hf_parquet import answer_texts, row_id

        assert self.parquet is not None
        names = split.require_columns(self.parquet.columns, self.parquet.repo)
        columns = ["img_id", "caption"] + (["filename"] if "filename" in names else [])
        for source, index, row in split.iter_rows(columns):
            image_id = str(row_id(row, "img_id", source, index))
            refs = answer_texts(row, "caption", source, f"image id {image_id!r}")
            yield caption_sample(image_id, refs, self.prompt, file_name=row.get("filename") or ""), image_id

    def scoring_info(self) -> dict[str, Any]:
        """Adds which image set was read."""
        kind, _, _ = self.layout()
        images = (
            "Karpathy test split (1,000 images)"
            if kind == "official"
            else "lmms-lab/flickr30k test (all images)"
        )
        return {**super().scoring_info(), "image_set": images}
