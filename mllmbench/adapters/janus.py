"""Janus (DeepSeek): a unified model that decouples visual encoding for understanding and generation.

Loads any ``JanusForConditionalGeneration`` checkpoint (``deepseek-community/Janus-Pro-1B`` and
the like) with its ``JanusProcessor``. One Llama-style LLM serves two visual paths:

* understanding (this adapter, text out): a SigLIP-style ViT encodes the image and a 2-layer
  MLP aligner maps its patch features into the LLM, one ``<image_placeholder>`` position each
  (576 for Janus-Pro), between ``<begin_of_image>`` and ``<end_of_image>``;
* generation (`JanusAdapter.generate_images`): the LLM predicts discrete VQ codes
  (``generation_embeddings``, ``generation_aligner``, ``generation_head``) that the VQ-VAE
  decodes to pixels, so the family's generation paradigm is autoregressive VQ. One checkpoint
  thus gives a unified model both its understanding and its generation rows.

Prompts come from the processor's chat template (``<|User|>: <image_placeholder>\\n{text}\\n\\n
<|Assistant|>:``); the hub checkpoints' processors also prepend Janus's default system prompt
(``use_default_system_prompt``), which the processor does, so it is not part of the recorded
prompt.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from mllmbench.adapters.counting import ForwardCounter
from mllmbench.adapters.hf import HFVisionLanguageAdapter, render_chat
from mllmbench.core.types import (
    Capability,
    Connector,
    GenerateRequest,
    GenerateResponse,
    GenerateUsage,
    GenerationParadigm,
    ImageGenerationSettings,
)

log = logging.getLogger(__name__)

IMAGE_TOKEN = "<image_placeholder>"
BEGIN_IMAGE_TOKEN = "<begin_of_image>"
END_IMAGE_TOKEN = "<end_of_image>"

DEFAULT_GUIDANCE_SCALE = 5.0
"""Classifier-free guidance of Janus's text-to-image recipe (and transformers' Janus default)."""
DEFAULT_TEMPERATURE = 1.0
"""Janus samples image tokens at temperature 1 with no top-k filter."""


class JanusAdapter(HFVisionLanguageAdapter):
    """Janus / Janus-Pro, understanding side: SigLIP ViT -> MLP aligner -> Llama LLM (text out).

    Connector: ``mlp``. Janus is a unified early-fusion-*generation* model, but its
    understanding path feeds continuous ViT features through an MLP, the LLaVA paradigm; the
    discrete VQ tokens only appear when it generates images (``generation`` is
    `GenerationParadigm.AUTOREGRESSIVE_VQ`, served by `generate_images`).

    Visual tokens: each image becomes ``num_image_tokens`` ``<image_placeholder>`` positions
    (one per patch), not counting the begin/end-of-image tokens around them.

    Parameters: ``vision`` (ViT), ``connector`` (aligner), ``llm`` (language model and head) and
    ``generation``: the VQ-VAE and the generation embeddings, aligner and head, which text
    answers do not use.

    Batching: understanding is batched, left-padded; image generation draws one prompt per
    ``generate`` call, because transformers' Janus samples every image token of a batch from the
    one global RNG, so an image would depend on its batch-mates instead of only on its seed.
    """

    name: ClassVar[str] = "janus"
    description: ClassVar[str] = (
        "Janus: decoupled visual encoding; SigLIP ViT and MLP aligner for understanding, VQ tokens for generation"
    )
    capabilities: ClassVar[Capability] = Capability.UNDERSTAND | Capability.GENERATE
    connector: ClassVar[Connector] = Connector.MLP
    generation: ClassVar[GenerationParadigm] = GenerationParadigm.AUTOREGRESSIVE_VQ
    model_class_name: ClassVar[str] = "JanusForConditionalGeneration"
    param_groups: ClassVar[dict[str, tuple[str, ...]]] = {
        "vision": ("model.vision_model",),
        "connector": ("model.aligner",),
        "llm": ("model.language_model", "lm_head"),
        "generation": (
            "model.vqmodel",
            "model.generation_embeddings",
            "model.generation_aligner",
            "model.generation_head",
        ),
    }

    # --- image generation ------------------------------------------------------------------
    def generate_images(
        self, batch: Sequence[GenerateRequest], settings: ImageGenerationSettings
    ) -> list[GenerateResponse]:
        """Draw one image per request: chat template, ``<begin_of_image>``, sampled VQ codes, VQ decode.

        The user turn goes through the processor's chat template with the assistant prompt
        (``<|User|>: {text}\\n\\n<|Assistant|>:``, no system prompt, as in Janus's own
        text-to-image recipe); ``processor(generation_mode="image")`` appends
        ``<begin_of_image>``. transformers' ``generate(generation_mode="image")`` then samples
        ``num_image_tokens`` codes with classifier-free guidance (it always runs the
        conditional and the unconditional row, so ``nfe`` = 2 x tokens, counted on the LLM's
        forward calls), ``decode_image_tokens`` turns them into pixels (HWC) and the
        image processor's ``postprocess`` (PIL backend) into RGB images.

        Seeds: ``torch.manual_seed(request.seed)`` before each prompt, so the same seed and knobs
        give the same image on one device; the CPU and CUDA samplers draw different codes from
        the same seed, so images are not comparable across devices.

        Knobs: ``guidance_scale`` (default: the generation config's, else 5), ``temperature``
        (default 1), ``top_k`` (default none: every code may be drawn); steps, width and height
        are fixed by the checkpoint (one step per image token) and reported as such.
        """
        if not batch:
            return []
        knobs = self.image_generation_knobs(settings)
        config = self._image_generation_config(knobs)
        return [self._draw_one(request, knobs, config) for request in batch]

    def _draw_one(self, request: GenerateRequest, knobs: dict[str, Any], config: Any) -> GenerateResponse:
        """One prompt through ``generate(generation_mode="image")`` and the VQ decoder."""
        import torch

        model, processor = self.model, self.processor
        n_tokens = int(model.model.vision_model.config.num_image_tokens)
        prompt = self.image_prompt(request.text)
        start = time.perf_counter()
        inputs = processor(text=[prompt], generation_mode="image", return_tensors="pt").to(self.device)
        torch.manual_seed(request.seed)
        with torch.inference_mode(), ForwardCounter(model.model.language_model) as rows:
            codes = model.generate(**inputs, generation_config=config, generation_mode="image")
            self._synchronize()
            generated = time.perf_counter()
            pixels = model.decode_image_tokens(codes)
        images = self.postprocess_images(pixels)
        end = time.perf_counter()
        multiplier = rows.rows // max(1, rows.calls)
        return GenerateResponse(
            images=tuple(images),
            prompt=prompt + processor.image_start_token,
            settings={
                "num_inference_steps": None,
                "guidance_scale": knobs["guidance_scale"],
                "temperature": knobs["temperature"],
                "top_k": knobs["top_k"],
                "width": images[0].size[0],
                "height": images[0].size[1],
                "seed": request.seed,
                "decoding": "sampling",
                "image_tokens": int(codes.shape[1]),
            },
            usage=GenerateUsage(
                batch_seconds=end - start,
                batch_size=1,
                steps=n_tokens,
                nfe=n_tokens * multiplier,
                guidance_multiplier=multiplier,
                sequential_calls=rows.calls,
                input_tokens=int(inputs["input_ids"].shape[1]),
                image_tokens=int(codes.shape[1]),
                stage_seconds={"generate": generated - start, "decode": end - generated},
            ),
        )

    def image_prompt(self, text: str) -> str:
        """The user turn through the chat template, ending with the assistant prompt."""
        messages = [{"role": "user", "content": [{"type": "text", "text": text}]}]
        return render_chat(
            self.processor, messages, missing=f"checkpoint {self.model_id!r} has no chat template"
        )

    def image_generation_knobs(self, settings: ImageGenerationSettings) -> dict[str, Any]:
        """Guidance, temperature and top-k with Janus's defaults filled in."""
        configured = getattr(self.model.generation_config, "guidance_scale", None)
        guidance = settings.guidance_scale
        if guidance is None:
            guidance = float(configured) if configured is not None else DEFAULT_GUIDANCE_SCALE
        size = int(self.model.model.vqmodel.config.num_patches) * 2 ** (
            len(self.model.model.vqmodel.config.channel_multiplier) - 1
        )
        if settings.num_inference_steps is not None:
            log.warning("janus: num_inference_steps does not apply (one step per image token); ignored")
        if (settings.width, settings.height) != (None, None) and (settings.width, settings.height) != (
            size,
            size,
        ):
            log.warning("janus: this checkpoint draws %dx%d images only; width/height ignored", size, size)
        return {
            "guidance_scale": float(guidance),
            "temperature": DEFAULT_TEMPERATURE
            if settings.temperature is None
            else float(settings.temperature),
            "top_k": settings.top_k,
        }

    def _image_generation_config(self, knobs: dict[str, Any]) -> Any:
        """A copy of the generation config set up for image mode (the loaded one stays untouched)."""
        tokenizer = self.tokenizer
        config = copy.deepcopy(self.model.generation_config)
        config.generation_kwargs = {
            "boi_token_id": tokenizer.convert_tokens_to_ids(self.processor.image_start_token)
        }
        if config.bos_token_id is None:
            config.bos_token_id = tokenizer.bos_token_id
        if config.pad_token_id is None:
            config.pad_token_id = tokenizer.pad_token_id
        config.do_sample = True
        config.num_beams = 1
        config.guidance_scale = knobs["guidance_scale"]
        config.temperature = knobs["temperature"]
        config.top_k = knobs["top_k"] if knobs["top_k"] is not None else 0
        config.top_p = 1.0
        return config

    def postprocess_images(self, pixels: Any) -> list[Any]:
        """Decoded HWC pixels -> RGB PIL images through the image processor's PIL ``postprocess``.

        The PIL backend is pinned: its ``postprocess`` takes channels-first arrays (the decoder
        gives HWC), while the torchvision backend's cannot return PIL images.
        """
        from transformers import JanusImageProcessorPil

        source = self.processor.image_processor
        processor = (
            source
            if isinstance(source, JanusImageProcessorPil)
            else JanusImageProcessorPil(
                image_mean=source.image_mean,
                image_std=source.image_std,
                rescale_factor=source.rescale_factor,
                do_normalize=source.do_normalize,
                do_rescale=source.do_rescale,
            )
        )
        arrays = pixels.permute(0, 3, 1, 2).float().cpu().numpy()
        out = processor.postprocess(
            list(arrays), input_data_format="channels_first", return_tensors="PIL.Image.Image"
        )
        return [image.convert("RGB") for image in out["pixel_values"]]

    @classmethod
    def build_tiny(cls, out_dir: Path, *, seed: int = 0) -> Path:
        """Write the tiny random checkpoint of `mllmbench.adapters.tiny.janus` to `out_dir`."""
        from mllmbench.adapters.tiny import janus

        return janus.build(out_dir, seed=seed)
