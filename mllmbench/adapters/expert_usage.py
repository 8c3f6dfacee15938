"""What an expert pipeline reports per sample: both stages' token counts and times.

`PipelineUsage` is the `Usage` of the answering stage plus one `StageUsage` per stage;
`PipelineResponse` adds the captions and the captioner's prompts; `pipeline_profile` folds both
stages into one `GenerationProfile` so TTFT and E2EL run from the start of captioning.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mllmbench.core.types import GenerationProfile, UnderstandResponse, Usage


@dataclass(frozen=True)
class StageUsage:
    """Token counts and time of one pipeline stage for one sample."""

    input_tokens: int
    output_tokens: int
    image_tokens: int
    """Stage 1: the captioner's image positions; stage 2: the caption positions."""
    batch_seconds: float
    """Wall time of this stage's batched call."""
    batch_size: int
    """Requests in that call (stage 1: images, stage 2: samples)."""
    preprocess_seconds: float | None = None
    """The call's `GenerationProfile` figures (batch-level), when the stage measured them."""
    prefill_seconds: float | None = None
    decode_seconds: float | None = None
    vision_seconds: float | None = None

    @classmethod
    def of(cls, usages: Sequence[Usage], batch_size: int, **changes: Any) -> StageUsage:
        """The sum of one stage's `usages` for one sample (zeros for none), timing from the first."""
        profile = usages[0].profile if usages else None
        timing = {
            key: getattr(profile, key)
            for key in ("preprocess_seconds", "prefill_seconds", "decode_seconds", "vision_seconds")
            if profile is not None
        }
        fields = {
            "input_tokens": sum(u.input_tokens for u in usages),
            "output_tokens": sum(u.output_tokens for u in usages),
            "image_tokens": sum(u.image_tokens for u in usages),
            "batch_seconds": usages[0].batch_seconds if usages else 0.0,
        }
        return cls(batch_size=batch_size, **{**fields, **timing, **changes})

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class PipelineUsage(Usage):
    """`Usage` of the answering stage (``batch_seconds``: both stages) plus both stages' numbers."""

    caption: StageUsage
    answer: StageUsage
    asr: StageUsage | None = None
    """The speech recogniser's stage for a video whose audio was transcribed (``input_tokens``:
    0; ``output_tokens``: the transcript's), else None."""
    speech: str = ""
    """For a request with a video: ``transcribed``, or why it ran vision-only (``no audio track``,
    ``no speech recogniser``); empty without a video."""

    @property
    def total_input_tokens(self) -> int:
        """Prompt tokens over every stage."""
        return self.caption.input_tokens + self.answer.input_tokens

    @property
    def total_output_tokens(self) -> int:
        """Generated tokens over every stage (captions, transcript and answer)."""
        asr = self.asr.output_tokens if self.asr is not None else 0
        return self.caption.output_tokens + self.answer.output_tokens + asr

    def to_dict(self) -> dict[str, Any]:
        """`Usage.to_dict` plus ``stages`` and the totals."""
        return {
            **super().to_dict(),
            "total_input_tokens": self.total_input_tokens,
            "total_output_tokens": self.total_output_tokens,
            "stages": {
                "caption": self.caption.to_dict(),
                **({"asr": self.asr.to_dict()} if self.asr is not None else {}),
                "answer": self.answer.to_dict(),
            },
            **({"speech": self.speech} if self.speech else {}),
        }


@dataclass(frozen=True)
class PipelineResponse(UnderstandResponse):
    """A response that also records stage 1: the captions and the captioner's exact prompts."""

    captions: tuple[str, ...]
    """One caption per image of the request, in order."""
    caption_prompts: tuple[str, ...]
    """The exact text given to the captioner's processor for each image (and video frame)."""
    transcript: str | None = None
    """The speech recogniser's transcript of the request's video, when there was one."""


def stage_timing(stage: StageUsage) -> dict[str, Any]:
    """The batch-level time fields of `stage` (shared by every sample of the call)."""
    keys = ("batch_seconds", "preprocess_seconds", "prefill_seconds", "decode_seconds", "vision_seconds")
    return {key: getattr(stage, key) for key in keys}


def pipeline_profile(
    caption: StageUsage, answer: GenerationProfile | None, seconds_between_calls: float
) -> GenerationProfile | None:
    """Both stages as one generate call, so TTFT and E2EL run from the captioner's start.

    preprocess = the captioner's preprocessing; prefill = caption generation, stage-2
    preprocessing and prefill (everything before the first answer token); decode = the
    answer's decode; vision = the captioner's vision + connector time; token times are shifted
    by the time from the caption ``generate`` start to the answer ``generate`` start.
    """
    if answer is None:
        return None
    caption_preprocess = caption.preprocess_seconds or 0.0
    shift = seconds_between_calls - caption_preprocess + answer.preprocess_seconds
    return GenerationProfile(
        preprocess_seconds=caption_preprocess,
        prefill_seconds=shift + answer.prefill_seconds,
        decode_seconds=answer.decode_seconds,
        vision_seconds=caption.vision_seconds,
        token_seconds=tuple(shift + t for t in answer.token_seconds),
        clock=answer.clock,
    )
