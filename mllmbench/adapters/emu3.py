"""Emu3 (BAAI): one decoder over text and VQ tokens that both understands and generates images.

Loads any ``Emu3ForConditionalGeneration`` checkpoint (``BAAI/Emu3-Chat-hf`` for answers,
``BAAI/Emu3-Gen-hf`` for images; both classes are the same) with its ``Emu3Processor``. A VQ-VAE
(``Emu3VQVAE``) turns an image into a grid of codebook indices, each index is a
``<|visual token NNNNNN|>`` of the LLM's own vocabulary (``config.vocabulary_map``), every grid
row ends with an end-of-line token, and the grid sits in the text sequence between
``<|image start|>{h}*{w}<|image token|>`` and ``<|extra_201|><|image end|>``: early fusion, no
projector.

* Understanding (`Emu3Adapter.understand`, inherited): the processor's chat template
  (``USER: <image>{text} ASSISTANT:``), one left-padded greedy ``generate`` per batch.
* Generation (`Emu3Adapter.generate_images`): the prompt plus the image header that
  ``Emu3Processor(return_for_image_generation=True)`` appends; ``generate`` samples the grid one
  token at a time, constrained (transformers' documented ``prefix_allowed_tokens_fn``) to
  visual tokens inside a row, the end-of-line token at the end of each row and end of frame,
  end of image and EOS after the last; ``decode_image_tokens`` runs the VQ decoder and the image
  processor's ``postprocess`` gives RGB images. The generation paradigm is autoregressive VQ.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from mllmbench.adapters.counting import ForwardCounter
from mllmbench.adapters.hf import HFVisionLanguageAdapter
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

IMAGE_TOKEN = "<image>"
IMAGE_START_TOKEN = "<|image start|>"
IMAGE_END_TOKEN = "<|image end|>"
IMAGE_WRAPPER_TOKEN = "<|image token|>"
EOF_TOKEN = "<|extra_201|>"
"""End of frame: follows the last row of a code grid."""
EOL_TOKEN = "<|extra_200|>"
"""End of line: follows every row of a code grid."""
BOS_TOKEN = "<|extra_203|>"
EOS_TOKEN = "<|extra_204|>"
PAD_TOKEN = "<|endoftext|>"

DEFAULT_GUIDANCE_SCALE = 3.0
"""Classifier-free guidance of Emu3's own text-to-image example."""
DEFAULT_TOP_K = 2048
"""Emu3's text-to-image example samples visual tokens with top-k 2048."""
DEFAULT_TEMPERATURE = 1.0
GRID_TRAILER = 3
"""Tokens after the last grid row: end of frame, end of image, EOS."""


def visual_token(code: int) -> str:
    """The vocabulary name of VQ code `code` (``<|visual token 000042|>``)."""
    return f"<|visual token {code:06d}|>"


@dataclass(frozen=True)
class CodeGrid:
    """One sampled image as codes (`Emu3Adapter.sample_codes`)."""

    tokens: Any
    """(1, steps) generated token ids: the rows with their end-of-line tokens, then the trailer."""
    codes: Any
    """(1, height, width) codebook indices of the VQ tokenizer."""
    prompt: str
    """The prompt as the model read it."""
    input_tokens: int
    calls: int
    """Forward calls of the decoder (both guidance branches)."""
    seconds: float

    @property
    def height(self) -> int:
        """Grid rows."""
        return int(self.codes.shape[1])

    @property
    def width(self) -> int:
        """Grid columns."""
        return int(self.codes.shape[2])

    @property
    def steps(self) -> int:
        """Sampled tokens (one sequential step each)."""
        return int(self.tokens.shape[1])


