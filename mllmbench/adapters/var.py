"""VAR (Tian et al. 2024): text-to-image by next-scale prediction over a multi-scale VQ tokenizer.

Loads checkpoints of `mllmbench.adapters.reference.var` (model type ``mllmbench_var``, e.g. the
zoo's ``var`` member) through ``AutoModel`` (the reference module is imported first, which
registers the Auto classes) and the prompt tokenizer saved beside it (``AutoTokenizer``). A
Llama transformer reads the prompt and predicts the VQ token maps coarse to fine (scales
1x1 .. 8x8 for the zoo member): every token of one scale is sampled in parallel, one transformer
call per scale; the summed multi-scale latent ``f_hat`` goes through the ``VQModel`` decoder. The
generation paradigm is therefore ``next_scale``: as many sequential steps as scales.

Knobs: ``guidance_scale`` (default `DEFAULT_GUIDANCE`; classifier-free guidance against the
empty prompt, ``uncond + g * (cond - uncond)`` with a constant ``g`` over the scales, both halves
in one call; 1 or less turns it off), ``temperature`` (default 1; 0 or less takes the most likely
code), ``top_k`` (default None: the whole codebook). ``num_inference_steps`` does not apply (the
scales are fixed) and is reported as the number of scales; ``width``/``height`` other than the
checkpoint's native size are a resize of the native image (recorded as ``native_size``).

Seeds and batching: one prompt per call, with a CPU ``torch.Generator`` seeded from the request's
seed, so an image depends on its seed and prompt only (same seed, same image).

Cost per image: ``steps`` = scales; ``sequential_calls`` = transformer calls (counted, one per
scale); ``nfe`` = rows run (x2 with guidance); ``image_tokens`` = the tokens of all scales.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from mllmbench.adapters.base import Adapter
from mllmbench.adapters.checkpoints import check_device_and_dtype, checkpoint_hash, resolve_checkpoint
from mllmbench.adapters.counting import ForwardCounter
from mllmbench.core.errors import ConfigError, MissingResourceError
from mllmbench.core.types import (
    AdapterInfo,
    Capability,
    Connector,
    GenerateRequest,
    GenerateResponse,
    GenerateUsage,
    GenerationParadigm,
    ImageGenerationSettings,
    Paradigm,
)

log = logging.getLogger(__name__)

DEFAULT_GUIDANCE = 3.0
"""Guidance when the run sets none (the zoo member's own choice is in its ``Member.sampling``)."""
DEFAULT_TEMPERATURE = 1.0
BATCHING = "one prompt per call: each image's tokens are drawn with its own generator, alone"


class VARAdapter(Adapter):
    """VAR: prompt -> Llama next-scale transformer over multi-scale VQ token maps -> VQ decoder.

    Parameters: ``tokenizer`` (the VQ-VAE with its multi-scale quantizer), ``transformer`` (the
    Llama, its input/level/position embeddings and the codebook head) and ``total``.
    """

    name: ClassVar[str] = "var"
    description: ClassVar[str] = (
        "VAR: next-scale prediction, every token of a scale in parallel, one transformer call per scale"
    )
    capabilities: ClassVar[Capability] = Capability.GENERATE
    connector: ClassVar[Connector] = Connector.NONE
    generation: ClassVar[GenerationParadigm] = GenerationParadigm.NEXT_SCALE

    def __init__(
        self, model: str, *, device: str = "cpu", dtype: str = "float32", trust_remote_code: bool = False
    ) -> None:
        super().__init__(model, device=device, dtype=dtype, trust_remote_code=trust_remote_code)
        self._model: Any = None
        self._tokenizer: Any = None

    @property
    def model(self) -> Any:
        """The loaded `VARForTextToImage` (``RuntimeError`` before `load`)."""
        return self._require_loaded(self._model)

    @property
    def tokenizer(self) -> Any:
        """The prompt tokenizer (``RuntimeError`` before `load`)."""
        return self._require_loaded(self._tokenizer)

    # --- lifecycle -------------------------------------------------------------------------
    def load(self) -> None:
        """Load model and tokenizer on the device in the dtype, then record `info`.

        Raises:
            ConfigError: bad dtype, missing local path, a checkpoint of another model type.
            MissingResourceError: a hub id that is not in the local cache (no downloads here).
        """
        import torch
        from transformers import AutoModel, AutoTokenizer

        from mllmbench.adapters.reference.var import VARForTextToImage

        local_dir = resolve_checkpoint(self.model_id)
        check_device_and_dtype(self.device, self.dtype)
        source = str(local_dir) if local_dir is not None else self.model_id
        try:
            model = AutoModel.from_pretrained(source, dtype=getattr(torch, self.dtype), local_files_only=True)
            tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=True)
        except OSError as exc:
            if local_dir is None:
                raise MissingResourceError(
                    f"model {self.model_id!r} is not a local directory and is not in the Hugging Face cache ({exc})"
                ) from exc
            raise ConfigError(f"cannot load a VAR checkpoint from {source!r}: {exc}") from exc
        except ValueError as exc:
            raise ConfigError(f"{source!r} is not a VAR checkpoint: {exc}") from exc
        if not isinstance(model, VARForTextToImage):
            raise ConfigError(
                f"{source!r} loads as {type(model).__name__}; the var adapter needs a VARForTextToImage"
            )
        loaded: Any = model
        self._model, self._tokenizer = loaded.to(self.device).eval(), tokenizer
        self._info = self._build_info(local_dir)
        log.info("loaded var from %s on %s (%s)", self.model_id, self.device, self.dtype)

    def _build_info(self, local_dir: Path | None) -> AdapterInfo:
        from mllmbench.core.profiling import weights_bytes

        model = self.model
        tokenizer_params = sum(p.numel() for p in model.vqvae.parameters())
        total = sum(p.numel() for p in model.parameters())
        return AdapterInfo(
            name=self.name,
            checkpoint=self.model_id,
            checkpoint_hash=checkpoint_hash(local_dir) if local_dir is not None else None,
            dtype=self.dtype,
            device=self.device,
            capabilities=self.capabilities,
            paradigm=Paradigm(
                family=self.name,
                connector=self.connector,
                generation=self.generation,
                vision_encoder=type(model.vqvae.vq).__name__,
                llm_backbone=type(model.transformer).__name__,
            ),
            parameters={
                "tokenizer": tokenizer_params,
                "transformer": total - tokenizer_params,
                "total": total,
            },
            visual_tokens_per_image=self.image_tokens,
            model_class=type(model).__name__,
            processor_class=type(self.tokenizer).__name__,
            chat_template=None,
            batching=BATCHING,
            weights_bytes=weights_bytes(model),
        )

    def close(self) -> None:
        """Drop the model and tokenizer."""
        self._model = self._tokenizer = None
        super().close()

    # --- generation ------------------------------------------------------------------------
    @property
    def image_tokens(self) -> int:
        """Tokens of all scales of one image."""
        return sum(s * s for s in self.model.scales)

    @property
    def native_size(self) -> int:
        """Side in pixels of the images the decoder draws."""
        vq = self.model.vqvae.vq
        return int(self.model.vqvae.grid * 2 ** (len(vq.config.block_out_channels) - 1))

    def knobs(self, settings: ImageGenerationSettings) -> dict[str, Any]:
        """Guidance, temperature, top-k and size with the defaults filled in."""
        if settings.num_inference_steps is not None and settings.num_inference_steps != len(
            self.model.scales
        ):
            log.warning("var: num_inference_steps does not apply (one step per scale); ignored")
        native = self.native_size
        return {
            "guidance_scale": float(settings.guidance_scale)
            if settings.guidance_scale is not None
            else DEFAULT_GUIDANCE,
            "temperature": float(settings.temperature)
            if settings.temperature is not None
            else DEFAULT_TEMPERATURE,
            "top_k": settings.top_k,
            "width": settings.width or settings.height or native,
            "height": settings.height or settings.width or native,
        }

    def generate_images(
        self, batch: Sequence[GenerateRequest], settings: ImageGenerationSettings
    ) -> list[GenerateResponse]:
        """One image per request, each drawn alone with a generator seeded from its seed."""
        if not batch:
            return []
        knobs = self.knobs(settings)
        return [self._draw_one(request, knobs) for request in batch]

    def _prompt(self, texts: list[str]) -> tuple[Any, Any]:
        length = int(self.model.config.prompt_length)
        enc = self.tokenizer(
            texts, padding="max_length", truncation=True, max_length=length, return_tensors="pt"
        )
        return enc["input_ids"].to(self.device), enc["attention_mask"].to(self.device)

    def _draw_one(self, request: GenerateRequest, knobs: dict[str, Any]) -> GenerateResponse:
        import torch
        from PIL import Image

        model = self.model
        guidance = knobs["guidance_scale"]
        guided = guidance > 1.0
        ids, mask = self._prompt([request.text])
        uncond_ids, uncond_mask = self._prompt([""]) if guided else (None, None)
        generator = torch.Generator(device="cpu").manual_seed(int(request.seed))
        self._synchronize()
        start = time.perf_counter()
        with torch.inference_mode(), ForwardCounter(model.transformer) as counter:
            f_hat, _ = model.sample(
                ids,
                mask,
                [generator],
                guidance_scale=guidance if guided else 1.0,
                uncond_ids=uncond_ids,
                uncond_mask=uncond_mask,
                temperature=knobs["temperature"],
                top_k=knobs["top_k"],
            )
            self._synchronize()
            tokens_done = time.perf_counter()
            pixels = model.decode(f_hat)
        self._synchronize()
        end = time.perf_counter()
        array = ((pixels[0].float() / 2 + 0.5).clamp(0, 1).permute(1, 2, 0).cpu().numpy() * 255).round()
        image = Image.fromarray(array.astype("uint8")).convert("RGB")
        native = image.size
        size = (int(knobs["width"]), int(knobs["height"]))
        if size != native:
            image = image.resize(size, Image.Resampling.LANCZOS)
        steps = len(model.scales)
        return GenerateResponse(
            images=(image,),
            prompt=request.text,
            settings={
                "num_inference_steps": steps,
                "guidance_scale": guidance,
                "cfg_schedule": "constant",
                "temperature": knobs["temperature"],
                "top_k": knobs["top_k"],
                "top_p": None,
                "width": size[0],
                "height": size[1],
                "native_size": list(native),
                "scales": list(model.scales),
                "negative_prompt": "",
                "seed": request.seed,
            },
            usage=GenerateUsage(
                batch_seconds=end - start,
                batch_size=1,
                steps=steps,
                nfe=counter.rows,
                guidance_multiplier=max(1, round(counter.rows / max(1, counter.calls))),
                sequential_calls=counter.calls,
                input_tokens=int(mask.sum()),
                image_tokens=self.image_tokens,
                stage_seconds={"tokens": tokens_done - start, "decode": end - tokens_done},
            ),
        )

    # --- tiny checkpoints ------------------------------------------------------------------
    @classmethod
    def build_tiny(cls, out_dir: Path, *, seed: int = 0) -> Path:
        """Write the tiny random checkpoint of `mllmbench.adapters.tiny.var` to `out_dir`."""
        from mllmbench.adapters.tiny import var

        return var.build(out_dir, seed=seed)
