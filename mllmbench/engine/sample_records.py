"""Sample records: the ``samples.jsonl`` line of each finished or failed sample, and appending it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mllmbench.core import jsonio, profiling
from mllmbench.core.errors import WriteError
from mllmbench.core.records import SampleRecord
from mllmbench.core.types import UnderstandResponse
from mllmbench.suites.base import Metric, Sample, Suite


def image_field(sample: Sample) -> str | list[str] | None:
    """The sample's image path, a list for multi-image samples, its video (or audio) path for a
    sample without images, None without any."""
    if not sample.image_paths:
        if sample.video is not None:
            return sample.video
        if sample.audio is not None:
            return sample.audio
        return None
    return sample.image_paths[0] if len(sample.image_paths) == 1 else list(sample.image_paths)


def error_record(suite: Suite, sample: Sample, error: str) -> SampleRecord:
    """The line of a sample that failed: no answer, no scores, the error."""
    return SampleRecord(
        sample_id=sample.sample_id,
        suite=suite.name,
        image=image_field(sample),
        prompt=None,
        output=None,
        answer=None,
        references=list(sample.references),
        scores={},
        timing={},
        tokens={},
        error=error,
        text=sample.text,
        meta=dict(sample.meta),
    )


def understand_record(
    suite: Suite,
    sample: Sample,
    response: UnderstandResponse,
    metrics: list[Metric],
    *,
    call_seconds: float,
    memory: dict[str, Any],
    cached: bool = False,
    prepared_ahead: bool = False,
) -> SampleRecord:
    """Extract the answer, score it with the per-sample metrics, and build the line.

    `prepared_ahead`: the adapter's preprocessing ran in the pipeline's worker before the call
    (recorded as ``timing.preprocess_ahead``; ``call_seconds`` then excludes it).
    """
    answer = suite.extract_answer(response.text)
    scores: dict[str, float] = {}
    for m in metrics:
        scores.update(m.update(sample, answer))
    u = response.usage
    profile = getattr(u, "profile", None)
    return SampleRecord(
        sample_id=sample.sample_id,
        suite=suite.name,
        image=image_field(sample),
        prompt=response.prompt,
        output=response.text,
        answer=answer,
        references=list(sample.references),
        scores=scores,
        timing={
            "batch_seconds": u.batch_seconds,
            "batch_size": u.batch_size,
            "seconds_per_sample": u.batch_seconds / max(1, u.batch_size),
            "call_seconds": call_seconds,
            **({"cached": True} if cached else {}),
            **({"preprocess_ahead": True} if prepared_ahead else {}),
            **(profiling.sample_timing(profile) if profile is not None else {}),
            # Multi-stage adapters (expert pipelines): each stage's time and tokens, and for a
            # video whether its speech was transcribed or why it ran vision-only.
            **{k: v for k, v in u.to_dict().items() if k in ("stages", "speech")},
        },
        tokens={
            "input": u.input_tokens,
            "output": u.output_tokens,
            "image": u.image_tokens,
            # Video samples: the sampled frames their visual tokens came from (per-frame costs).
            **({"video_frames": u.video_frames} if getattr(u, "video_frames", 0) else {}),
        },
        text=sample.text,
        meta=dict(sample.meta),
        memory=dict(memory),
    )


def append_records(path: Path, records: list[dict[str, Any]]) -> None:
    """Append a batch's sample lines in one write and one fsync; a failed write stops the run
    with a clear message (exit 4).

    Lines already written stay intact: at worst the last one is torn, and a resumed run cuts
    it and redoes that sample.
    """
    try:
        jsonio.append_jsonl_lines(path, records)
    except OSError as exc:
        raise WriteError(
            f"cannot write {path}: {exc.strerror or exc}; the samples finished before these are "
            "saved; free the space and run the same command again to resume"
        ) from exc
