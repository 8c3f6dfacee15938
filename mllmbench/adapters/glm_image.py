"""GLM-Image: an autoregressive LLM emits discrete visual tokens, a diffusion transformer renders
them (diffusers ``GlmImagePipeline`` over transformers ``GlmImageForConditionalGeneration``).

Loads any ``GlmImagePipeline`` checkpoint (``zai-org/GLM-Image`` or a ``save_pretrained``
directory) with ``DiffusionPipeline.from_pretrained``; needs transformers >= 5.0 and diffusers
>= 0.37 (the first releases with the classes). Two generators run one after the other:

1. the AR model (``vision_language_encoder``) reads the prompt through its processor's chat
   template, followed by the target grid size, GLM-Image's preview grid size and the
   image-start token (``...<sop>H W<eop><sop>h w<eop><|dit_token_16384|>``; recorded as the
   prompt), and samples the preview grid's tokens then the target grid's (one forward call per
   token; ``do_sample=True`` with its generation config, recorded as ``ar_sampling``);
2. the DiT (``transformer``) denoises VAE latents conditioned on the target tokens (upsampled
   2x) and on T5 glyph embeddings of any text quoted in the prompt, with flow matching, and the
   VAE decodes. The generation paradigm is ``llm_tokens_diffusion_decoder`` (SEED, DreamLLM).

Knobs: ``num_inference_steps`` (default 50) and ``guidance_scale`` (default 1.5) from the
pipeline's signature; width and height (multiples of 32), defaulting to the processor's own
target size (``GlmImageProcessor.target_w`` x ``target_h``, 768 x 1152) because the pipeline has
none. ``temperature``/``top_k`` do not reach the pipeline (ignored, with a warning).

Seeds and batching: the pipeline seeds the AR stage with ``torch.manual_seed`` from the first
generator's ``initial_seed()`` and samples every prompt's tokens from that one global stream, so
the adapter draws one prompt per call with a CPU generator seeded from the request's seed (same
seed, same image).

Cost per image, counted with forward hooks: ``image_tokens`` = the AR's forward calls (one per
token it emitted: preview grid, target grid and the end slot); ``steps`` = DiT steps; ``nfe`` = DiT
forward rows (steps x 2 with guidance: the pipeline runs the conditional and the unconditional
pass as two calls); ``guidance_multiplier`` = nfe / steps; ``sequential_calls`` = AR calls + DiT
calls. ``stage_seconds``: ``tokens`` (first to last AR forward) and ``render`` (the rest of the
call: glyph encoding, denoising, VAE decoding). ``input_tokens`` = the AR prompt's tokens.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from mllmbench.adapters.counting import ForwardCounter
from mllmbench.adapters.diffusion import DiffusionAdapter, DrawResult
from mllmbench.core.errors import ConfigError
from mllmbench.core.types import (
    Capability,
    Connector,
    GenerateRequest,
    GenerateResponse,
    GenerationParadigm,
    ImageGenerationSettings,
)


class _ForwardSpan:
    """Wall-clock time from a module's first forward call to the end of its last one."""

    def __init__(self, module: Any) -> None:
        self.module = module
        self.first: float | None = None
        self.last: float | None = None
        self._handles: list[Any] = []

    def __enter__(self) -> _ForwardSpan:
        self._handles = [
            self.module.register_forward_pre_hook(self._start),
            self.module.register_forward_hook(self._end),
        ]
        return self

    def __exit__(self, *exc: object) -> None:
        for handle in self._handles:
            handle.remove()

    def _start(self, *args: Any) -> None:
        if self.first is None:
            self.first = time.perf_counter()

    def _end(self, *args: Any) -> None:
        self.last = time.perf_counter()

    @property
    def seconds(self) -> float:
        """The span (0 when the module never ran)."""
        return (self.last - self.first) if self.first is not None and self.last is not None else 0.0


