"""Transfusion (Zhou et al. 2024): one transformer reads text and continuous image patches, and
draws images by denoising patches inside the same sequence.

Loads checkpoints of `mllmbench.adapters.reference.transfusion` (model type
``mllmbench_transfusion``, e.g. the zoo's ``transfusion`` member): a Llama transformer, linear
patch projections in and out, a timestep embedding and the ``AutoencoderKL`` whose latents are
the image, all in one ``save_pretrained`` directory with the tokenizer.

* Understanding (`TransfusionAdapter.understand`, inherited from `HFVisionLanguageAdapter`):
  the prompt is ``<boi><image><eoi>`` per image, then the task text (`render_prompt`); the
  processor repeats ``<image>`` once per latent patch and the model puts the VAE latent's
  patches (timestep 0, i.e. clean) there; one left-padded greedy ``generate`` per batch. The
  connector is ``mlp``: continuous patch features reach the LLM through a linear projector
  (``early_fusion`` is this benchmark's name for discrete image tokens).
* Generation (`TransfusionAdapter.generate_images`): the sequence ``[prompt][<boi>][patches]
  [<eoi>]``; the patches start as Gaussian noise from the request's seed and a diffusers
  ``FlowMatchEulerDiscreteScheduler`` integrates the velocity the transformer predicts for them,
  one transformer call over the whole sequence per step (the text is recomputed each step).
  Classifier-free guidance runs the empty prompt as a second row of the same call (``nfe`` =
  2 x steps, ``sequential_calls`` = steps). The VAE decodes the final latent.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from mllmbench.adapters.counting import ForwardCounter
from mllmbench.adapters.hf import HFVisionLanguageAdapter
from mllmbench.core.errors import ConfigError
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
BOI_TOKEN = "<boi>"
EOI_TOKEN = "<eoi>"
DEFAULT_STEPS = 25
"""Euler steps of the flow sampler when the run sets none."""
DEFAULT_GUIDANCE = 3.0
"""Classifier-free guidance when the run sets none."""


class TransfusionAdapter(HFVisionLanguageAdapter):
    """Transfusion: text tokens and VAE-latent patches in one Llama transformer, both directions.

    Parameters: ``vision`` (the VAE), ``connector`` (patch projections in and out, timestep
    embedding), ``llm`` (the transformer and its LM head). Visual tokens: one position per latent
    patch (``usage.image_tokens``). Batching: understanding is batched, left-padded; generation
    draws one prompt per call (its guided and unguided rows together), so an image depends only
    on its prompt, seed and knobs.
    """

    name: ClassVar[str] = "transfusion"
    description: ClassVar[str] = (
        "Transfusion: one transformer, next-token loss on text and flow matching on VAE-latent "
        "patches in the same sequence; answers and draws"
    )
    capabilities: ClassVar[Capability] = Capability.UNDERSTAND | Capability.GENERATE
    connector: ClassVar[Connector] = Connector.MLP
    generation: ClassVar[GenerationParadigm] = GenerationParadigm.DIFFUSION_IN_LLM
    model_class_name: ClassVar[str] = "AutoModelForImageTextToText"
    param_groups: ClassVar[dict[str, tuple[str, ...]]] = {
        "vision": ("vae",),
        "connector": ("patch_in", "patch_out", "time_embedding"),
        "llm": ("model", "lm_head"),
    }

    def _from_pretrained(self, local_dir: Path | None) -> tuple[Any, Any]:
        """The reference model (eval, on the device, in the dtype) and its `TransfusionProcessor`."""
        import torch

        from mllmbench.adapters.reference.transfusion import (
            TransfusionForConditionalGeneration,
            TransfusionProcessor,
        )

        if local_dir is None:
            raise ConfigError(
                f"transfusion checkpoints are local directories (no hub class exists); got {self.model_id!r}"
            )
        try:
            loader: Any = TransfusionForConditionalGeneration
            model = loader.from_pretrained(str(local_dir), dtype=getattr(torch, self.dtype))
            processor = TransfusionProcessor.from_pretrained(local_dir)
        except (OSError, ValueError, KeyError) as exc:
            raise ConfigError(f"cannot load transfusion checkpoint {local_dir}: {exc}") from exc
        return model.to(self.device).eval(), processor

    def timed_modules(self) -> list[Any]:
        """The VAE encoder, its quantisation convolution and the patch projection."""
        model = self.model
        return [model.vae.encoder, model.vae.quant_conv, model.patch_in]

    def render_prompt(self, text: str, n_images: int) -> str:
        """``<boi><image><eoi>`` per image, then `text` (the processor expands ``<image>``)."""
        return f"{BOI_TOKEN}{IMAGE_TOKEN}{EOI_TOKEN}" * n_images + text

    def chat_template_text(self) -> str | None:
        """The fixed prompt form (the checkpoint has no chat template)."""
        return f"{BOI_TOKEN}{IMAGE_TOKEN}{EOI_TOKEN}{{text}}"

    # --- image generation ------------------------------------------------------------------
    def generation_prompt(self, text: str) -> str:
        """The sequence of one image drawn for `text`: the prompt, then the image block."""
        return f"{text}{BOI_TOKEN}{IMAGE_TOKEN}{EOI_TOKEN}"

    def image_generation_knobs(self, settings: ImageGenerationSettings) -> dict[str, Any]:
        """Steps and guidance with the defaults filled in; the size is the checkpoint's."""
        size = int(self.model.config.image_size)
        if (settings.width or size) != size or (settings.height or size) != size:
            log.warning("transfusion: draws %dx%d images only; width/height ignored", size, size)
        if settings.temperature is not None or settings.top_k is not None:
            log.warning("transfusion: temperature/top_k do not apply to flow sampling; ignored")
        return {
            "num_inference_steps": int(settings.num_inference_steps or DEFAULT_STEPS),
            "guidance_scale": float(
                DEFAULT_GUIDANCE if settings.guidance_scale is None else settings.guidance_scale
            ),
        }

    def generate_images(
        self, batch: Sequence[GenerateRequest], settings: ImageGenerationSettings
    ) -> list[GenerateResponse]:
        """Draw one image per request, each in its own sampling loop seeded with its seed."""
        if not batch:
            return []
        knobs = self.image_generation_knobs(settings)
        return [self._draw_one(request, knobs) for request in batch]

    def scheduler(self) -> Any:
        """A fresh ``FlowMatchEulerDiscreteScheduler`` with the checkpoint's settings."""
        from diffusers import FlowMatchEulerDiscreteScheduler

        config = self.model.config
        if config.prediction_type != "flow":
            raise ConfigError(f"transfusion: unknown prediction_type {config.prediction_type!r}")
        return FlowMatchEulerDiscreteScheduler(**dict(config.scheduler_config or {}))

    def _draw_one(self, request: GenerateRequest, knobs: dict[str, Any]) -> GenerateResponse:
        """One prompt: the flow sampler over the image patches, then the VAE decoder."""
        import torch

        model, processor = self.model, self.processor
        config = model.config
        guidance = knobs["guidance_scale"]
        guided = guidance > 1.0
        start = time.perf_counter()
        prompt = self.generation_prompt(request.text)
        texts = [processor.expand(prompt)]
        if guided:
            texts.append(processor.expand(self.generation_prompt("")))
        tokens = self.tokenizer(texts, return_tensors="pt", padding=True).to(self.device)
        rows = len(texts)
        scheduler = self.scheduler()
        scheduler.set_timesteps(knobs["num_inference_steps"], device=self.device)
        generator = torch.Generator(device="cpu").manual_seed(int(request.seed))
        shape = (1, config.latent_channels, config.latent_size, config.latent_size)
        latents = torch.randn(shape, generator=generator, dtype=torch.float32).to(self.device)
        dtype = getattr(torch, self.dtype)
        with torch.inference_mode(), ForwardCounter(model) as counter:
            for t in scheduler.timesteps:
                patches = model.patchify(latents).to(dtype).expand(rows, -1, -1)
                out = model(
                    input_ids=tokens["input_ids"],
                    attention_mask=tokens["attention_mask"],
                    image_patches=patches,
                    timesteps=t.expand(rows).to(dtype),
                    use_cache=False,
                    logits_to_keep=1,
                ).patch_output.float()
                velocity = out[1:] + guidance * (out[:1] - out[1:]) if guided else out
                latents = scheduler.step(model.unpatchify(velocity), t, latents).prev_sample
            self._synchronize()
            drawn = time.perf_counter()
            pixels = model.decode_latents(latents).float().cpu()
        image = processor.image_processor.postprocess(pixels, output_type="pil")[0].convert("RGB")
        end = time.perf_counter()
        steps = len(scheduler.timesteps)
        return GenerateResponse(
            images=(image,),
            prompt=prompt,
            settings={
                "num_inference_steps": steps,
                "guidance_scale": guidance,
                "temperature": None,
                "top_k": None,
                "width": image.size[0],
                "height": image.size[1],
                "seed": request.seed,
                "negative_prompt": "",
                "scheduler": type(scheduler).__name__,
                "prediction_type": config.prediction_type,
            },
            usage=GenerateUsage(
                batch_seconds=end - start,
                batch_size=1,
                steps=steps,
                nfe=counter.rows,
                guidance_multiplier=rows,
                sequential_calls=counter.calls,
                input_tokens=int(tokens["attention_mask"][0].sum()) - config.image_seq_length,
                stage_seconds={"draw": drawn - start, "decode": end - drawn},
            ),
        )

    @classmethod
    def build_tiny(cls, out_dir: Path, *, seed: int = 0) -> Path:
        """Write the tiny random checkpoint of `mllmbench.adapters.tiny.transfusion` to `out_dir`."""
        from mllmbench.adapters.tiny import transfusion

        return transfusion.build(out_dir, seed=seed)
