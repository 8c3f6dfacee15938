"""Show-o (Xie et al. 2024): ONE transformer that answers about images and draws them.

Loads checkpoints of `mllmbench.adapters.reference.show_o` (model type ``mllmbench_show_o``, e.g.
the zoo's ``show_o`` member): a Llama decoder over one vocabulary of text tokens, the codes of a
diffusers ``VQModel`` (inside the checkpoint) and a ``[MASK]`` image token, with an
omni-attention mask (causal text, bidirectional image tokens). Early fusion: an image is its VQ
codes in the sequence, with no projector.

* Understanding (`ShowOAdapter.understand`, inherited from `HFVisionLanguageAdapter`): the prompt
  ``<|mmu|><image>USER: {question} ASSISTANT:`` (`render_prompt`); the processor expands
  ``<image>`` to ``<|soi|>``, one placeholder per code and ``<|eoi|>``, the model swaps the
  placeholders for the image's codes, and one left-padded greedy ``generate`` answers the batch
  (image codes and ``[MASK]`` suppressed as answer tokens). Visual tokens: the code grid (64 for
  the zoo's 64x64 images).
* Generation (`ShowOAdapter.generate_images`): ``<|t2i|> prompt <|soi|> [MASK] x grid <|eoi|>``
  unmasked in ``num_inference_steps`` parallel steps (default 12) by diffusers'
  ``AmusedScheduler`` (MaskGIT: cosine schedule, keep the most confident, re-mask the rest,
  Gumbel re-masking temperature annealed from 2 to 0), classifier-free guidance against the empty
  prompt (both rows in one forward per step), then the ``VQModel`` decodes the codes.

Seeds and batching: one request per sampler run, with its own CPU ``torch.Generator`` seeded
from the request's seed (the scheduler draws every code of a batch from one generator, so a
batch would make an image depend on its batch-mates; same seed, same image). Cost per image:
``steps`` = transformer calls = ``sequential_calls``; ``nfe`` = steps x 2 with guidance;
``image_tokens`` = the code grid. ``temperature`` and ``top_k`` do not apply (codes are drawn from
the full softmax) and are recorded as None; the size is the checkpoint's (``width``/``height``
must equal it).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from mllmbench.adapters.hf import HFVisionLanguageAdapter
from mllmbench.core.errors import ConfigError
from mllmbench.core.types import (
    Capability,
    Connector,
    GenerateRequest,
    GenerateResponse,
    GenerateUsage,
    GenerationParadigm,
    GenerationSettings,
    ImageGenerationSettings,
)

log = logging.getLogger(__name__)

DEFAULT_STEPS = 12
"""MaskGIT / aMUSEd's default number of parallel unmasking steps."""
DEFAULT_GUIDANCE_SCALE = 3.0
"""Guidance when the run gives none (3: what the zoo member chose on its validation prompts, `Member.sampling`)."""
MMU_PROMPT = "{marker}{images}USER: {text} ASSISTANT:"