class Emu3Adapter(HFVisionLanguageAdapter):
    """Emu3: VQ-VAE codes as tokens of one Llama-style decoder, for answers and for images.

    Connector: ``early_fusion`` (discrete image tokens in the text sequence). Visual tokens: the
    ``<image>`` placeholders of one image, i.e. the code grid plus one end-of-line token per
    row. Parameters: ``vision`` (the VQ-VAE, encoder and decoder), ``connector`` (none: a lookup
    table maps codes to tokens), ``llm`` (decoder and head).

    Batching: understanding is batched, left-padded; image generation draws one prompt per
    ``generate`` call, because the sampler draws every token of a batch from the one global RNG
    (an image would depend on its batch-mates instead of only on its seed).
    """

    name: ClassVar[str] = "emu3"
    description: ClassVar[str] = (
        "Emu3: one decoder over text and VQ tokens; answers about images and draws them token by token"
    )
    capabilities: ClassVar[Capability] = Capability.UNDERSTAND | Capability.GENERATE
    connector: ClassVar[Connector] = Connector.EARLY_FUSION
    generation: ClassVar[GenerationParadigm] = GenerationParadigm.AUTOREGRESSIVE_VQ
    model_class_name: ClassVar[str] = "Emu3ForConditionalGeneration"
    param_groups: ClassVar[dict[str, tuple[str, ...]]] = {
        "vision": ("model.vqmodel",),
        "connector": (),
        "llm": ("model.text_model", "lm_head"),
    }

    def timed_modules(self) -> list[Any]:
        """The VQ-VAE's encoder, quantisation convolution and quantizer (what ``encode`` runs)."""
        return [
            self.model.get_submodule(f"model.vqmodel.{name}")
            for name in ("encoder", "quant_conv", "quantize")
        ]

    # --- image generation ------------------------------------------------------------------
    def generate_images(
        self, batch: Sequence[GenerateRequest], settings: ImageGenerationSettings
    ) -> list[GenerateResponse]:
        """Draw one image per request, each in its own ``generate`` call seeded with its seed.

        The prompt is the request text as it is (the processor prepends BOS and appends the
        image header ``<|image start|>{h}*{w}<|image token|>``). Classifier-free guidance is
        transformers' unbatched one: the unconditional branch is the same header with an empty
        prompt, run as a second forward call after the conditional one at every step, so
        ``nfe`` and ``sequential_calls`` are both 2 x steps (steps = generated tokens: the
        code grid, the end-of-line tokens and the three closing tokens).

        Knobs: ``guidance_scale`` (default: the generation config's, else 3), ``temperature``
        (default 1), ``top_k`` (default 2048, Emu3's recipe); ``width``/``height`` set the
        processor's ratio and area (default: a square of the processor's generation area, capped
        at the image processor's ``max_pixels``); steps follow from the size.
        """
        if not batch:
            return []
        knobs = self.image_generation_knobs(settings)
        config = self._image_generation_config(knobs)
        return [self._draw_one(request, knobs, config) for request in batch]

    def image_generation_knobs(self, settings: ImageGenerationSettings) -> dict[str, Any]:
        """Guidance, temperature, top-k, aspect ratio and pixel area with Emu3's defaults filled in."""
        configured = getattr(self.model.generation_config, "guidance_scale", None)
        guidance = settings.guidance_scale
        if guidance is None:
            guidance = float(configured) if configured is not None else DEFAULT_GUIDANCE_SCALE
        if settings.num_inference_steps is not None:
            log.warning("emu3: num_inference_steps does not apply (one step per image token); ignored")
        processor = self.processor
        if settings.width is not None or settings.height is not None:
            width = settings.width or settings.height
            height = settings.height or settings.width
            assert width is not None and height is not None
            ratio, area = f"{width}:{height}", width * height
        else:
            ratio = "1:1"
            area = min(int(processor.image_area), int(processor.image_processor.max_pixels))
        return {
            "guidance_scale": float(guidance),
            "temperature": DEFAULT_TEMPERATURE
            if settings.temperature is None
            else float(settings.temperature),
            "top_k": DEFAULT_TOP_K if settings.top_k is None else int(settings.top_k),
            "ratio": ratio,
            "image_area": area,
        }

    def _image_generation_config(self, knobs: dict[str, Any]) -> Any:
        """A copy of the generation config set up for sampling image tokens (the loaded one stays)."""
        tokenizer = self.tokenizer
        config = copy.deepcopy(self.model.generation_config)
        config.do_sample = True
        config.num_beams = 1
        config.guidance_scale = knobs["guidance_scale"] if knobs["guidance_scale"] > 1 else None
        config.temperature = knobs["temperature"]
        config.top_k = knobs["top_k"]
        config.top_p = 1.0
        config.eos_token_id = tokenizer.eos_token_id
        if config.pad_token_id is None:
            config.pad_token_id = tokenizer.pad_token_id
        return config

    def sample_codes(self, request: GenerateRequest, knobs: dict[str, Any], config: Any) -> CodeGrid:
        """One prompt through constrained sampling: the code grid, before any decoder."""
        import torch

        model, processor = self.model, self.processor
        start = time.perf_counter()
        size = {"ratio": knobs["ratio"], "image_area": knobs["image_area"]}
        inputs = processor(text=[request.text], return_for_image_generation=True, return_tensors="pt", **size)
        height, width = (int(v) for v in inputs.pop("image_sizes")[0])
        inputs = inputs.to(self.device)
        steps = height * (width + 1) + GRID_TRAILER
        extra: dict[str, Any] = {}
        if config.guidance_scale is not None:
            uncond = processor(text=[""], return_for_image_generation=True, return_tensors="pt", **size)
            uncond.pop("image_sizes")
            uncond = uncond.to(self.device)
            extra = {
                "negative_prompt_ids": uncond["input_ids"],
                "negative_prompt_attention_mask": uncond["attention_mask"],
            }
        allowed = self.allowed_tokens_fn(height, width)
        torch.manual_seed(request.seed)
        with torch.inference_mode(), ForwardCounter(model) as counter:
            out = model.generate(
                **inputs,
                generation_config=config,
                max_new_tokens=steps,
                prefix_allowed_tokens_fn=allowed,
                **extra,
            )
            self._synchronize()
        tokens = out[:, inputs["input_ids"].shape[1] :]
        return CodeGrid(
            tokens=tokens,
            codes=model.model.vocabulary_mapping.convert_bpe2img(
                tokens[:, :-GRID_TRAILER].reshape(-1, height, width + 1)
            ),
            prompt=self.tokenizer.decode(inputs["input_ids"][0]),
            input_tokens=int(inputs["input_ids"].shape[1]),
            calls=counter.calls,
            seconds=time.perf_counter() - start,
        )

    def _draw_one(self, request: GenerateRequest, knobs: dict[str, Any], config: Any) -> GenerateResponse:
        """One prompt through constrained sampling (`sample_codes`) and the VQ decoder."""
        import torch

        grid = self.sample_codes(request, knobs, config)
        height, width = grid.height, grid.width
        start = time.perf_counter()
        with torch.inference_mode():
            pixels = self.model.decode_image_tokens(image_tokens=grid.tokens, height=height, width=width)
        images = [
            image.convert("RGB")
            for image in self.processor.postprocess(
                list(pixels.float().cpu()), return_tensors="PIL.Image.Image"
            )["pixel_values"]
        ]
        decode = time.perf_counter() - start
        multiplier = 2 if config.guidance_scale is not None else 1
        return GenerateResponse(
            images=tuple(images),
            prompt=grid.prompt,
            settings={
                "num_inference_steps": None,
                "guidance_scale": knobs["guidance_scale"],
                "temperature": knobs["temperature"],
                "top_k": knobs["top_k"],
                "width": images[0].size[0],
                "height": images[0].size[1],
                "seed": request.seed,
                "decoding": "sampling",
                "negative_prompt": "",
                "code_grid": [height, width],
            },
            usage=GenerateUsage(
                batch_seconds=grid.seconds + decode,
                batch_size=1,
                steps=grid.steps,
                nfe=grid.steps * multiplier,
                guidance_multiplier=multiplier,
                sequential_calls=grid.calls,
                input_tokens=grid.input_tokens,
                image_tokens=height * width,
                stage_seconds={"generate": grid.seconds, "decode": decode},
            ),
        )

    def allowed_tokens_fn(self, height: int, width: int) -> Any:
        """transformers' documented Emu3 constraint: visual tokens inside a row, end-of-line after
        each row, then end of frame, end of image, EOS, and padding after that."""
        import torch

        tokenizer, mapping = self.tokenizer, self.model.vocabulary_mapping
        visual = list(mapping.image_tokens)
        wrapper = tokenizer.convert_tokens_to_ids(IMAGE_WRAPPER_TOKEN)
        tail = (
            (tokenizer.convert_tokens_to_ids(EOF_TOKEN),),
            (tokenizer.convert_tokens_to_ids(IMAGE_END_TOKEN),),
            (tokenizer.eos_token_id,),
        )
        grid_end = (width + 1) * height

        def allowed(batch_id: int, input_ids: Any) -> Any:
            position = int(torch.nonzero(input_ids == wrapper, as_tuple=True)[0][0])
            offset = input_ids.shape[0] - position
            if offset > grid_end + len(tail):
                return (tokenizer.pad_token_id,)
            if offset > grid_end:
                return tail[offset - grid_end - 1]
            if offset % (width + 1) == 0:
                return (mapping.eol_token_id,)
            return visual

        return allowed

    @classmethod
    def build_tiny(cls, out_dir: Path, *, seed: int = 0) -> Path:
        """Write the tiny random checkpoint of `mllmbench.adapters.tiny.emu3` to `out_dir`."""
        from mllmbench.adapters.tiny import emu3

        return emu3.build(out_dir, seed=seed)
