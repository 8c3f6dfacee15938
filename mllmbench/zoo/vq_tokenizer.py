"""The zoo's VQ tokenizer: an ``Emu3VQVAE`` trained on Shapes images, shared by the token members.

The real transformers class (`transformers.Emu3VQVAE`, the tokenizer inside
``Emu3ForConditionalGeneration``) is built with the zoo sizes below and trained here as a
VQ-VAE: encoder -> quantisation convolution -> nearest codebook vector (straight-through
estimator) -> post-quantisation convolution -> decoder, on 64x64 Shapes images (the zoo's
`backbone.IMAGE_SIZE`) as ``Emu3ImageProcessor`` prepares them, so a trained tokenizer encodes at
evaluation exactly what it was trained on. Three 2x downsamplings (the Emu3 processor's fixed
ratio of 8) give an 8x8 grid of codes per image.

Loss: mean squared reconstruction error in the processor's [-1, 1] pixel space (pixels of a
shape weighted 1 + `FOREGROUND_WEIGHT`: a Shapes image is mostly white, and an unweighted error
spent the codebook on background; colours came back mixed), plus the
VQ-VAE codebook term ``|sg(z) - e|^2`` and ``COMMITMENT`` x ``|z - sg(e)|^2`` (van den Oord et
al., 2017). Codes that no image of the last `RESTART_EVERY` steps chose are re-seeded from
encoder outputs of the current batch (a deterministic generator), the usual remedy for codebook
collapse in small VQ models. After training only the ``Emu3VQVAE`` is saved (fp16), with its
image processor: ``Emu3VQVAE.from_pretrained(DIR)`` and ``Emu3ForConditionalGeneration``'s
``vqmodel`` load it as it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mllmbench.zoo import backbone as bb
from mllmbench.zoo import data

CODEBOOK_SIZE = 1024
EMBED_DIM = 8
DOWNSAMPLE = 8
"""Emu3's processor hard-codes a spatial factor of 8 (three 2x downsamplings)."""
GRID = bb.IMAGE_SIZE // DOWNSAMPLE
COMMITMENT = 0.25
RESTART_EVERY = 25
FOREGROUND_WEIGHT = 9.0
"""Extra weight of shape pixels in the reconstruction error (Shapes images are mostly background)."""
WHITE = 0.98
"""A channel at or above this ([-1, 1] pixels) is background white."""

VQ_CONFIG: dict[str, Any] = {
    "codebook_size": CODEBOOK_SIZE,
    "embed_dim": EMBED_DIM,
    "latent_channels": EMBED_DIM,
    "base_channels": 32,
    "channel_multiplier": [1, 1, 1, 1],
    "num_res_blocks": 1,
    "attn_resolutions": [],
    "temporal_downsample_factor": 1,
    "hidden_size": 32,
    "num_attention_heads": 1,
    "dropout": 0.0,
}
"""`transformers.Emu3VQVAEConfig` keywords of the zoo tokenizer (GroupNorm(32) needs >= 32 base
channels; no temporal downsampling, since the inputs are single images)."""


def image_processor() -> Any:
    """``Emu3ImageProcessor`` that resizes a Shapes image to exactly 64x64 ([-1, 1] pixels)."""
    from transformers import Emu3ImageProcessor

    pixels = bb.IMAGE_SIZE * bb.IMAGE_SIZE
    return Emu3ImageProcessor(
        min_pixels=pixels,
        max_pixels=pixels,
        spatial_factor=DOWNSAMPLE,
        image_mean=[0.5, 0.5, 0.5],
        image_std=[0.5, 0.5, 0.5],
    )


@dataclass
class VQOutput:
    """What the training loop reads (``loss``) and what is logged beside it."""

    loss: Any
    reconstruction: Any
    codes: Any
    """Chosen code per grid cell, (batch, grid, grid): what ``Emu3VQVAE.encode`` returns."""
    codes_used: int


def weighted_mse(decoded: Any, target: Any) -> Any:
    """Mean squared error, pixels of a shape (any channel below white) weighted 1 + `FOREGROUND_WEIGHT`."""
    error = (decoded - target).pow(2)
    if not FOREGROUND_WEIGHT:
        return error.mean()
    weight = 1 + FOREGROUND_WEIGHT * (target < WHITE).any(dim=1, keepdim=True).to(error.dtype)
    return (error * weight).sum() / (weight.sum() * error.shape[1])


