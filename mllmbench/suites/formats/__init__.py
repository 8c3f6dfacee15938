"""Loaders for the official dataset and results file formats (VQAv2, COCO captions).

Each loader validates what it reads and raises `mllmbench.core.errors.InputError` naming the
file and the offending id. Records are frozen dataclasses.
"""

from mllmbench.suites.formats.coco_captions import (
    CocoCaptionDataset,
    CocoCaptionImage,
    load_caption_results,
    load_coco_captions,
)
from mllmbench.suites.formats.vqav2 import VQAAnswer, VQADataset, VQAQuestion, load_vqa, load_vqa_results

__all__ = [
    "CocoCaptionDataset",
    "CocoCaptionImage",
    "VQAAnswer",
    "VQADataset",
    "VQAQuestion",
    "load_caption_results",
    "load_coco_captions",
    "load_vqa",
    "load_vqa_results",
]