class GlmImageAdapter(DiffusionAdapter):
    """GLM-Image: AR visual tokens from an LLM -> DiT over VAE latents -> VAE decoder.

    Parameters: ``text_encoder`` (the T5 glyph encoder), ``denoiser`` (the DiT), ``vae`` and
    ``other`` (the AR model, vision tower and VQ included), ``total``.
    """

    name: ClassVar[str] = "glm_image"
    description: ClassVar[str] = (
        "GLM-Image: an AR LLM emits visual tokens that a diffusion transformer renders "
        "(LLM tokens + diffusion decoder)"
    )
    capabilities: ClassVar[Capability] = Capability.GENERATE
    connector: ClassVar[Connector] = Connector.NONE
    generation: ClassVar[GenerationParadigm] = GenerationParadigm.LLM_TOKENS_DIFFUSION_DECODER
    pipeline_loader: ClassVar[str] = "DiffusionPipeline"
    pipeline_class_name: ClassVar[str | None] = "GlmImagePipeline"
    one_prompt_per_call: ClassVar[str | None] = (
        "one prompt per pipeline call: the pipeline seeds the AR stage with torch.manual_seed from "
        "the first generator and samples every prompt's visual tokens from that one stream, so a "
        "batch would make an image depend on its batch-mates"
    )

    def load(self) -> None:
        """`DiffusionAdapter.load`, after checking the installed libraries have GLM-Image's classes.

        Raises:
            ConfigError: transformers < 5.0 or diffusers < 0.37 (no GLM-Image classes).
        """
        require_glm_image_classes()
        super().load()

    def resolve_settings(self, settings: ImageGenerationSettings) -> dict[str, Any]:
        """`DiffusionAdapter.resolve_settings`, with the processor's target size when none is given."""
        knobs = super().resolve_settings(settings)
        processor = self.pipe.processor
        knobs.setdefault("width", int(processor.target_w))
        knobs.setdefault("height", int(processor.target_h))
        return knobs

    def draw(
        self, prompts: Sequence[str], seeds: Sequence[int], settings: ImageGenerationSettings
    ) -> DrawResult:
        """`DiffusionAdapter.draw` with the AR stage counted and timed beside the DiT."""
        ar = self.pipe.vision_language_encoder
        with ForwardCounter(ar) as ar_calls, _ForwardSpan(ar) as span:
            result = super().draw(prompts, seeds, settings)
        tokens_seconds = span.seconds
        multiplier = max(1, round(result.nfe / result.steps)) if result.steps else 1
        generation_config = ar.generation_config
        return dataclasses.replace(
            result,
            guidance_multiplier=multiplier,
            sequential_calls=ar_calls.calls + result.sequential_calls,
            image_tokens=ar_calls.calls // max(1, len(prompts)),
            stage_seconds={"tokens": tokens_seconds, "render": max(0.0, result.seconds - tokens_seconds)},
            settings={
                **result.settings,
                "ar_sampling": {
                    "do_sample": True,
                    "temperature": generation_config.temperature,
                    "top_k": generation_config.top_k,
                    "top_p": generation_config.top_p,
                },
            },
        )

    def generate_images(
        self, batch: Sequence[GenerateRequest], settings: ImageGenerationSettings
    ) -> list[GenerateResponse]:
        """`DiffusionAdapter.generate_images`, with the AR model's exact input as the prompt and
        its token count as the input tokens."""
        responses = super().generate_images(batch, settings)
        out = []
        for request, response in zip(batch, responses, strict=True):
            ids = self.ar_input_ids(request.text, response.settings["width"], response.settings["height"])
            out.append(
                dataclasses.replace(
                    response,
                    prompt=str(self.pipe.processor.tokenizer.decode(ids)),
                    usage=dataclasses.replace(response.usage, input_tokens=len(ids)),
                )
            )
        return out

    def ar_input_ids(self, text: str, width: int, height: int) -> list[int]:
        """The token ids the AR model reads for `text` at this size, built as the pipeline builds them."""
        messages = [[{"role": "user", "content": [{"type": "text", "text": text}]}]]
        enc = self.pipe.processor.apply_chat_template(
            messages, tokenize=True, target_h=height, target_w=width, return_dict=True
        )
        return [int(i) for i in enc["input_ids"][0]]

    def count_prompt_tokens(self, prompts: Sequence[str]) -> list[int]:
        """Placeholder counts: `generate_images` replaces them with the AR prompt's tokens
        (the count depends on the image size, which this hook does not see)."""
        return [0] * len(prompts)

    @classmethod
    def build_tiny(cls, out_dir: Path, *, seed: int = 0) -> Path:
        """Write the tiny random checkpoint of `mllmbench.adapters.tiny.glm_image` to `out_dir`."""
        from mllmbench.adapters.tiny import glm_image

        require_glm_image_classes()
        return glm_image.build(out_dir, seed=seed)


def require_glm_image_classes() -> None:
    """Raise `ConfigError` naming the versions when transformers or diffusers lack GLM-Image."""
    import diffusers
    import transformers

    missing = [
        f"{lib.__name__} {lib.__version__} has no {cls} (needs {floor})"
        for lib, cls, floor in (
            (transformers, "GlmImageForConditionalGeneration", ">= 5.0"),
            (diffusers, "GlmImagePipeline", ">= 0.37"),
        )
        if not hasattr(lib, cls)
    ]
    if missing:
        raise ConfigError("the glm_image adapter needs GLM-Image's classes: " + "; ".join(missing))
