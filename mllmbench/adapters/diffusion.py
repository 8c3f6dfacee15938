"""Diffusion baseline: a plain diffusers text-to-image pipeline (Stable Diffusion and the like).

Loads any checkpoint ``diffusers.AutoPipelineForText2Image`` knows (a ``model_index.json``
directory or a hub id already in the local cache: Stable Diffusion 1.x/2.x, SDXL, SD3, PixArt,
Flux ...). The prompt goes to the pipeline as it is: there is no chat template and no image
input, so the connector is ``none`` and the generation paradigm ``diffusion``.

Knobs: every `ImageGenerationSettings` field left ``None`` takes the pipeline's own default
(read from the signature of its ``__call__``: 50 steps and guidance 7.5 for Stable Diffusion;
the size the pipeline draws at by default), and the values used are returned with each
response. The negative prompt is always empty.

Seeds: each request gets its own ``torch.Generator`` on the CPU seeded with the request's seed,
so a prompt's initial noise depends only on its seed (not on the batch, nor on the device). The
same seed, knobs, batch and device give the same pixels; another batch composition or device
changes them only by float rounding (at most 1 RGB level seen on the CPU and on an H200).

Cost: the denoiser (``unet`` or ``transformer``) is hooked for the duration of the call and its
forward passes counted per image: ``nfe`` = forward rows / images (steps x 2 with classifier-free
guidance, which runs the conditional and unconditional halves of every step) and
``sequential_calls`` = forward calls (one per step: both halves share a call).
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

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

if TYPE_CHECKING:
    from PIL.Image import Image

log = logging.getLogger(__name__)

DENOISER_NAMES = ("unet", "transformer", "prior", "decoder")
"""Pipeline attributes that hold the network evaluated at every step, in order of preference."""
VAE_NAMES = ("vae", "vqvae")
"""Pipeline attributes that hold the image autoencoder (continuous latents or VQ codes)."""


@dataclass(frozen=True)
class DrawResult:
    """What one batched pipeline call produced and what it cost."""

    images: list[list[Image]]
    """Per prompt, its images."""
    seconds: float
    steps: int
    nfe: int
    guidance_multiplier: int
    sequential_calls: int
    """Forward calls of the denoiser in the call (one per step; the guidance halves share one)."""
    input_tokens: list[int]
    settings: dict[str, Any]
    """The knobs used, shared by the batch (without the per-request seed)."""
    image_tokens: int = 0
    """Discrete image tokens generated per image on the way (an LLM's visual tokens); 0 for
    plain diffusion."""
    stage_seconds: dict[str, float] | None = None
    """Time of each stage of the call (``tokens``, ``render`` ...); None: one ``draw`` stage."""


class DiffusionAdapter(Adapter):
    """A diffusers text-to-image pipeline: text encoder -> denoiser over latents -> VAE decoder.

    Parameters: ``text_encoder`` (all text encoders), ``denoiser`` (UNet or transformer),
    ``vae`` and ``total``. Batching: batched, one pipeline call per batch of prompts.
    """

    name: ClassVar[str] = "diffusion"
    description: ClassVar[str] = "Diffusers text-to-image pipeline (latent diffusion): the diffusion baseline"
    capabilities: ClassVar[Capability] = Capability.GENERATE
    connector: ClassVar[Connector] = Connector.NONE
    generation: ClassVar[GenerationParadigm] = GenerationParadigm.DIFFUSION
    pipeline_loader: ClassVar[str] = "AutoPipelineForText2Image"
    """The diffusers class whose ``from_pretrained`` loads the checkpoint (``DiffusionPipeline``
    for pipelines the auto class does not map, such as Amused and OmniGen)."""
    pipeline_class_name: ClassVar[str | None] = None
    """The pipeline class a checkpoint must load as (``None``: any text-to-image pipeline)."""
    one_prompt_per_call: ClassVar[str | None] = None
    """Why the pipeline must draw one prompt per call (it samples a whole batch from one
    generator, so an image would depend on its batch-mates), or ``None`` when it takes one
    generator per prompt and draws a batch in one call."""

    def __init__(
        self, model: str, *, device: str = "cpu", dtype: str = "float32", trust_remote_code: bool = False
    ) -> None:
        super().__init__(model, device=device, dtype=dtype, trust_remote_code=trust_remote_code)
        self._pipe: Any = None

    @property
    def pipe(self) -> Any:
        """The loaded diffusers pipeline (``RuntimeError`` before `load`)."""
        return self._require_loaded(self._pipe)

    # --- lifecycle -------------------------------------------------------------------------
    def load(self) -> None:
        """Load the pipeline on the device in the dtype, progress bars off, then record `info`.

        Raises:
            ConfigError: bad dtype, missing local path, a checkpoint that is not a text-to-image
                pipeline, CUDA unavailable.
            MissingResourceError: a hub id that is not in the local cache (no downloads here).
        """
        local_dir = resolve_checkpoint(self.model_id)
        check_device_and_dtype(self.device, self.dtype)
        self._pipe = load_text_to_image_pipeline(
            self.model_id, local_dir, self.dtype, self.device, loader=self.pipeline_loader
        )
        expected = self.pipeline_class_name
        if expected is not None and type(self._pipe).__name__ != expected:
            found = type(self._pipe).__name__
            self._pipe = None
            raise ConfigError(
                f"{self.model_id!r} loads as {found}; the {self.name} adapter needs a {expected}"
            )
        try:
            self._info = self._build_info(local_dir)
        except BaseException:
            self._pipe = None
            raise
        log.info("loaded %s from %s on %s (%s)", self.name, self.model_id, self.device, self.dtype)

    def _build_info(self, local_dir: Path | None) -> AdapterInfo:
        pipe = self.pipe
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
                vision_encoder=type(find_vae(pipe)).__name__ if find_vae(pipe) is not None else "",
                llm_backbone=type(getattr(pipe, "text_encoder", None)).__name__
                if getattr(pipe, "text_encoder", None)
                else "",
            ),
            parameters=pipeline_parameters(pipe),
            visual_tokens_per_image=None,
            model_class=type(pipe).__name__,
            processor_class=type(getattr(pipe, "tokenizer", None)).__name__
            if getattr(pipe, "tokenizer", None)
            else "",
            chat_template=None,
            batching=self.one_prompt_per_call or "batched",
            weights_bytes=pipeline_weights_bytes(pipe),
        )

    def close(self) -> None:
        """Drop the pipeline (and the CUDA cache when on a GPU)."""
        self._pipe = None
        super().close()
        if self.device.startswith("cuda"):
            import torch

            torch.cuda.empty_cache()

    # --- generation ------------------------------------------------------------------------
    def generate_images(
        self, batch: Sequence[GenerateRequest], settings: ImageGenerationSettings
    ) -> list[GenerateResponse]:
        """Draw every request in one pipeline call (or one call each, see `one_prompt_per_call`);
        each request's noise from its own seed."""
        if not batch:
            return []
        if self.one_prompt_per_call:
            calls = [([r], self.draw([r.text], [r.seed], settings)) for r in batch]
        else:
            calls = [(list(batch), self.draw([r.text for r in batch], [r.seed for r in batch], settings))]
        return [
            GenerateResponse(
                images=tuple(images),
                prompt=request.text,
                settings={**result.settings, "seed": request.seed},
                usage=GenerateUsage(
                    batch_seconds=result.seconds,
                    batch_size=len(requests),
                    steps=result.steps,
                    nfe=result.nfe,
                    guidance_multiplier=result.guidance_multiplier,
                    sequential_calls=result.sequential_calls,
                    input_tokens=n_tokens,
                    image_tokens=result.image_tokens,
                    stage_seconds=dict(result.stage_seconds or {"draw": result.seconds}),
                ),
            )
            for requests, result in calls
            for request, images, n_tokens in zip(requests, result.images, result.input_tokens, strict=True)
        ]

    def resolve_settings(self, settings: ImageGenerationSettings) -> dict[str, Any]:
        """The pipeline call's knobs: the settings given, the pipeline's defaults for the rest."""
        params = inspect.signature(self.pipe.__call__).parameters

        def default(name: str) -> Any:
            p = params.get(name)
            return None if p is None or p.default is inspect.Parameter.empty else p.default

        knobs: dict[str, Any] = {
            "num_inference_steps": settings.num_inference_steps or default("num_inference_steps"),
            "guidance_scale": settings.guidance_scale
            if settings.guidance_scale is not None
            else default("guidance_scale"),
        }
        if settings.width is not None:
            knobs["width"] = settings.width
        if settings.height is not None:
            knobs["height"] = settings.height
        if settings.temperature is not None or settings.top_k is not None:
            log.warning("%s: temperature/top_k do not apply to a diffusion pipeline; ignored", self.name)
        return {k: v for k, v in knobs.items() if v is not None and k in params}

    def draw(
        self, prompts: Sequence[str], seeds: Sequence[int], settings: ImageGenerationSettings
    ) -> DrawResult:
        """One pipeline call over `prompts`, one CPU generator per prompt seeded from `seeds`
        (a single generator when `one_prompt_per_call` says the pipeline takes only one)."""
        import torch

        pipe = self.pipe
        knobs = self.resolve_settings(settings)
        generators: Any = [torch.Generator(device="cpu").manual_seed(int(s)) for s in seeds]
        if self.one_prompt_per_call:
            if len(generators) != 1:
                raise ValueError(f"{self.name} draws one prompt per call: {self.one_prompt_per_call}")
            generators = generators[0]
        denoiser = find_denoiser(pipe)
        self._synchronize()
        start = time.perf_counter()
        with torch.inference_mode(), ForwardCounter(denoiser) as counter:
            output = pipe(prompt=list(prompts), generator=generators, output_type="pil", **knobs)
        self._synchronize()
        seconds = time.perf_counter() - start
        images = [im.convert("RGB") for im in output.images]
        per_prompt = len(images) // len(prompts)
        grouped = [images[i * per_prompt : (i + 1) * per_prompt] for i in range(len(prompts))]
        n_images = max(1, len(images))
        steps = int(knobs.get("num_inference_steps") or counter.calls)
        rows_per_call = counter.rows / counter.calls if counter.calls else 0
        width, height = images[0].size
        return DrawResult(
            images=grouped,
            seconds=seconds,
            steps=steps,
            nfe=round(counter.rows / n_images),
            guidance_multiplier=max(1, round(rows_per_call / n_images)) if counter.calls else 1,
            sequential_calls=counter.calls,
            input_tokens=self.count_prompt_tokens(prompts),
            settings={
                "num_inference_steps": steps,
                "guidance_scale": knobs.get("guidance_scale"),
                "temperature": None,
                "top_k": None,
                "width": width,
                "height": height,
                "negative_prompt": "",
                "scheduler": type(getattr(pipe, "scheduler", None)).__name__,
                "images_per_prompt": per_prompt,
            },
        )

    def count_prompt_tokens(self, prompts: Sequence[str]) -> list[int]:
        """Tokens of each prompt as the (first) text encoder reads it, truncation included."""
        tokenizer = getattr(self.pipe, "tokenizer", None)
        if tokenizer is None:
            return [0] * len(prompts)
        enc = tokenizer(list(prompts), truncation=True, max_length=tokenizer.model_max_length)
        return [len(ids) for ids in enc["input_ids"]]

    # --- tiny checkpoints ------------------------------------------------------------------
    @classmethod
    def build_tiny(cls, out_dir: Path, *, seed: int = 0) -> Path:
        """Write the tiny random checkpoint of `mllmbench.adapters.tiny.diffusion` to `out_dir`."""
        from mllmbench.adapters.tiny import diffusion

        return diffusion.build(out_dir, seed=seed)


def load_text_to_image_pipeline(
    model_id: str,
    local_dir: Path | None,
    dtype: str,
    device: str,
    *,
    loader: str = "AutoPipelineForText2Image",
) -> Any:
    """A pipeline through diffusers' `loader` class (``AutoPipelineForText2Image`` by default,
    ``DiffusionPipeline`` for any pipeline) from a local directory or the local hub cache, never
    the network."""
    import diffusers
    import torch

    source = str(local_dir) if local_dir is not None else model_id
    if local_dir is not None and not (local_dir / "model_index.json").is_file():
        raise ConfigError(
            f"{local_dir} is not a diffusers pipeline directory (no model_index.json); "
            f"save one with pipeline.save_pretrained(DIR)"
        )
    try:
        pipe = getattr(diffusers, loader).from_pretrained(
            source, dtype=getattr(torch, dtype), local_files_only=True
        )
    except OSError as exc:
        if local_dir is None:
            raise MissingResourceError(
                f"model {model_id!r} is not a local directory and is not in the Hugging Face cache; "
                f"download it elsewhere and pass its directory ({exc})"
            ) from exc
        raise ConfigError(f"cannot load diffusers pipeline {source!r}: {exc}") from exc
    except ValueError as exc:
        raise ConfigError(f"{source!r} is not a text-to-image pipeline diffusers can load: {exc}") from exc
    pipe = pipe.to(device)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def find_denoiser(pipe: Any) -> Any:
    """The network a pipeline evaluates at every step (``unet``, ``transformer`` ...)."""
    for name in DENOISER_NAMES:
        module = getattr(pipe, name, None)
        if module is not None and hasattr(module, "register_forward_pre_hook"):
            return module
    raise ConfigError(f"{type(pipe).__name__} has none of {DENOISER_NAMES}: cannot count its evaluations")


def find_vae(pipe: Any) -> Any:
    """The pipeline's image autoencoder (``vae`` or ``vqvae``), or None."""
    for name in VAE_NAMES:
        module = getattr(pipe, name, None)
        if module is not None:
            return module
    return None


def _torch_components(pipe: Any) -> dict[str, Any]:
    return {
        name: module
        for name, module in pipe.components.items()
        if module is not None and hasattr(module, "parameters")
    }


def pipeline_parameters(pipe: Any) -> dict[str, int]:
    """Parameters of ``text_encoder`` (all of them), ``denoiser``, ``vae``, ``other`` and ``total``."""
    counts: dict[str, int] = {"text_encoder": 0, "denoiser": 0, "vae": 0}
    denoiser = find_denoiser(pipe)
    for name, module in _torch_components(pipe).items():
        n = sum(p.numel() for p in module.parameters())
        if module is denoiser:
            counts["denoiser"] += n
        elif name.startswith("text_encoder"):
            counts["text_encoder"] += n
        elif name in VAE_NAMES:
            counts["vae"] += n
        else:
            counts["other"] = counts.get("other", 0) + n
    counts["total"] = sum(counts.values())
    return counts


def pipeline_weights_bytes(pipe: Any) -> int:
    """Bytes of every component's parameters and buffers."""
    from mllmbench.core.profiling import weights_bytes

    return sum(weights_bytes(module) for module in _torch_components(pipe).values())
