"""The `efficiency` suite: latency, throughput and memory of an understanding adapter.

It asks the Shapes VQA questions (or any VQAv2-layout directory given with ``--data``) the way
the `vqa` suite does, but every question is asked `EfficiencySuite.repetitions` times at batch
size 1 and as many times at the run's ``--batch-size``. Before the measured calls of each batch
size the runner makes `EfficiencySuite.warmup_batches` unlogged calls on the first full-size
batch (METRICS.md §5.5). The figures are computed from the logged records by
`EfficiencyMetric`; the records themselves keep every sample's answer next to its cost.

``--limit N`` takes the first N questions, so a run logs ``2 * repetitions * N`` samples
(ids ``<question id>:single:r<k>`` and ``<question id>:batched:r<k>``). With
``--batch-size 1`` both halves run at batch size 1 and their figures are pooled.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from mllmbench.core.types import Capability
from mllmbench.suites import shapes_video
from mllmbench.suites.base import Metric, PlannedBatch, Sample
from mllmbench.suites.shapes_suites import ShapesVQASuite

SINGLE = "single"
"""Samples run one per adapter call."""
BATCHED = "batched"
"""Samples run in calls of ``--batch-size``."""


class EfficiencySuite(ShapesVQASuite):
    """Shapes VQA questions timed at batch size 1 and at ``--batch-size``, repeated, after warm-up."""

    name = "efficiency"
    version = "1"
    cacheable = False  # every call is a measurement
    description = "Latency, throughput and memory (batch size 1 and --batch-size) on Shapes VQA questions"
    metric_names: ClassVar[tuple[str, ...]] = (  # type: ignore[assignment]
        "ttft",
        "tpot",
        "itl",
        "decode_tokens_per_s",
        "e2e_latency",
        "throughput_samples_per_s",
        "throughput_output_tokens_per_s",
        "time_vision_connector",
        "time_llm_prefill",
        "time_decode",
        "peak_rss",
        "cuda_max_allocated",
        "visual_tokens_per_image",
        "weights_memory",
    )
    repetitions: ClassVar[int] = 3
    """Measured passes over the questions at each batch size (their spread is reported)."""
    warmup_batches: ClassVar[int] = 2
    """Unlogged calls before the measured calls of each batch size."""
    default_questions: ClassVar[int] = 16
    """Questions used without ``--limit``."""

    def load_samples(self, limit: int | None = None) -> list[Sample]:
        """The first `limit` questions, each repeated `repetitions` times per batching mode."""
        questions = self.questions(limit if limit is not None else self.default_questions)
        out = []
        for batching in (SINGLE, BATCHED):
            for repetition in range(self.repetitions):
                for q in questions:
                    meta = {**q.meta, "question_sample_id": q.sample_id, "batching": batching}
                    out.append(
                        dataclasses.replace(
                            q,
                            sample_id=f"{q.sample_id}:{batching}:r{repetition}",
                            meta={**meta, "repetition": repetition},
                        )
                    )
        return out

    def questions(self, limit: int) -> list[Sample]:
        """The questions that are timed (the Shapes VQA ones)."""
        return super().load_samples(limit)

    def plan_batches(self, samples: Sequence[Sample], batch_size: int) -> list[PlannedBatch]:
        """Batch size 1 first, then ``--batch-size``; per repetition; warm-up calls before each."""
        plan: list[PlannedBatch] = []
        for batching, size in ((SINGLE, 1), (BATCHED, max(1, batch_size))):
            group = [s for s in samples if s.meta.get("batching") == batching]
            measured: list[PlannedBatch] = []
            for repetition in sorted({int(s.meta["repetition"]) for s in group}):
                todo = [s for s in group if s.meta["repetition"] == repetition]
                measured += [PlannedBatch(tuple(todo[i : i + size])) for i in range(0, len(todo), size)]
            if measured:
                warmup = PlannedBatch(measured[0].samples, warmup=True)
                plan += [warmup] * self.warmup_batches + measured
        return plan

    def metrics(self) -> list[Metric]:
        """A fresh `EfficiencyMetric`."""
        from mllmbench.suites.metrics.efficiency import EfficiencyMetric

        return [EfficiencyMetric()]

    def scoring_info(self) -> dict[str, Any]:
        """Recorded in run.json next to the figures."""
        return {
            "definitions": "METRICS.md §5 (vLLM TTFT/TPOT/ITL/E2EL, optimum-benchmark memory)",
            "repetitions": self.repetitions,
            "warmup_batches": self.warmup_batches,
            "batch_sizes": "1 and --batch-size",
            "memory_unit": "MiB (2**20 bytes)",
            "prompt_template": self.prompt_template,
        }


class VideoEfficiencySuite(EfficiencySuite):
    """The `efficiency` measurements on Shapes *video* questions, with per-frame cost.

    Questions come from the ``shapes_video`` layout (the built-in clips, or ``--data DIR``); the
    run's ``--video-frames``/``--video-fps`` sets the frames per clip. Besides every figure of
    `efficiency`, `EfficiencyMetric` reports ``visual_tokens_per_frame``,
    ``time_vision_connector_per_frame`` and ``e2e_latency_per_frame``.
    """

    name = "efficiency_video"
    version = "1"
    requires = Capability.UNDERSTAND | Capability.VIDEO
    description = "Latency, throughput, memory and per-frame cost on Shapes video questions"
    metric_names: ClassVar[tuple[str, ...]] = (  # type: ignore[assignment]
        *EfficiencySuite.metric_names,
        "visual_tokens_per_frame",
        "time_vision_connector_per_frame",
        "e2e_latency_per_frame",
    )
    expected_files = (shapes_video.QUESTIONS, shapes_video.VIDEOS_DIR + "/")  # type: ignore[assignment]

    @classmethod
    def default_data_dir(cls) -> Path:
        """The Shapes video set in the user cache, generated if missing."""
        return shapes_video.ensure_shapes_video()

    def questions(self, limit: int) -> list[Sample]:
        """The first `limit` Shapes video questions."""
        from mllmbench.suites.shapes_video_suite import ShapesVideoSuite

        return ShapesVideoSuite(self.data_dir).load_samples(limit)

    def dataset_fingerprint(self) -> str:
        """The fingerprint of the video questions and clips."""
        from mllmbench.suites.shapes_video_suite import ShapesVideoSuite

        return ShapesVideoSuite(self.data_dir).dataset_fingerprint()
