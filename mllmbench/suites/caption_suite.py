"""Image captioning over a COCO-captions file, scored exactly like pycocoevalcap."""

from __future__ import annotations

from typing import Any, ClassVar

from mllmbench.core.types import Capability
from mllmbench.suites.base import Metric, Sample, Suite
from mllmbench.suites.fingerprint import files_fingerprint

CAPTION_PROMPT = "Provide a one-sentence caption for the provided image."
"""The lmms-eval ``coco_cap`` wording."""


class CaptionFormatSuite(Suite):
    """A suite over a COCO captions annotation file and its image folder."""

    requires = Capability.UNDERSTAND
    metric_names = ("Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4", "METEOR", "ROUGE_L", "CIDEr", "SPICE")
    captions_file: ClassVar[str] = "captions.json"
    images_dir: ClassVar[str] = "images"
    prompt: ClassVar[str] = CAPTION_PROMPT

    def load_samples(self, limit: int | None = None) -> list[Sample]:
        """One sample per image that has references, in the file's order."""
        from mllmbench.suites.formats.coco_captions import load_coco_captions

        data = load_coco_captions(
            self.data_dir / self.captions_file, image_dir=self.data_dir / self.images_dir
        )
        images = data.images[:limit] if limit is not None else data.images
        return [
            Sample(
                sample_id=str(im.image_id),
                image_paths=(str(im.image_path),),
                text=self.prompt,
                references=im.references,
                meta={"image_id": im.image_id, "file_name": im.file_name},
            )
            for im in images
        ]

    def metrics(self) -> list[Metric]:
        """Fresh caption metrics (BLEU, METEOR, ROUGE-L, CIDEr-D; SPICE when its jars exist)."""
        from mllmbench.suites.metrics.caption import CaptionMetrics

        return [CaptionMetrics()]

    def extract_answer(self, output: str) -> str:
        """The first non-empty line of the output, stripped."""
        for line in output.splitlines():
            if line.strip():
                return line.strip()
        return ""

    def dataset_fingerprint(self) -> str:
        """Hash of the captions file."""
        return files_fingerprint([self.data_dir / self.captions_file])

    def scoring_info(self) -> dict[str, Any]:
        """Recorded in run.json next to the metrics."""
        return {"tokenizer": "PTBTokenizer (pycocoevalcap)", "prompt": self.prompt}
