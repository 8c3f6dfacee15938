"""The ``diffusion`` member (the generation zoo's baseline) and its autoencoder ``vae``.

* ``vae``: a diffusers ``AutoencoderKL`` trained on Shapes images (64x64, [-1, 1] from
  ``VaeImageProcessor``) into a 4x16x16 latent: mean squared reconstruction error of a sampled
  latent plus `KL_WEIGHT` x the KL term (``DiagonalGaussianDistribution.kl``), as latent-diffusion
  autoencoders are trained (without their adversarial and perceptual terms). At save time the
  config's ``scaling_factor`` is set to 1 / the standard deviation of the latents of
  `SCALE_IMAGES` training images, Stable Diffusion's own recipe for its 0.18215.
* ``diffusion``: a ``StableDiffusionPipeline`` of real parts: a ``CLIPTextModel`` over the zoo
  tokenizer (its last hidden states are the pipeline's prompt embeddings), a
  ``UNet2DConditionModel`` with cross-attention over the 16x16 latent (at its 8x8 level), the trained ``vae``
  (frozen) and a ``DDIMScheduler`` with Stable Diffusion's scaled-linear betas. Training is
  DDPM's: noise the latent (``scaling_factor`` x the posterior mean) at a uniform timestep with
  the scheduler's ``add_noise`` and regress the noise (MSE); prompts are the training scenes'
  `mllmbench.suites.shapes_captions.t2i_prompt`, an `UNCONDITIONAL_SHARE` of them empty (the
  pipeline's negative prompt is empty, so that is the unconditional branch of guidance).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mllmbench.zoo import backbone as bb
from mllmbench.zoo.packaging import SelfContained
from mllmbench.zoo.token_packaging import IncludesTokenizer

if TYPE_CHECKING:
    from mllmbench.zoo.members import Member

LATENT_CHANNELS = 4
LATENT_SIDE = 16
KL_WEIGHT = 1e-6
SCALE_IMAGES = 256
"""Training images whose latent spread sets the autoencoder's ``scaling_factor``."""
TRAIN_TIMESTEPS = 1000

VAE_CONFIG: dict[str, Any] = {
    "in_channels": 3,
    "out_channels": 3,
    "down_block_types": ["DownEncoderBlock2D"] * 3,
    "up_block_types": ["UpDecoderBlock2D"] * 3,
    "block_out_channels": [32, 32, 64],
    "layers_per_block": 1,
    "latent_channels": LATENT_CHANNELS,
    "norm_num_groups": 32,
    "sample_size": bb.IMAGE_SIZE,
    "mid_block_add_attention": False,
}
"""`diffusers.AutoencoderKL` keywords: two 2x downsamplings, 64x64 RGB -> 4x16x16."""

UNET_CONFIG: dict[str, Any] = {
    "sample_size": LATENT_SIDE,
    "in_channels": LATENT_CHANNELS,
    "out_channels": LATENT_CHANNELS,
    "block_out_channels": [32, 64],
    "layers_per_block": 1,
    "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D"],
    "up_block_types": ["CrossAttnUpBlock2D", "UpBlock2D"],
    "cross_attention_dim": bb.LLM_WIDTH,
    "attention_head_dim": 32,
    "norm_num_groups": 32,
}
"""`diffusers.UNet2DConditionModel` keywords: cross-attention to the prompt at 8x8 (the 3x3 scene
grid is coarser than that); sized so that the fp16 pipeline ships in under 5 MB."""

SCHEDULER_CONFIG: dict[str, Any] = {
    "num_train_timesteps": TRAIN_TIMESTEPS,
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "clip_sample": False,
    "set_alpha_to_one": False,
    "steps_offset": 1,
}
"""Stable Diffusion's DDIM scheduler settings (training uses the same betas)."""


@dataclass
class LossOutput:
    """The training loop reads ``loss``."""

    loss: Any