class CodeRestarts:
    """Dead-code restarts: every `RESTART_EVERY` updates, each code no input chose since the last
    restart is set to a randomly picked encoder output of the current batch (own generator)."""

    def __init__(self, codebook_size: int, seed: int) -> None:
        import torch

        self.generator = torch.Generator().manual_seed(seed)
        self.usage = torch.zeros(codebook_size)
        self.steps = 0

    def update(self, codes: Any, flat: Any, codebook: Any) -> None:
        """Count `codes` (chosen for the rows of `flat`); restart the dead rows of `codebook` when due."""
        import torch

        with torch.no_grad():
            self.usage += torch.bincount(codes, minlength=self.usage.numel()).to(self.usage.dtype)
            self.steps += 1
            if self.steps % RESTART_EVERY:
                return
            dead = torch.nonzero(self.usage == 0).flatten()
            if dead.numel():
                picks = torch.randint(0, flat.shape[0], (dead.numel(),), generator=self.generator)
                codebook[dead] = flat[picks]
            self.usage.zero_()


def _vq_module_class() -> Any:
    from torch import nn

    class VQTrainer(nn.Module):
        """An ``Emu3VQVAE`` with the VQ-VAE training forward (see the module doc)."""

        def __init__(self, vq: Any, seed: int) -> None:
            super().__init__()
            self.vq = vq
            self.restarts = CodeRestarts(vq.config.codebook_size, seed)

        def forward(self, pixel_values: Any) -> VQOutput:
            vq = self.vq
            hidden = vq.encoder(pixel_values.unsqueeze(1))  # b t c h w
            z = vq.quant_conv(hidden.permute(0, 2, 1, 3, 4))  # b c t h w
            b, c, t, h, w = z.shape
            flat = z.permute(0, 2, 3, 4, 1).reshape(-1, c)
            codebook = vq.quantize.embedding.weight
            distances = (
                flat.pow(2).sum(1, keepdim=True) - 2 * flat @ codebook.t() + codebook.pow(2).sum(1)[None, :]
            )
            codes = distances.argmin(1)
            chosen = codebook[codes]
            codebook_loss = (chosen - flat.detach()).pow(2).mean()
            commitment = (flat - chosen.detach()).pow(2).mean()
            straight = flat + (chosen - flat).detach()
            quant = straight.view(b, t, h, w, c).permute(0, 4, 1, 2, 3)  # b c t h w
            post = vq.post_quant_conv(quant)
            decoded = vq.decoder(post.permute(0, 2, 1, 3, 4), quant.permute(0, 2, 1, 3, 4))
            decoded = decoded.reshape(b, vq.config.out_channels, h * DOWNSAMPLE, w * DOWNSAMPLE)
            reconstruction = weighted_mse(decoded, pixel_values)
            if self.training:
                self.restarts.update(codes, flat.detach(), vq.quantize.embedding.weight)
            return VQOutput(
                loss=reconstruction + codebook_loss + COMMITMENT * commitment,
                reconstruction=reconstruction.detach(),
                codes=codes.view(b, h, w),
                codes_used=int(codes.unique().numel()),
            )

    return VQTrainer


def build_vq(seed: int) -> tuple[Any, Any]:
    """A fresh zoo ``Emu3VQVAE`` inside its training wrapper, and its image processor."""
    from transformers import Emu3VQVAE, Emu3VQVAEConfig

    from mllmbench.adapters.tiny.checkpoint import seeded

    with seeded(seed):
        vq = Emu3VQVAE(Emu3VQVAEConfig(**VQ_CONFIG))
        trainer = _vq_module_class()(vq, seed)
    return trainer, image_processor()


def pixel_batch(processor: Any, seed: int, image_ids: Sequence[int]) -> Any:
    """``pixel_values`` (b, 3, 64, 64) of Shapes images `image_ids` of `seed`."""
    images = [data.scene_image(seed, image_id) for image_id in image_ids]
    return processor(images, return_tensors="pt")["pixel_values"]
