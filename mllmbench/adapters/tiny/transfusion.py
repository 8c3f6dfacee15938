"""Tiny random Transfusion (`mllmbench.adapters.reference.transfusion`) with its tokenizer.

A 2-layer Llama (the tiny LM sizes) over the offline tiny tokenizer plus ``<image>``, ``<boi>``
and ``<eoi>``; a diffusers ``AutoencoderKL`` with two 2x downsamplings (32 channels, the
GroupNorm minimum) turning a 32x32 image into a 4x8x8 latent, i.e. 16 patches of 2x2x4 values.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mllmbench.adapters.tiny.checkpoint import save
from mllmbench.adapters.tiny.language_models import llama_config
from mllmbench.adapters.tiny.tokenizer import build_tiny_tokenizer
from mllmbench.adapters.tiny.vision_towers import IMAGE_SIZE

VAE_CONFIG: dict[str, Any] = {
    "in_channels": 3,
    "out_channels": 3,
    "down_block_types": ["DownEncoderBlock2D"] * 3,
    "up_block_types": ["UpDecoderBlock2D"] * 3,
    "block_out_channels": [32, 32, 32],
    "layers_per_block": 1,
    "latent_channels": 4,
    "norm_num_groups": 32,
    "sample_size": IMAGE_SIZE,
    "mid_block_add_attention": False,
    "scaling_factor": 1.0,
}
"""`diffusers.AutoencoderKL` keywords: 32x32 RGB -> 4x8x8."""


def build_tokenizer() -> Any:
    """The tiny tokenizer with Transfusion's image markers."""
    from mllmbench.adapters.reference.transfusion import BOI_TOKEN, EOI_TOKEN, IMAGE_TOKEN

    return build_tiny_tokenizer(
        extra_special_tokens={"image_token": IMAGE_TOKEN, "boi_token": BOI_TOKEN, "eoi_token": EOI_TOKEN}
    )


def build(out_dir: Path, *, seed: int = 0) -> Path:
    """Write the tiny Transfusion model and its tokenizer to `out_dir`."""
    from mllmbench.adapters.reference.transfusion import TransfusionForConditionalGeneration

    tokenizer = build_tokenizer()
    model = TransfusionForConditionalGeneration.from_parts(
        tokenizer,
        llama_config(tokenizer, attention_dropout=0.0),
        VAE_CONFIG,
        image_size=IMAGE_SIZE,
        seed=seed,
    )
    return save(out_dir, model, tokenizer)