def _vae_trainer_class() -> Any:
    import torch
    from torch import nn

    class VAETrainer(nn.Module):
        """An ``AutoencoderKL`` with its training forward (see the module doc)."""

        def __init__(self, vae: Any, seed: int) -> None:
            super().__init__()
            self.vae = vae
            self.generator = torch.Generator().manual_seed(seed)

        def forward(self, pixel_values: Any) -> LossOutput:
            posterior = self.vae.encode(pixel_values).latent_dist
            latents = posterior.mean + posterior.std * torch.randn(
                posterior.mean.shape, generator=self.generator
            )
            decoded = self.vae.decode(latents).sample
            reconstruction = (decoded - pixel_values).pow(2).mean()
            return LossOutput(loss=reconstruction + KL_WEIGHT * posterior.kl().mean())

    return VAETrainer


def build_vae(seed: int) -> tuple[Any, Any]:
    """A fresh zoo ``AutoencoderKL`` inside its training wrapper, and its image processor."""
    from diffusers import AutoencoderKL

    from mllmbench.adapters.tiny.checkpoint import seeded
    from mllmbench.zoo.vqgan import image_processor

    with seeded(seed):
        vae = AutoencoderKL(**VAE_CONFIG)
        trainer = _vae_trainer_class()(vae, seed)
    return trainer, image_processor()


def latent_scale(vae: Any, processor: Any) -> float:
    """1 / std of the posterior means of `SCALE_IMAGES` training images."""
    import torch

    from mllmbench.zoo import data
    from mllmbench.zoo.vqgan import scene_pixels

    with torch.no_grad():
        means = [
            vae.encode(scene_pixels(processor, data.TRAIN_SEED, list(range(i, i + 32)))).latent_dist.mean
            for i in range(1, SCALE_IMAGES + 1, 32)
        ]
    return float(1.0 / torch.cat(means).float().std())


@dataclass(frozen=True)
class Autoencoder(SelfContained):
    """The ``vae`` member: an ``AutoencoderKL`` saved with its measured ``scaling_factor``."""

    def recipe(self, parts: Any) -> dict[str, Any]:
        """The autoencoder config, loss and batch."""
        from mllmbench.zoo.token_packaging import VQ_BATCH_SIZE

        return {
            "batch_size": VQ_BATCH_SIZE,
            "packaging": {
                "layout": "autoencoder",
                "class": "diffusers.AutoencoderKL",
                "vae_config": VAE_CONFIG,
                "loss": f"mse(decode(sampled latent)) + {KL_WEIGHT} * KL",
                "scaling_factor": f"1 / std of the latent means of {SCALE_IMAGES} training images",
            },
        }

    @property
    def positions(self) -> int:
        """Latent positions per image (16 x 16, 4 channels each)."""
        return LATENT_SIDE * LATENT_SIDE

    def load_model(self, directory: Path) -> Any:
        """The saved ``AutoencoderKL``."""
        from diffusers import AutoencoderKL

        return AutoencoderKL.from_pretrained(directory)

    def encoder(self, spec: Member, model: Any, processor: Any) -> Any:
        """Pixel batches of the training seed (`mllmbench.zoo.token_packaging.PixelEncoder`)."""
        from mllmbench.zoo.token_packaging import PixelEncoder
        from mllmbench.zoo.vqgan import scene_pixels

        return PixelEncoder(lambda seed, ids: scene_pixels(processor, seed, list(ids)))

    def save(self, out: Path, model: Any, processor: Any) -> None:
        """The fp16 ``AutoencoderKL`` with its measured ``scaling_factor``."""
        import torch

        vae = model.vae.eval()
        vae.register_to_config(scaling_factor=latent_scale(vae, processor))
        out.mkdir(parents=True, exist_ok=True)
        vae.to(torch.float16).save_pretrained(out)


def text_encoder(tokenizer: Any) -> Any:
    """A fresh ``CLIPTextModel`` with the maskgit member's text config (its last hidden states are
    Stable Diffusion's prompt embeddings)."""
    from transformers import CLIPTextModel

    from mllmbench.zoo.maskgit import clip_text_config

    return CLIPTextModel(clip_text_config(tokenizer))


