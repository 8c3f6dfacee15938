"""What the captioning benchmarks share: one sample per image, scored like pycocoevalcap.

lmms-eval's ``coco_cap``, ``coco_karpathy``, ``nocaps`` and ``flickr30k`` tasks all run
PTBTokenizer and then pycocoevalcap's BLEU-1..4, METEOR, ROUGE-L and CIDEr on the whole set
(METRICS.md §2.8); `CaptionMetrics` does the same, adds bootstrap intervals, and adds SPICE
when its jars are installed (lmms-eval leaves SPICE out).
"""

from __future__ import annotations

from typing import Any, ClassVar

from mllmbench.core.types import Capability
from mllmbench.suites.base import Metric, Sample
from mllmbench.suites.benchmarks.common import BenchmarkSuite
from mllmbench.suites.caption_suite import CAPTION_PROMPT
from mllmbench.suites.formats.coco_captions import CocoCaptionImage
from mllmbench.suites.formats.common import Id

CAPTION_METRIC_NAMES = ("Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4", "METEOR", "ROUGE_L", "CIDEr", "SPICE")


def caption_sample(image_id: Id, references: tuple[str, ...], prompt: str, **meta: Any) -> Sample:
    """A captioning sample (image path filled in by the caller)."""
    return Sample(
        sample_id=str(image_id),
        image_paths=(),
        text=prompt,
        references=references,
        meta={"image_id": image_id, **meta},
    )


def coco_image_sample(im: CocoCaptionImage, prompt: str, **meta: Any) -> Sample:
    """A sample of a loaded COCO-format image (with its path)."""
    return Sample(
        sample_id=str(im.image_id),
        image_paths=(str(im.image_path),) if im.image_path is not None else (),
        text=prompt,
        references=im.references,
        meta={"image_id": im.image_id, "file_name": im.file_name, **meta},
    )


class CaptionBenchmarkSuite(BenchmarkSuite):
    """A captioning benchmark: prompt, caption metrics, first-line answer extraction."""

    requires = Capability.UNDERSTAND
    metric_names = CAPTION_METRIC_NAMES
    prompt: ClassVar[str] = CAPTION_PROMPT
    reference: ClassVar[str] = ""
    """The lmms-eval task the scoring follows."""

    def metrics(self) -> list[Metric]:
        """BLEU-1..4, METEOR, ROUGE-L, CIDEr-D (and SPICE when its jars exist)."""
        from mllmbench.suites.metrics.caption import CaptionMetrics

        return [CaptionMetrics()]

    def extract_answer(self, output: str) -> str:
        """The first non-empty line of the output, stripped (as the built-in caption suite)."""
        for line in output.splitlines():
            if line.strip():
                return line.strip()
        return ""

    def scoring_info(self) -> dict[str, Any]:
        """Layout, prompt, tokenizer and reference task."""
        return {
            **super().scoring_info(),
            "tokenizer": "PTBTokenizer (pycocoevalcap)",
            "metrics": "pycocoevalcap Bleu(4), Meteor, Rouge, Cider (CIDEr-D) on the whole set; SPICE when available",
            "answer": "first non-empty line of the output",
            "reference": self.reference,
        }
