"""The ``seed`` member: SEED's design, the LLM's visual tokens rendered by a diffusion decoder.

SEED (Ge et al. 2023) trains an LLM to emit the discrete codes of an image tokenizer and a Stable
Diffusion UNet to draw images from those codes; the pixels come from the diffusion decoder, not
from the tokenizer's own decoder. The zoo has an LLM that already emits codes: ``early_fusion``
(Emu3 over the codes of the ``vq`` tokenizer, trained on the same text-to-image rows as every
generating member). ``seed`` reuses it as its token stage, unchanged, and trains the decoder:

* a code encoder: a 1-layer ``CLIPTextModel`` whose vocabulary is the 1024 codes plus a null
  code and whose 64 positions are the 8x8 grid in row-major order (the role of SEED's
  code embeddings: positions matter, so they get CLIP's position embeddings);
* a ``UNet2DModel`` with the ``diffusion`` member's widths (self-attention at 8x8 where that
  member cross-attends) on the latents of the trained ``vae`` (frozen); the code features and
  the codes' vectors in the LLM's VQ codebook, upsampled to the latent grid, are extra input channels (each code conditions the latent
  positions it covers, as GLM-Image's decoder adds its prior tokens to their patches;
  `mllmbench.adapters.llm_token_decoder.code_map`);
* a ``DDIMScheduler`` with Stable Diffusion's betas.

Training is the ``diffusion`` member's DDPM noise regression, conditioned on the codes of the
same image as the LLM's own tokenizer encodes it (``early_fusion``'s ``vqmodel``, frozen), an
`UNCONDITIONAL_SHARE` of the grids replaced by the null grid (the decoder's unconditional
branch). Images: the drawer range of the training seed (``GEN_IMAGE_OFFSET + ..``).

The checkpoint is an ``llm_token_decoder`` directory (`mllmbench.adapters.llm_token_decoder`):
``decoder/`` (fp16) and ``token_decoder.json`` naming the LLM and the autoencoder, which are not
copied (``zoo:early_fusion`` and ``zoo:vae`` when they are the shipped members, else their
absolute paths); the recipe records both parts' identity.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mllmbench.zoo import backbone as bb
from mllmbench.zoo.token_packaging import GEN_IMAGE_OFFSET, UNCONDITIONAL_SHARE
from mllmbench.zoo.vq_tokenizer import EMBED_DIM

if TYPE_CHECKING:
    from mllmbench.zoo.members import Member

DECODER_DIR = "decoder"
TEXT_LAYERS = 1
DECODER_STEPS = 25
"""DDIM steps of the decoder at evaluation (``token_decoder.json``)."""
DECODER_GUIDANCE = 1.0
"""Guidance of the decoder over the null grid (``token_decoder.json``; a sampling setting, not
part of the recipe). Validation seed 777, LLM guidance 10: shapes_eval 22.5 / 19.2 / 16.4 at
decoder guidance 1 / 3 / 6."""
UNET_CONFIG: dict[str, Any] = {
    "sample_size": 16,
    "in_channels": 4 + bb.LLM_WIDTH + EMBED_DIM,
    "out_channels": 4,
    "block_out_channels": [32, 64],
    "layers_per_block": 1,
    "down_block_types": ["DownBlock2D", "AttnDownBlock2D"],
    "up_block_types": ["AttnUpBlock2D", "UpBlock2D"],
    "attention_head_dim": 32,
    "norm_num_groups": 32,
}
"""`diffusers.UNet2DModel` keywords: the ``diffusion`` member's UNet widths over the 4x16x16 latent
plus the code features (the zoo width) and the codebook vectors as input channels."""
LLM_MEMBER = "early_fusion"
VAE_MEMBER = "vae"


@dataclass
class LossOutput:
    """The training loop reads ``loss``."""

    loss: Any


def _trainer_class() -> Any:
    import torch
    from torch import nn

    from mllmbench.zoo.latent_diffusion import SCHEDULER_CONFIG, TRAIN_TIMESTEPS
    from mllmbench.zoo.vq_tokenizer import CODEBOOK_SIZE

    class TokenDecoderTrainer(nn.Module):
        """Code encoder + UNet + frozen tokenizer and autoencoder with the DDPM training forward."""

        def __init__(self, unet: Any, token_encoder: Any, vq: Any, vae: Any, seed: int) -> None:
            from diffusers import DDPMScheduler

            super().__init__()
            self.unet, self.token_encoder, self.vq, self.vae = unet, token_encoder, vq, vae
            self.noise: Any = DDPMScheduler(
                **{k: v for k, v in SCHEDULER_CONFIG.items() if k != "set_alpha_to_one"}
            )
            self.generator = torch.Generator().manual_seed(seed)

        def forward(self, code_pixels: Any, vae_pixels: Any, drop: Any) -> LossOutput:
            from mllmbench.adapters.llm_token_decoder import decoder_condition

            b = code_pixels.shape[0]
            with torch.no_grad():
                sizes = torch.tensor([list(code_pixels.shape[-2:])] * b)
                codes = torch.stack(list(self.vq.encode(code_pixels, sizes).image_tokens)).reshape(b, -1)
                latents = self.vae.encode(vae_pixels).latent_dist.mean * self.vae.config.scaling_factor
            codes = codes.masked_fill(drop[:, None], CODEBOOK_SIZE)
            noise = torch.randn(latents.shape, generator=self.generator)
            steps = torch.randint(0, TRAIN_TIMESTEPS, (b,), generator=self.generator)
            noisy = self.noise.add_noise(latents, noise, steps)
            codebook = self.vq.quantize.embedding.weight
            condition = decoder_condition(self.token_encoder, codebook, codes, latents.shape[-1])
            predicted = self.unet(torch.cat([noisy, condition], dim=1), steps).sample
            return LossOutput(loss=nn.functional.mse_loss(predicted, noise))

    return TokenDecoderTrainer


def build_token_decoder(seed: int) -> tuple[Any, Any]:
    """Fresh code encoder and UNet, tokenizer and autoencoder placeholders (the trained ones are
    loaded by `TokenDecoder.attach`), inside the training wrapper; and the two image processors."""
    from diffusers import AutoencoderKL, UNet2DModel
    from transformers import CLIPTextModel, Emu3VQVAE, Emu3VQVAEConfig

    from mllmbench.adapters.llm_token_decoder import code_encoder_config
    from mllmbench.adapters.tiny.checkpoint import seeded
    from mllmbench.zoo import vq_tokenizer, vqgan
    from mllmbench.zoo.latent_diffusion import VAE_CONFIG

    grid = vq_tokenizer.GRID
    with seeded(seed):
        unet = UNet2DModel(**UNET_CONFIG)
        encoder = CLIPTextModel(
            code_encoder_config(vq_tokenizer.CODEBOOK_SIZE, grid * grid, bb.LLM_WIDTH, TEXT_LAYERS, bb.HEADS)
        )
        vq = Emu3VQVAE(Emu3VQVAEConfig(**vq_tokenizer.VQ_CONFIG))
        model = _trainer_class()(unet, encoder, vq, AutoencoderKL(**VAE_CONFIG), seed)
    return model, (vq_tokenizer.image_processor(), vqgan.image_processor())


@dataclass(frozen=True)
class CodeBatches:
    """Training batches of the decoder: each image's pixels for the tokenizer and for the
    autoencoder, and which grids are replaced by the null grid."""

    processors: tuple[Any, Any]
    """(the Emu3 tokenizer's image processor, the autoencoder's)."""
    batch_size: int = 32

    def batch(self, step: int) -> dict[str, Any]:
        """Images ``GEN_IMAGE_OFFSET + step * batch + 1 ..`` of the training seed."""
        import torch

        from mllmbench.zoo import data, vqgan

        rng = random.Random(f"zoo-seed-decoder-{step}")
        first = GEN_IMAGE_OFFSET + step * self.batch_size + 1
        ids = list(range(first, first + self.batch_size))
        images = [data.scene_image(data.TRAIN_SEED, i) for i in ids]
        return {
            "code_pixels": self.processors[0](images, return_tensors="pt")["pixel_values"],
            "vae_pixels": vqgan.pixels(self.processors[1], images),
            "drop": torch.tensor([rng.random() < UNCONDITIONAL_SHARE for _ in ids]),
        }


@dataclass(frozen=True)
class TokenDecoder:
    """The ``llm_token_decoder`` layout: the trained ``decoder/``, the LLM and autoencoder named."""

    @property
    def parts(self) -> dict[str, str]:
        """``llm`` -> ``early_fusion`` (its codes and tokenizer), ``vq`` -> ``vae`` (the autoencoder,
        under the role every member's tokenizer or autoencoder has)."""
        return {"llm": LLM_MEMBER, "vq": VAE_MEMBER}

    def resolve_parts(self, owner: str, given: Mapping[str, Path] | None = None) -> dict[str, Path]:
        """The parts' directories (given, else the shipped ones)."""
        from mllmbench.zoo.packaging import _resolve_parts

        return _resolve_parts(owner, self.parts, given)

    def stage(self, out: Path, parts: Mapping[str, Path]) -> dict[str, Path]:
        """Write ``token_decoder.json`` naming the LLM and the autoencoder (nothing is copied)."""
        from mllmbench.adapters.llm_token_decoder import CONFIG_FILE, TokenDecoderConfig
        from mllmbench.core.jsonio import write_json_atomic
        from mllmbench.zoo.packaging import member_reference

        config = TokenDecoderConfig(
            llm=member_reference(LLM_MEMBER, parts["llm"]),
            vae=member_reference(VAE_MEMBER, parts["vq"]),
            decoder=DECODER_DIR,
            decoder_steps=DECODER_STEPS,
            decoder_guidance_scale=DECODER_GUIDANCE,
        )
        out.mkdir(parents=True, exist_ok=True)
        write_json_atomic(out / CONFIG_FILE, config.to_dict())
        return dict(parts)

    def attach(self, model: Any, parts: Mapping[str, Path]) -> None:
        """Load the LLM's own VQ tokenizer and the trained autoencoder (fp32) and freeze them."""
        import torch
        from diffusers import AutoencoderKL
        from transformers import Emu3ForConditionalGeneration

        llm = Emu3ForConditionalGeneration.from_pretrained(parts["llm"], dtype=torch.float32)
        model.vq.load_state_dict(llm.model.vqmodel.state_dict())
        vae = AutoencoderKL.from_pretrained(parts["vq"], torch_dtype=torch.float32)
        model.vae.load_state_dict(vae.state_dict())
        model.vae.register_to_config(scaling_factor=vae.config.scaling_factor)
        for frozen in (model.vq, model.vae):
            frozen.eval()
            frozen.requires_grad_(False)

    def recipe(self, parts: Mapping[str, Path]) -> dict[str, Any]:
        """Decoder networks, loss, and the parts' identity."""
        from mllmbench.zoo.latent_diffusion import SCHEDULER_CONFIG
        from mllmbench.zoo.packaging import part_identity

        return {
            "packaging": {
                "layout": "llm_token_decoder",
                "token_encoder_layers": TEXT_LAYERS,
                "unet_config": UNET_CONFIG,
                "scheduler": SCHEDULER_CONFIG,
                "loss": "DDPM epsilon MSE on the vae latent, conditioned on the image's own codes",
                "conditioning": "code features upsampled to the latent grid, concatenated as input channels",
                "images": f"training-seed scenes {GEN_IMAGE_OFFSET} + step * batch + 1 ..",
                "unconditional_share": UNCONDITIONAL_SHARE,
                "llm": part_identity(LLM_MEMBER, parts["llm"]),
                "vae": part_identity(VAE_MEMBER, parts["vq"]),
            }
        }

    def encoder(self, spec: Member, model: Any, processor: Any) -> CodeBatches:
        """`CodeBatches` over the two image processors."""
        return CodeBatches(processor)

    def save(self, out: Path, model: Any, processor: Any) -> None:
        """``decoder/``: the fp16 code encoder and UNet, and the DDIM scheduler."""
        import torch
        from diffusers import DDIMScheduler

        from mllmbench.adapters.llm_token_decoder import SCHEDULER_DIR, TOKEN_ENCODER_DIR, UNET_DIR
        from mllmbench.zoo.latent_diffusion import SCHEDULER_CONFIG

        decoder = out / DECODER_DIR
        model.eval().to(torch.float16)
        model.unet.save_pretrained(decoder / UNET_DIR)
        model.token_encoder.save_pretrained(decoder / TOKEN_ENCODER_DIR)
        scheduler: Any = DDIMScheduler(**SCHEDULER_CONFIG)
        scheduler.save_pretrained(decoder / SCHEDULER_DIR)
