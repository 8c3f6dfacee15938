"""The zoo's diffusers VQ tokenizer (member ``vqgan``): a ``VQModel`` trained on Shapes images.

The token members built on diffusers pipelines (``maskgit``: ``AmusedPipeline``) decode codes
with a diffusers ``VQModel``, so they share this one (the Emu3 member has its own, `vq`, because
``Emu3ForConditionalGeneration`` holds an ``Emu3VQVAE``). Four encoder blocks (three 2x
downsamplings) give an 8x8 grid of codes of a 256-entry codebook on 64x64 images, prepared by
diffusers' ``VaeImageProcessor`` ([-1, 1]). ``lookup_from_codebook`` is set because pipelines hand
the decoder code ids.

Training uses the library's own parts: ``encode`` (encoder + quant conv), the ``VectorQuantizer``
(nearest code, straight-through estimator and its VQ loss with beta 0.25), ``post_quant_conv`` and
the decoder; the loss adds the mean squared reconstruction error; dead codes are restarted as for
the Emu3 tokenizer (`mllmbench.zoo.vq_tokenizer.CodeRestarts`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mllmbench.zoo import backbone as bb
from mllmbench.zoo import data
from mllmbench.zoo.vq_tokenizer import DOWNSAMPLE, GRID, VQOutput

CODEBOOK_SIZE = 256
EMBED_DIM = 16

VQGAN_CONFIG: dict[str, Any] = {
    "in_channels": 3,
    "out_channels": 3,
    "down_block_types": ["DownEncoderBlock2D"] * 4,
    "up_block_types": ["UpDecoderBlock2D"] * 4,
    "block_out_channels": [32, 32, 32, 32],
    "layers_per_block": 1,
    "latent_channels": EMBED_DIM,
    "vq_embed_dim": EMBED_DIM,
    "num_vq_embeddings": CODEBOOK_SIZE,
    "norm_num_groups": 8,
    "sample_size": bb.IMAGE_SIZE,
    "mid_block_add_attention": False,
    "lookup_from_codebook": True,
    "force_upcast": True,
}
"""`diffusers.VQModel` keywords of the zoo's diffusers tokenizer (same grid and codebook as `vq`)."""


def image_processor() -> Any:
    """diffusers' ``VaeImageProcessor`` for the VQ model's scale factor."""
    from diffusers.image_processor import VaeImageProcessor

    return VaeImageProcessor(vae_scale_factor=DOWNSAMPLE)


def pixels(processor: Any, images: Sequence[Any]) -> Any:
    """(b, 3, 64, 64) tensor in [-1, 1] of PIL `images`."""
    return processor.preprocess(list(images), height=bb.IMAGE_SIZE, width=bb.IMAGE_SIZE)


def _trainer_class() -> Any:
    import torch
    from torch import nn

    from mllmbench.zoo.vq_tokenizer import CodeRestarts

    class VQGANTrainer(nn.Module):
        """A diffusers ``VQModel`` with its training forward (see the module doc)."""

        def __init__(self, vq: Any, seed: int) -> None:
            super().__init__()
            self.vq = vq
            self.restarts = CodeRestarts(vq.config.num_vq_embeddings, seed)

        def forward(self, pixel_values: Any) -> VQOutput:
            vq = self.vq
            latents = vq.encode(pixel_values).latents
            quant, vq_loss, (_, _, codes) = vq.quantize(latents)
            decoded = vq.decoder(
                vq.post_quant_conv(quant), quant if vq.config.norm_type == "spatial" else None
            )
            reconstruction = (decoded - pixel_values).pow(2).mean()
            if self.training:
                flat = latents.detach().permute(0, 2, 3, 1).reshape(-1, latents.shape[1])
                self.restarts.update(codes.flatten(), flat, vq.quantize.embedding.weight)
            b = pixel_values.shape[0]
            return VQOutput(
                loss=reconstruction + vq_loss,
                reconstruction=reconstruction.detach(),
                codes=codes.view(b, GRID, GRID),
                codes_used=int(torch.unique(codes).numel()),
            )

    return VQGANTrainer


def build_vqgan(seed: int) -> tuple[Any, Any]:
    """A fresh zoo ``VQModel`` inside its training wrapper, and its image processor."""
    from diffusers import VQModel

    from mllmbench.adapters.tiny.checkpoint import seeded

    with seeded(seed):
        vq = VQModel(**VQGAN_CONFIG)
        trainer = _trainer_class()(vq, seed)
    return trainer, image_processor()


def encode_codes(vq: Any, pixel_values: Any) -> Any:
    """(b, 8, 8) code ids of `pixel_values` (no gradient)."""
    import torch

    with torch.no_grad():
        _, _, (_, _, codes) = vq.quantize(vq.encode(pixel_values).latents)
    return codes.view(pixel_values.shape[0], GRID, GRID)


def scene_pixels(processor: Any, seed: int, image_ids: Sequence[int]) -> Any:
    """`pixels` of Shapes images `image_ids` of `seed`."""
    return pixels(processor, [data.scene_image(seed, image_id) for image_id in image_ids])