def _diffusion_trainer_class() -> Any:
    import torch
    from torch import nn

    class DiffusionTrainer(nn.Module):
        """Text encoder + UNet + frozen autoencoder with the DDPM training forward."""

        def __init__(self, unet: Any, text_encoder: Any, vae: Any, seed: int) -> None:
            from diffusers import DDPMScheduler

            super().__init__()
            self.unet, self.text_encoder, self.vae = unet, text_encoder, vae
            self.noise: Any = DDPMScheduler(
                **{k: v for k, v in SCHEDULER_CONFIG.items() if k != "set_alpha_to_one"}
            )
            self.generator = torch.Generator().manual_seed(seed)

        def forward(self, prompt_ids: Any, pixel_values: Any) -> LossOutput:
            with torch.no_grad():
                latents = self.vae.encode(pixel_values).latent_dist.mean * self.vae.config.scaling_factor
            noise = torch.randn(latents.shape, generator=self.generator)
            steps = torch.randint(0, TRAIN_TIMESTEPS, (latents.shape[0],), generator=self.generator)
            noisy = self.noise.add_noise(latents, noise, steps)
            context = self.text_encoder(prompt_ids)[0]
            predicted = self.unet(noisy, steps, encoder_hidden_states=context).sample
            return LossOutput(loss=nn.functional.mse_loss(predicted, noise))

    return DiffusionTrainer


def build_diffusion(seed: int) -> tuple[Any, Any]:
    """Fresh text encoder and UNet, an autoencoder placeholder (the trained ``vae`` is loaded into it
    by `LatentDiffusion.attach`), inside the training wrapper; and the tokenizer."""
    from diffusers import AutoencoderKL, UNet2DConditionModel

    from mllmbench.adapters.tiny.checkpoint import seeded
    from mllmbench.zoo.maskgit import text_tokenizer

    tokenizer = text_tokenizer()
    with seeded(seed):
        unet = UNet2DConditionModel(**UNET_CONFIG)
        model = _diffusion_trainer_class()(unet, text_encoder(tokenizer), AutoencoderKL(**VAE_CONFIG), seed)
    return model, tokenizer


@dataclass(frozen=True)
class LatentDiffusion(IncludesTokenizer):
    """A ``StableDiffusionPipeline`` trained on the latents of the ``vae`` member."""

    tokenizer_member: str = "vae"

    def attach(self, model: Any, parts: Any) -> None:
        """Load the trained ``AutoencoderKL`` (fp32, its scaling factor too) and freeze it."""
        import torch
        from diffusers import AutoencoderKL

        trained = AutoencoderKL.from_pretrained(parts["vq"], torch_dtype=torch.float32)
        model.vae.load_state_dict(trained.state_dict())
        model.vae.register_to_config(scaling_factor=trained.config.scaling_factor)
        model.vae.eval()
        model.vae.requires_grad_(False)

    def recipe(self, parts: Any) -> dict[str, Any]:
        """UNet, scheduler, prompts, and the autoencoder's identity."""
        from mllmbench.zoo.packaging import part_identity
        from mllmbench.zoo.token_packaging import prompt_recipe

        return {
            "packaging": {
                "layout": "diffusers StableDiffusionPipeline",
                "unet_config": UNET_CONFIG,
                "scheduler": SCHEDULER_CONFIG,
                "loss": "DDPM epsilon MSE, t ~ U{0..999}, latent = scaling_factor * posterior mean",
                **prompt_recipe(),
                "vae": part_identity(self.tokenizer_member, parts["vq"]),
            }
        }

    def encoder(self, spec: Member, model: Any, processor: Any) -> Any:
        """Prompts and pixels (`mllmbench.zoo.maskgit.PromptEncoder`)."""
        from mllmbench.zoo.maskgit import PromptEncoder

        return PromptEncoder(processor)

    def save(self, out: Path, model: Any, processor: Any) -> None:
        """The fp16 ``StableDiffusionPipeline`` (``AutoPipelineForText2Image`` loads it)."""
        import torch
        from diffusers import DDIMScheduler, StableDiffusionPipeline

        out.mkdir(parents=True, exist_ok=True)
        model.eval().to(torch.float16)
        pipe: Any = StableDiffusionPipeline(
            vae=model.vae,
            text_encoder=model.text_encoder,
            tokenizer=processor,
            unet=model.unet,
            scheduler=DDIMScheduler(**SCHEDULER_CONFIG),
            safety_checker=None,
            feature_extractor=None,
            requires_safety_checker=False,
        )
        pipe.save_pretrained(out)