class ShowOAdapter(HFVisionLanguageAdapter):
    """Show-o: VQ codes and text in one Llama with omni-attention; greedy answers, MaskGIT images.

    Connector: ``early_fusion``. Parameters: ``vision`` (the VQ model, encoder and decoder),
    ``connector`` (none: codes are vocabulary ids), ``llm`` (decoder and head, which predict both
    text and image codes). Batching: understanding batched, left-padded; generation one prompt per
    sampler run (see the module doc).
    """

    name: ClassVar[str] = "show_o"
    description: ClassVar[str] = (
        "Show-o: one transformer over text and VQ codes (omni-attention); answers, and draws by "
        "parallel masked-token prediction"
    )
    capabilities: ClassVar[Capability] = Capability.UNDERSTAND | Capability.GENERATE
    connector: ClassVar[Connector] = Connector.EARLY_FUSION
    generation: ClassVar[GenerationParadigm] = GenerationParadigm.MASKED_TOKENS
    model_class_name: ClassVar[str] = "AutoModelForImageTextToText"
    processor_class_name: ClassVar[str] = "ShowOProcessor"
    param_groups: ClassVar[dict[str, tuple[str, ...]]] = {
        "vision": ("vqvae",),
        "connector": (),
        "llm": ("model", "lm_head"),
    }

    def _from_pretrained(self, local_dir: Path | None) -> tuple[Any, Any]:
        """The reference model (fp16 weights cast to the run's dtype) and its `ShowOProcessor`."""
        import torch

        from mllmbench.adapters.reference.show_o import ShowOForConditionalGeneration, ShowOProcessor

        if local_dir is None:
            raise ConfigError(
                f"adapter 'show_o' loads local checkpoints only (no hub class exists); {self.model_id!r} "
                "is not a directory"
            )
        try:
            model = ShowOForConditionalGeneration.from_pretrained(
                local_dir, dtype=getattr(torch, self.dtype), device_map=self.device, use_safetensors=True
            ).eval()
            processor = ShowOProcessor.from_pretrained(local_dir)
        except OSError as exc:
            raise ConfigError(f"cannot load Show-o checkpoint {str(local_dir)!r}: {exc}") from exc
        return model, processor

    # --- understanding -------------------------------------------------------------------------
    def render_prompt(self, text: str, n_images: int) -> str:
        """``<|mmu|><image>USER: {text} ASSISTANT:`` (no marker and no image for a later text turn)."""
        from mllmbench.adapters.reference.show_o import MMU_TOKEN, PROMPT_IMAGE_TOKEN

        marker = MMU_TOKEN if n_images else ""
        return MMU_PROMPT.format(marker=marker, images=PROMPT_IMAGE_TOKEN * n_images, text=text)

    def chat_template_text(self) -> str | None:
        """The fixed prompt format (Show-o has no chat template)."""
        return MMU_PROMPT

    def timed_modules(self) -> list[Any]:
        """The VQ model's encoder, quantisation convolution and quantizer (what encoding runs)."""
        return [self.model.get_submodule(f"vqvae.{name}") for name in ("encoder", "quant_conv", "quantize")]

    def generation_kwargs(self, settings: GenerationSettings) -> dict[str, Any]:
        """The shared greedy settings, with the image codes, ``[MASK]`` and the image markers
        suppressed (an answer is text)."""
        cfg = self.model.config
        kwargs = super().generation_kwargs(settings)
        markers = [cfg.image_token_id, cfg.soi_token_id, cfg.eoi_token_id, cfg.t2i_token_id, cfg.mmu_token_id]
        kwargs["suppress_tokens"] = [*range(cfg.image_code_offset, cfg.mask_token_id + 1), *markers]
        return kwargs

    # --- generation ----------------------------------------------------------------------------
    def image_generation_knobs(self, settings: ImageGenerationSettings) -> dict[str, Any]:
        """Steps and guidance with the defaults filled in (`ConfigError` for another image size)."""
        size = int(self.model.config.image_size)
        for name, value in (("width", settings.width), ("height", settings.height)):
            if value is not None and int(value) != size:
                raise ConfigError(f"show_o draws {size}x{size} images (its code grid); {name}={value} asked")
        if settings.temperature is not None or settings.top_k is not None:
            log.warning("show_o: temperature/top_k do not apply (codes come from the full softmax); ignored")
        steps = DEFAULT_STEPS if settings.num_inference_steps is None else int(settings.num_inference_steps)
        if steps < 1:
            raise ConfigError(f"show_o: num_inference_steps must be at least 1, got {steps}")
        guidance = (
            DEFAULT_GUIDANCE_SCALE if settings.guidance_scale is None else float(settings.guidance_scale)
        )
        return {"steps": steps, "guidance_scale": guidance, "size": size}

    def generate_images(
        self, batch: Sequence[GenerateRequest], settings: ImageGenerationSettings
    ) -> list[GenerateResponse]:
        """One image per request, each from its own seeded sampler run (see the module doc)."""
        if not batch:
            return []
        knobs = self.image_generation_knobs(settings)
        return [self._draw_one(request, knobs) for request in batch]

    def _draw_one(self, request: GenerateRequest, knobs: dict[str, Any]) -> GenerateResponse:
        import torch

        from mllmbench.adapters.reference.show_o import DEFAULT_REMASK_TEMPERATURE, T2I_TOKEN

        model, cfg = self.model, self.model.config
        start = time.perf_counter()
        prompt_ids = [int(t) for t in self.tokenizer(request.text, add_special_tokens=False)["input_ids"]]
        generator = torch.Generator().manual_seed(int(request.seed))
        with torch.inference_mode():
            codes, calls = model.sample_image_codes(
                prompt_ids, steps=knobs["steps"], guidance_scale=knobs["guidance_scale"], generator=generator
            )
            self._synchronize()
            generated = time.perf_counter()
            pixels = model.decode_image_codes(codes)
        images = self.processor.postprocess(pixels)
        end = time.perf_counter()
        multiplier = 2 if knobs["guidance_scale"] > 1.0 else 1
        grid = int(cfg.image_grid)
        return GenerateResponse(
            images=tuple(images),
            prompt=f"{T2I_TOKEN}{request.text}",
            settings={
                "num_inference_steps": knobs["steps"],
                "guidance_scale": knobs["guidance_scale"],
                "temperature": None,
                "top_k": None,
                "width": images[0].size[0],
                "height": images[0].size[1],
                "seed": request.seed,
                "negative_prompt": "",
                "masking_schedule": "cosine",
                "remask_temperature": [float(t) for t in DEFAULT_REMASK_TEMPERATURE],
                "code_grid": [grid, grid],
            },
            usage=GenerateUsage(
                batch_seconds=end - start,
                batch_size=1,
                steps=knobs["steps"],
                nfe=knobs["steps"] * multiplier,
                guidance_multiplier=multiplier,
                sequential_calls=calls,
                input_tokens=len(prompt_ids) + 3,
                image_tokens=grid * grid,
                stage_seconds={"generate": generated - start, "decode": end - generated},
            ),
        )

    @classmethod
    def build_tiny(cls, out_dir: Path, *, seed: int = 0) -> Path:
        """Write the tiny random checkpoint of `mllmbench.adapters.tiny.show_o` to `out_dir`."""
        from mllmbench.adapters.tiny import show_o

        return show_o.build(out_dir, seed=seed)
