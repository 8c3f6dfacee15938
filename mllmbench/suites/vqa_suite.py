"""Open-ended VQA over files in the official VQAv2 layout (questions + annotations JSON).

The same class reads the built-in Shapes set and a local copy of VQAv2; subclasses only say
where the files are and how the images are named.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from mllmbench.core.types import Capability
from mllmbench.suites.base import Metric, Sample, Suite
from mllmbench.suites.fingerprint import files_fingerprint

VQA_PROMPT = "{question}\nAnswer the question using a single word or phrase."
"""The LLaVA-1.5 / lmms-eval VQAv2 wording."""


class VQAFormatSuite(Suite):
    """A suite over ``questions.json`` + ``annotations.json`` in the VQAv2 format."""

    requires = Capability.UNDERSTAND
    metric_names = ("vqa_accuracy",)
    questions_file: ClassVar[str] = "questions.json"
    annotations_file: ClassVar[str] = "annotations.json"
    images_dir: ClassVar[str] = "images"
    image_pattern: ClassVar[str | None] = None
    prompt_template: ClassVar[str] = VQA_PROMPT
    scoring_variant: ClassVar[str] = "lmms_eval"
    """Model outputs are normalised before the official 10-answer accuracy (METRICS.md 1.3)."""

    def _paths(self) -> tuple[Path, Path, Path]:
        return (
            self.data_dir / self.questions_file,
            self.data_dir / self.annotations_file,
            self.data_dir / self.images_dir,
        )

    def load_samples(self, limit: int | None = None) -> list[Sample]:
        """Questions in annotation order, each with its image path and 10 answers."""
        from mllmbench.suites.formats.vqav2 import load_vqa

        questions, annotations, images = self._paths()
        data = load_vqa(questions, annotations, image_dir=images, image_pattern=self.image_pattern)
        out = []
        for q in data.questions[:limit] if limit is not None else data.questions:
            out.append(
                Sample(
                    sample_id=str(q.question_id),
                    image_paths=(str(q.image_path),),
                    text=self.prompt_template.format(question=q.question),
                    references=q.answer_texts,
                    meta={
                        "question_id": q.question_id,
                        "image_id": q.image_id,
                        "question": q.question,
                        "question_type": q.question_type,
                        "answer_type": q.answer_type,
                        "answer_keys": [list(k) for k in q.answer_keys],
                    },
                )
            )
        return out

    def metrics(self) -> list[Metric]:
        """Fresh VQA accuracy with this suite's scoring variant."""
        from mllmbench.suites.metrics.vqa import VQAAccuracy

        return [VQAAccuracy(self.scoring_variant)]

    def dataset_fingerprint(self) -> str:
        """Hash of the questions and annotations files."""
        questions, annotations, _ = self._paths()
        return files_fingerprint([questions, annotations])

    def scoring_info(self) -> dict[str, Any]:
        """Recorded in run.json next to the metrics."""
        return {"vqa_variant": self.scoring_variant, "prompt_template": self.prompt_template}
