"""LLM tokens rendered by a diffusion decoder (SEED, SEED-X, DreamLLM): an AR LLM emits discrete
visual tokens, a diffusion model conditioned on them draws the pixels.

SEED trains an LLM to emit the codes of an image tokenizer and a diffusion model to render
images from those codes; the decoder, not the tokenizer's own VQ decoder, makes the pixels.
The checkpoint is a directory holding ``token_decoder.json``, which ties the parts::

    DIR/token_decoder.json  {"llm": "zoo:early_fusion", "vae": "zoo:vae", "decoder": "decoder",
                             "decoder_steps": 25, "decoder_guidance_scale": 3.0}
    DIR/decoder/token_encoder/  a CLIPTextModel over the LLM's codebook (+ one null code)
    DIR/decoder/unet/           a UNet2DModel over [noisy latent, code features]
    DIR/decoder/scheduler/      a DDIMScheduler

``llm`` is an ``Emu3ForConditionalGeneration`` checkpoint (its visual tokens are the codes) and
``vae`` a diffusers ``AutoencoderKL``; each is a subdirectory of DIR, an absolute path, a hub id
in the local cache or ``zoo:NAME``. The codes condition the decoder where they lie, as
GLM-Image's decoder adds its prior tokens' embeddings to the image patches they cover: per code,
the code encoder's feature (CLIP's position embeddings and one transformer pass over the
row-major grid) and the code's vector in the LLM's own VQ codebook (what SEED's decoder reads: the
tokenizer's embedding of the code; zeros for the null code) are upsampled (nearest) to the
latent's size and concatenated to the noisy latent as extra input channels of the UNet (`code_map`). Classifier-
free guidance runs the all-null grid as the unconditional branch, both halves in one UNet call.

Stage 1 (tokens): the `Emu3Adapter`'s constrained sampling (`Emu3Adapter.sample_codes`) with
the run's guidance, temperature and top-k; stage 2 (render): ``decoder_steps`` DDIM steps (the
run's ``num_inference_steps`` overrides it) with ``decoder_guidance_scale``, the initial noise
from the request's seed, then the autoencoder's decoder. Same seed, same image.

Costs: ``steps`` = sampled tokens + denoising steps; ``nfe`` counts both guided branches of both
stages; ``sequential_calls`` = the LLM's forward calls + the denoising steps;
``stage_seconds`` has ``tokens`` and ``render``; ``image_tokens`` is the code grid.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from mllmbench.adapters.base import Adapter
from mllmbench.adapters.emu3 import Emu3Adapter
from mllmbench.adapters.hf import resolve_checkpoint
from mllmbench.adapters.two_stage import combined_hash, read_part_config, resolve_part
from mllmbench.core.errors import ConfigError
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

CONFIG_FILE = "token_decoder.json"
TOKEN_ENCODER_DIR = "token_encoder"
UNET_DIR = "unet"
SCHEDULER_DIR = "scheduler"


@dataclass(frozen=True)
class TokenDecoderConfig:
    """The contents of ``token_decoder.json``."""

    llm: str
    """The Emu3 checkpoint that emits the codes."""
    vae: str
    """The ``AutoencoderKL`` whose latents the decoder denoises."""
    decoder: str = "decoder"
    """Folder with ``token_encoder/``, ``unet/`` and ``scheduler/``."""
    decoder_steps: int = 25
    decoder_guidance_scale: float = 3.0

    @classmethod
    def read(cls, directory: Path) -> TokenDecoderConfig:
        """Parse and check ``directory/token_decoder.json``; `ConfigError` names the file and key."""
        path = directory / CONFIG_FILE
        raw = read_part_config(
            path,
            f"an llm_token_decoder checkpoint is a directory with {CONFIG_FILE} naming the LLM, the "
            "autoencoder and the decoder (see `mllm-bench tiny llm_token_decoder`)",
            allowed={f.name for f in dataclasses.fields(cls)},
        )
        try:
            config = cls(**raw)
        except TypeError as exc:
            raise ConfigError(f"{path}: {exc}") from exc
        for key in ("llm", "vae", "decoder"):
            if not isinstance(getattr(config, key), str) or not getattr(config, key):
                raise ConfigError(f"{path}: {key} must be a non-empty string")
        steps = config.decoder_steps
        if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
            raise ConfigError(f"{path}: decoder_steps must be a positive integer")
        if not isinstance(config.decoder_guidance_scale, int | float) or config.decoder_guidance_scale < 1:
            raise ConfigError(f"{path}: decoder_guidance_scale must be a number >= 1")
        return config

    def to_dict(self) -> dict[str, Any]:
        """The JSON form `read` accepts."""
        return dataclasses.asdict(self)


def code_encoder_config(codebook_size: int, positions: int, width: int, layers: int, heads: int) -> Any:
    """The ``CLIPTextConfig`` of a code encoder: one position per code of the grid (`positions`),
    the codebook plus the null code (id ``codebook_size``) as vocabulary."""
    from transformers import CLIPTextConfig

    null = codebook_size
    return CLIPTextConfig(
        vocab_size=codebook_size + 1,
        hidden_size=width,
        intermediate_size=2 * width,
        projection_dim=width,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        max_position_embeddings=positions,
        bos_token_id=null,
        eos_token_id=null,
        pad_token_id=null,
        attention_dropout=0.0,
    )


def code_map(features: Any, side: int) -> Any:
    """(b, n, c) per-code features of a row-major square grid -> (b, c, side, side), upsampled
    nearest so every code covers the latent positions under it."""
    from torch.nn import functional

    b, n, c = features.shape
    grid = int(round(n**0.5))
    if grid * grid != n:
        raise ValueError(f"{n} codes do not form a square grid")
    maps = features.transpose(1, 2).reshape(b, c, grid, grid)
    return functional.interpolate(maps, size=(side, side), mode="nearest")


def decoder_condition(token_encoder: Any, codebook: Any, codes: Any, side: int) -> Any:
    """(b, width + dims, side, side): the code encoder's features and the codebook vectors of the
    grids `codes` (the null code's vector is zeros), each code over the latent positions it covers."""
    import torch

    flat = codes.reshape(codes.shape[0], -1)
    null = flat >= codebook.shape[0]
    vectors = codebook[flat.clamp(max=codebook.shape[0] - 1)].masked_fill(null[..., None], 0.0)
    features = token_encoder(flat)[0]
    return torch.cat([code_map(features, side), code_map(vectors.to(features.dtype), side)], dim=1)


@dataclass
class CodeDecoder:
    """The decoder's parts: code encoder, UNet, autoencoder and scheduler (see the module doc)."""

    token_encoder: Any
    unet: Any
    vae: Any
    scheduler: Any
    codebook: Any
    """(codes, dims) vectors of the LLM's VQ codebook (``Emu3VQVAE.quantize.embedding``)."""

    @property
    def null_code(self) -> int:
        """The code id of the unconditional grid (the last of the encoder's vocabulary)."""
        return int(self.token_encoder.config.vocab_size) - 1

    @property
    def modules(self) -> dict[str, Any]:
        """The torch modules by parameter group (`pipeline_parameters`' names)."""
        return {"text_encoder": self.token_encoder, "denoiser": self.unet, "vae": self.vae}

    def conditioning(self, codes: Any) -> Any:
        """(b, c, side, side) code features at the latent's resolution (`code_map`)."""
        return decoder_condition(self.token_encoder, self.codebook, codes, int(self.unet.config.sample_size))

    def render(self, codes: Any, steps: int, guidance: float, generator: Any) -> Any:
        """(b, 3, H, W) pixels in [-1, 1] for code grids `codes`: DDIM from seeded noise, the
        conditional and all-null halves in one UNet call per step when `guidance` > 1."""
        import torch

        cond = self.conditioning(codes)
        guided = guidance > 1
        if guided:
            cond = torch.cat([cond, self.conditioning(torch.full_like(codes, self.null_code))])
        side = int(self.unet.config.sample_size)
        shape = (codes.shape[0], int(self.unet.config.out_channels), side, side)
        latents = torch.randn(shape, generator=generator).to(cond.device, cond.dtype)
        latents = latents * self.scheduler.init_noise_sigma
        self.scheduler.set_timesteps(steps)
        for t in self.scheduler.timesteps:
            x = torch.cat([latents, latents]) if guided else latents
            eps = self.unet(torch.cat([x, cond], dim=1), t).sample
            if guided:
                eps_cond, eps_null = eps.chunk(2)
                eps = eps_null + guidance * (eps_cond - eps_null)
            latents = self.scheduler.step(eps, t, latents).prev_sample
        return self.vae.decode(latents / self.vae.config.scaling_factor).sample


class LLMTokenDecoderAdapter(Adapter):
    """Emu3 code sampling -> code encoder + UNet denoising the autoencoder's latents.

    Parameters: ``llm`` (the whole Emu3, its VQ tokenizer included), ``text_encoder`` (the code
    encoder), ``denoiser``, ``vae`` and ``total``. Batching: one image per call in both stages
    (Emu3's sampling is per request; the decoder's noise comes from each request's seed).
    """

    name: ClassVar[str] = "llm_token_decoder"
    description: ClassVar[str] = (
        "SEED-style: an Emu3 LLM emits VQ codes, a diffusion decoder conditioned on them draws the image"
    )
    capabilities: ClassVar[Capability] = Capability.GENERATE
    connector: ClassVar[Connector] = Connector.NONE
    generation: ClassVar[GenerationParadigm] = GenerationParadigm.LLM_TOKENS_DIFFUSION_DECODER

    def __init__(
        self, model: str, *, device: str = "cpu", dtype: str = "float32", trust_remote_code: bool = False
    ) -> None:
        super().__init__(model, device=device, dtype=dtype, trust_remote_code=trust_remote_code)
        self._llm: Emu3Adapter | None = None
        self._decoder: CodeDecoder | None = None
        self._config: TokenDecoderConfig | None = None

    @property
    def llm(self) -> Emu3Adapter:
        """The loaded token-emitting LLM."""
        return self._require_loaded(self._llm)

    @property
    def decoder(self) -> CodeDecoder:
        """The loaded diffusion decoder."""
        return self._require_loaded(self._decoder)

    @property
    def config(self) -> TokenDecoderConfig:
        """The parsed ``token_decoder.json``."""
        return self._require_loaded(self._config)

    def load(self) -> None:
        """Read ``token_decoder.json``, load the LLM and the decoder's parts."""
        import torch
        from diffusers import AutoencoderKL, DDIMScheduler, UNet2DModel
        from transformers import CLIPTextModel

        local_dir = resolve_checkpoint(self.model_id)
        if local_dir is None:
            raise ConfigError(
                f"llm_token_decoder needs a local directory holding {CONFIG_FILE}; {self.model_id!r} is not one"
            )
        config = TokenDecoderConfig.read(local_dir)
        decoder = Path(resolve_part(local_dir, CONFIG_FILE, config.decoder, "decoder"))
        vae_path = resolve_part(local_dir, CONFIG_FILE, config.vae, "vae")
        llm = Emu3Adapter(
            resolve_part(local_dir, CONFIG_FILE, config.llm, "llm"),
            device=self.device,
            dtype=self.dtype,
            trust_remote_code=self.trust_remote_code,
        )
        dtype = getattr(torch, self.dtype)
        try:
            llm.load()
            parts = CodeDecoder(
                token_encoder=CLIPTextModel.from_pretrained(decoder / TOKEN_ENCODER_DIR, dtype=dtype),
                unet=UNet2DModel.from_pretrained(decoder / UNET_DIR, torch_dtype=dtype),
                vae=AutoencoderKL.from_pretrained(vae_path, torch_dtype=dtype),
                scheduler=DDIMScheduler.from_pretrained(decoder / SCHEDULER_DIR),
                codebook=llm.model.model.vqmodel.quantize.embedding.weight.detach(),
            )
            for module in parts.modules.values():
                module.eval().to(self.device)
            self._llm, self._decoder, self._config = llm, parts, config
            self._info = self._build_info(local_dir, decoder, Path(vae_path))
        except BaseException:
            llm.close()
            self._llm = self._decoder = self._config = None
            raise

    def _build_info(self, local_dir: Path, decoder: Path, vae: Path) -> AdapterInfo:
        from mllmbench.adapters.checkpoints import checkpoint_hash
        from mllmbench.core.profiling import weights_bytes

        llm = self.llm.info
        modules = self.decoder.modules
        parameters = {"llm": llm.parameters["total"]}
        parameters.update({name: sum(p.numel() for p in m.parameters()) for name, m in modules.items()})
        parameters["total"] = sum(parameters.values())
        return AdapterInfo(
            name=self.name,
            checkpoint=self.model_id,
            checkpoint_hash=combined_hash(
                local_dir / CONFIG_FILE, llm.checkpoint_hash, checkpoint_hash(decoder), checkpoint_hash(vae)
            ),
            dtype=self.dtype,
            device=self.device,
            capabilities=self.capabilities,
            paradigm=Paradigm(
                family=self.name,
                connector=self.connector,
                generation=self.generation,
                vision_encoder=llm.paradigm.vision_encoder,
                llm_backbone=llm.paradigm.llm_backbone,
            ),
            parameters=parameters,
            visual_tokens_per_image=None,
            model_class=f"{llm.model_class} -> CLIPTextModel + UNet2DModel + AutoencoderKL",
            processor_class=llm.processor_class,
            chat_template=None,
            batching="one image per call (Emu3 samples per request)",
            weights_bytes=None
            if llm.weights_bytes is None
            else llm.weights_bytes + sum(weights_bytes(m) for m in modules.values()),
        )

    def close(self) -> None:
        """Release both stages."""
        if self._llm is not None:
            self._llm.close()
        self._llm = self._decoder = self._config = None
        super().close()

    def generate_images(
        self, batch: Sequence[GenerateRequest], settings: ImageGenerationSettings
    ) -> list[GenerateResponse]:
        """Sample each request's codes, then render them (see the module doc)."""
        if not batch:
            return []
        knobs = self.llm.image_generation_knobs(dataclasses.replace(settings, num_inference_steps=None))
        generation_config = self.llm._image_generation_config(knobs)  # noqa: SLF001 - the same sampler
        return [self._draw_one(request, knobs, generation_config, settings) for request in batch]

    def _draw_one(
        self,
        request: GenerateRequest,
        knobs: dict[str, Any],
        generation_config: Any,
        settings: ImageGenerationSettings,
    ) -> GenerateResponse:
        import torch
        from diffusers.image_processor import VaeImageProcessor

        if settings.width is not None or settings.height is not None:
            raise ConfigError("llm_token_decoder draws at its code grid's size; --image-size does not apply")
        grid = self.llm.sample_codes(request, knobs, generation_config)
        start = time.perf_counter()
        steps = settings.num_inference_steps or self.config.decoder_steps
        scale = float(self.config.decoder_guidance_scale)
        with torch.inference_mode():
            pixels = self.decoder.render(
                grid.codes.to(self.device), steps, scale, torch.Generator("cpu").manual_seed(request.seed)
            )
        images = tuple(
            image.convert("RGB")
            for image in VaeImageProcessor().postprocess(pixels.float().cpu(), output_type="pil")
        )
        render = time.perf_counter() - start
        llm_multiplier = 2 if generation_config.guidance_scale is not None else 1
        decoder_multiplier = 2 if scale > 1 else 1
        return GenerateResponse(
            images=images,
            prompt=grid.prompt,
            settings={
                "guidance_scale": knobs["guidance_scale"],
                "temperature": knobs["temperature"],
                "top_k": knobs["top_k"],
                "num_inference_steps": steps,
                "decoder_guidance_scale": scale,
                "decoder_scheduler": type(self.decoder.scheduler).__name__,
                "width": images[0].size[0],
                "height": images[0].size[1],
                "seed": request.seed,
                "decoding": "sampling",
                "negative_prompt": "",
                "code_grid": [grid.height, grid.width],
            },
            usage=GenerateUsage(
                batch_seconds=grid.seconds + render,
                batch_size=1,
                steps=grid.steps + steps,
                nfe=grid.steps * llm_multiplier + steps * decoder_multiplier,
                guidance_multiplier=max(llm_multiplier, decoder_multiplier),
                sequential_calls=grid.calls + steps,
                input_tokens=grid.input_tokens,
                image_tokens=grid.height * grid.width,
                stage_seconds={"tokens": grid.seconds, "render": render},
            ),
        )

    @classmethod
    def build_tiny(cls, out_dir: Path, *, seed: int = 0) -> Path:
        """Write the tiny random checkpoint of `mllmbench.adapters.tiny.llm_token_decoder` to `out_dir`."""
        from mllmbench.adapters.tiny import llm_token_decoder

        return llm_token_decoder.build(out_dir, seed=seed)
