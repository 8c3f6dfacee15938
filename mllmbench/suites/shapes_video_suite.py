"""``shapes_video``: open-ended questions on the synthetic Shapes clips, scored like ``vqa``.

Reads ``questions.json`` in the layout of `mllmbench.suites.shapes_video` (generated into the
user cache on first use, or any directory of that layout via ``--data``). Each sample carries
its clip's path in `Sample.video`; the runner decodes it with the run's frame-sampling policy
(``--video-frames``/``--video-fps``). The prompt wording and the scoring are those of the
``vqa`` suite: the lmms-eval VQAv2 prompt and the VQA accuracy with lmms-eval normalisation,
reported overall and per answer type; ``question_type`` (``direction``, ``order``, ``count``)
is kept in each sample's meta.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from mllmbench.core.errors import InputError
from mllmbench.core.jsonio import read_json
from mllmbench.core.types import Capability
from mllmbench.suites import shapes_video
from mllmbench.suites.base import Metric, Sample, Suite
from mllmbench.suites.fingerprint import files_fingerprint
from mllmbench.suites.vqa_suite import VQA_PROMPT


class ShapesVideoSuite(Suite):
    """Direction of motion, order of appearance and counts over time on Shapes clips."""

    name = "shapes_video"
    version = "1"
    requires = Capability.UNDERSTAND | Capability.VIDEO
    description = "VQA accuracy on built-in Shapes video clips (motion, order, counts over time)"
    metric_names = ("vqa_accuracy",)
    expected_files = (shapes_video.QUESTIONS, shapes_video.VIDEOS_DIR + "/")
    prompt_template: ClassVar[str] = VQA_PROMPT
    scoring_variant: ClassVar[str] = "lmms_eval"

    @classmethod
    def default_data_dir(cls) -> Path:
        """The Shapes video set in the user cache, generated if missing."""
        return shapes_video.ensure_shapes_video()

    def load_samples(self, limit: int | None = None) -> list[Sample]:
        """Questions in file order, each with its clip path and 10 answers."""
        path = self.data_dir / shapes_video.QUESTIONS
        doc = read_json(path, what="Shapes video questions")
        try:
            videos = {int(v["id"]): str(v["file_name"]) for v in doc["videos"]}
            questions = list(doc["questions"])
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(
                f"{path}: expected 'videos' [{{id, file_name}}] and 'questions': {exc!r}"
            ) from None
        video_dir = (self.data_dir / shapes_video.VIDEOS_DIR).resolve()
        out = []
        for i, q in enumerate(questions[:limit] if limit is not None else questions):
            try:
                qid, vid, text = int(q["question_id"]), int(q["video_id"]), str(q["question"])
                answers = tuple(str(a) for a in q["answers"])
            except (KeyError, TypeError, ValueError) as exc:
                raise InputError(f"{path}: question {i} is malformed: {exc!r}") from None
            if vid not in videos:
                raise InputError(f"{path}: question {qid} names video {vid}, which is not in 'videos'")
            video = (video_dir / videos[vid]).resolve()
            if video_dir not in video.parents:
                raise InputError(f"{path}: video file name {videos[vid]!r} escapes {video_dir}")
            out.append(
                Sample(
                    sample_id=str(qid),
                    image_paths=(),
                    text=self.prompt_template.format(question=text),
                    references=answers,
                    meta={
                        "question_id": qid,
                        "video_id": vid,
                        "question": text,
                        "question_type": str(q.get("question_type", "")),
                        "answer_type": str(q.get("answer_type", "")),
                    },
                    video=str(video),
                )
            )
        return out

    def metrics(self) -> list[Metric]:
        """Fresh VQA accuracy (lmms-eval normalisation, as the ``vqa`` suite)."""
        from mllmbench.suites.metrics.vqa import VQAAccuracy

        return [VQAAccuracy(self.scoring_variant)]

    def dataset_fingerprint(self) -> str:
        """Hash of the questions file and every clip it names."""
        root = self.data_dir
        return files_fingerprint(
            [root / shapes_video.QUESTIONS, *sorted((root / shapes_video.VIDEOS_DIR).glob("*.mp4"))]
        )

    def scoring_info(self) -> dict[str, Any]:
        """Recorded in run.json next to the metrics."""
        return {"vqa_variant": self.scoring_variant, "prompt_template": self.prompt_template}
