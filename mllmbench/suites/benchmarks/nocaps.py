"""NoCaps validation (4,500 Open Images), with in-domain / near-domain / out-domain scores.

Official layout: ``nocaps_val_4500_captions.json`` (nocaps.org/download) and the images it lists
(``file_name``) in ``images/`` (or ``validation/``, ``val/``). Parquet layout: lmms-lab/NoCaps
``validation``; it has no domain column that lmms-eval reads, so the domain breakdown comes
from a ``domain``/``image_domain`` column when there is one, else from
``nocaps_val_4500_captions.json`` when it lies beside the parquet files, else it is left out
(``scoring_info`` says so).

Prompt: ``Provide a one-sentence caption for the provided image.`` (lmms-eval ``nocaps_val``).
Scoring: the COCO caption metrics on all images, then on each domain's images as its own
evaluation set, as the NoCaps evaluation server reports them (``CIDEr/in-domain``, ...).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from mllmbench.core.errors import InputError
from mllmbench.suites.base import Metric, Sample
from mllmbench.suites.benchmarks.captioning import CaptionBenchmarkSuite, caption_sample, coco_image_sample
from mllmbench.suites.benchmarks.common import OFFICIAL, DataFile, ParquetSource
from mllmbench.suites.formats.hf_parquet import ParquetSplit

NOCAPS_DOWNLOAD = "the NoCaps download page (https://nocaps.org/download)"


class NoCapsSuite(CaptionBenchmarkSuite):
    """NoCaps val: 10 reference captions per image, three domains."""

    name = "nocaps"
    version = "1"
    title = "NoCaps"
    description = "NoCaps val, COCO caption metrics overall and per domain (in/near/out-domain)"
    official = (
        DataFile("nocaps_val_4500_captions.json", f"{NOCAPS_DOWNLOAD}, 'val' annotations"),
        DataFile(
            "images/",
            f"the Open Images validation images listed in the captions file (coco_url), {NOCAPS_DOWNLOAD}",
            alternatives=("validation/", "val/"),
        ),
    )
    parquet = ParquetSource(
        "lmms-lab/NoCaps",
        splits=("validation",),
        columns=("image_id", "annotations_captions", "image"),
        image_key="image_id",
    )
    reference = "lmms-eval nocaps_val; domains as the NoCaps evaluation server"

    def official_samples(self) -> list[Sample]:
        """Images in file order, each with its domain."""
        from mllmbench.suites.formats.nocaps import load_nocaps

        data = load_nocaps(
            self.official_path(self.official[0].path), image_dir=self.official_path(self.official[1].path)
        )
        return [
            coco_image_sample(im, self.prompt, domain=data.domains[im.image_id])
            for im in data.captions.images
        ]

    def _json_domains(self) -> dict[str, str]:
        """image id (as a string) -> domain from the official file, when it is present."""
        from mllmbench.suites.formats.nocaps import load_nocaps

        path = self.official[0].find(self.data_dir)
        if path is None:
            return {}
        return {str(k): v for k, v in load_nocaps(path).domains.items()}

    def parquet_samples(self, split: ParquetSplit) -> Iterator[tuple[Sample, Any]]:
        """One sample per row; the image is cached by image id."""
        from mllmbench.suites.benchmarks.hf_parquet import answer_texts, optional_str, row_id

        assert self.parquet is not None
        names = split.require_columns(self.parquet.columns, self.parquet.repo)
        domain_col = next((c for c in ("domain", "image_domain") if c in names), None)
        domains = {} if domain_col else self._json_domains()
        extra = [c for c in (domain_col, "image_file_name") if c and c in names]
        for source, index, row in split.iter_rows(["image_id", "annotations_captions", *extra]):
            image_id = row_id(row, "image_id", source, index)
            owner = f"image id {image_id!r}"
            refs = answer_texts(row, "annotations_captions", source, owner)
            if not refs:
                raise InputError(f"{source}: {owner}: no reference captions (is this the test split?)")
            domain = (
                optional_str(row, domain_col, source, owner) if domain_col else domains.get(str(image_id), "")
            )
            meta = {"file_name": optional_str(row, "image_file_name", source, owner), "domain": domain}
            yield caption_sample(image_id, refs, self.prompt, **meta), image_id

    def metrics(self) -> list[Metric]:
        """Caption metrics overall and per domain."""
        from mllmbench.suites.metrics.caption_domains import DomainCaptionMetrics

        return [DomainCaptionMetrics(domain_key="domain")]

    def scoring_info(self) -> dict[str, Any]:
        """Adds where the domains come from."""
        kind, _, split = self.layout()
        if kind == OFFICIAL:
            source = "nocaps_val_4500_captions.json"
        else:
            assert split is not None
            names = split.column_names()
            col = next((c for c in ("domain", "image_domain") if c in names), None)
            if col:
                source = f"parquet column {col!r}"
            elif self.official[0].find(self.data_dir) is not None:
                source = "nocaps_val_4500_captions.json beside the parquet files"
            else:
                source = "none: no per-domain values"
        return {**super().scoring_info(), "domains": source, "domain_scoring": "each domain as its own set"}
