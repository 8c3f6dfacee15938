"""The runner's image-generation side: seeded requests, saved images, the sample line.

For a suite that requires `Capability.GENERATE` the runner turns each sample into a
`GenerateRequest` whose seed is ``derive_seed(run seed, suite, sample id)`` (so an image does
not depend on its batch-mates, nor on resuming), calls ``adapter.generate_images``, writes every
image as a PNG under ``RUN_DIR/images/<suite>/<sample_id>_<k>.png`` (atomically, *before* the
sample line is appended, so a line never points at a missing file) and logs a
`GenerationRecord`:

* ``answer``: None (an answer is always text);
* ``generated_images``: every image's path relative to the run directory (the first is what the
  metrics score);
* ``seed`` and ``generation``: the knobs the adapter used (``settings``: steps, guidance scale,
  temperature, top-k, size, scheduler ...), ``steps``, ``nfe``, ``guidance_multiplier``,
  ``sequential_calls`` (generator forward calls that ran one after another), ``image_tokens``
  and, for an LLM conditioner, ``rewritten_prompt``;
* ``timing``: the call's seconds, per-stage seconds (``stage_seconds``) and the number of
  requests in the adapter call (``call_requests``); ``tokens``: prompt, generated and image tokens;
  ``memory``: the call's peak memory.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mllmbench.core.jsonio import write_bytes_atomic
from mllmbench.core.records import SampleRecord
from mllmbench.core.types import GenerateRequest, GenerateResponse, ImageGenerationSettings, derive_seed

if TYPE_CHECKING:
    from PIL.Image import Image

    from mllmbench.core.config import RunConfig
    from mllmbench.suites.base import Sample

IMAGES_DIR = "images"
"""Generated images live under ``RUN_DIR/images/<suite>/``."""
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


@dataclass(frozen=True)
class GenerationRecord(SampleRecord):
    """A ``samples.jsonl`` line of a text-to-image sample: `SampleRecord` plus the images and knobs."""

    seed: int | None = None
    """The seed the images were drawn with."""
    generation: dict[str, Any] = field(default_factory=dict)
    """``settings`` (the knobs used), ``steps``, ``nfe``, ``guidance_multiplier``,
    ``sequential_calls``, ``image_tokens``, ``rewritten_prompt``."""


def image_settings(config: RunConfig) -> ImageGenerationSettings:
    """The run's image-generation knobs; a knob left unset takes the checkpoint's default."""
    return ImageGenerationSettings(
        seed=config.seed,
        num_inference_steps=config.steps,
        guidance_scale=config.guidance,
        temperature=config.temperature,
        top_k=config.top_k,
        width=config.image_size,
        height=config.image_size,
    )


def generation_requests(suite: str, samples: Sequence[Sample], run_seed: int) -> list[GenerateRequest]:
    """One request per sample, its text the suite's prompt, its seed derived from the run seed."""
    return [GenerateRequest(s.sample_id, s.text, derive_seed(run_seed, suite, s.sample_id)) for s in samples]


def image_file_name(sample_id: str, index: int) -> str:
    """``<sample_id>_<index>.png``; a sample id with characters unsafe in file names is replaced by
    its safe form plus a short hash, so two ids never share a file."""
    safe = _UNSAFE.sub("_", sample_id)
    if safe != sample_id or not safe:
        safe = f"{safe}-{hashlib.sha256(sample_id.encode()).hexdigest()[:8]}"
    return f"{safe}_{index}.png"


def save_images(run_dir: Path, suite: str, sample_id: str, images: Sequence[Image]) -> list[str]:
    """Write each image as a PNG (temporary name, then rename); return paths relative to `run_dir`."""
    folder = Path(IMAGES_DIR) / _UNSAFE.sub("_", suite)
    (run_dir / folder).mkdir(parents=True, exist_ok=True)
    out = []
    for k, image in enumerate(images):
        rel = folder / image_file_name(sample_id, k)
        target = run_dir / rel
        buf = io.BytesIO()
        image.convert("RGB").save(buf, format="PNG")
        write_bytes_atomic(target, buf.getvalue())
        out.append(rel.as_posix())
    return out


def generation_record(
    suite: str,
    sample: Sample,
    response: GenerateResponse,
    paths: list[str],
    scores: dict[str, float],
    *,
    call_seconds: float,
    call_requests: int,
    memory: Mapping[str, Any],
) -> GenerationRecord:
    """The sample line of one generated sample (`paths` already written)."""
    u = response.usage
    return GenerationRecord(
        sample_id=sample.sample_id,
        suite=suite,
        image=None,
        prompt=response.prompt,
        output=response.rewritten_prompt,
        answer=None,
        references=list(sample.references),
        scores=scores,
        timing={
            "batch_seconds": u.batch_seconds,
            "batch_size": u.batch_size,
            "seconds_per_sample": u.batch_seconds / max(1, u.batch_size),
            "call_seconds": call_seconds,
            "call_requests": call_requests,
            "stage_seconds": dict(u.stage_seconds),
        },
        tokens={
            "input": u.input_tokens,
            "output": u.output_tokens + u.image_tokens,
            "image": u.image_tokens,
        },
        text=sample.text,
        meta=dict(sample.meta),
        memory=dict(memory),
        generated_images=list(paths),
        seed=response.settings.get("seed"),
        generation={
            "settings": dict(response.settings),
            "steps": u.steps,
            "nfe": u.nfe,
            "guidance_multiplier": u.guidance_multiplier,
            "sequential_calls": u.sequential_calls,
            "image_tokens": u.image_tokens,
            "rewritten_prompt": response.rewritten_prompt,
        },
    )


def scoring_view(record: Mapping[str, Any], run_dir: Path) -> dict[str, Any]:
    """What generation metrics see of a logged `record`: ``generated_images`` made absolute and,
    as the value `Metric.update` scores, ``answer`` set to the first image's absolute path."""
    out = dict(record)
    images = out.get("generated_images")
    if isinstance(images, list):
        out["generated_images"] = [str(run_dir / p) for p in images]
        out["answer"] = out["generated_images"][0] if images else None
    return out
