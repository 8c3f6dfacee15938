"""The built-in Shapes suites `vqa` and `caption`: generated offline on first use."""

from __future__ import annotations

from pathlib import Path

from mllmbench.suites import shapes
from mllmbench.suites.caption_suite import CaptionFormatSuite
from mllmbench.suites.vqa_suite import VQAFormatSuite


class ShapesVQASuite(VQAFormatSuite):
    """Open-ended VQA on the synthetic Shapes set (VQAv2 layout, 10 answers per question)."""

    name = "vqa"
    version = "1"
    description = "VQA accuracy on built-in Shapes (or any VQAv2-layout dir via --data)"
    questions_file = shapes.VQA_QUESTIONS
    annotations_file = shapes.VQA_ANNOTATIONS
    images_dir = shapes.IMAGES_DIR
    expected_files = (shapes.VQA_QUESTIONS, shapes.VQA_ANNOTATIONS, shapes.IMAGES_DIR + "/")

    @classmethod
    def default_data_dir(cls) -> Path:
        """The Shapes set in the user cache, generated if missing."""
        return shapes.ensure_shapes()


class ShapesCaptionSuite(CaptionFormatSuite):
    """Captioning on the synthetic Shapes set (COCO captions layout, 5 references per image)."""

    name = "caption"
    version = "1"
    description = "COCO caption metrics on built-in Shapes (or any COCO-captions dir via --data)"
    captions_file = shapes.CAPTIONS
    images_dir = shapes.IMAGES_DIR
    expected_files = (shapes.CAPTIONS, shapes.IMAGES_DIR + "/")

    @classmethod
    def default_data_dir(cls) -> Path:
        """The Shapes set in the user cache, generated if missing."""
        return shapes.ensure_shapes()
