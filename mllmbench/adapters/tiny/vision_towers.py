"""The tiny vision towers: 2-layer ViTs on 32x32 images with 8x8 patches (16 patches).

`VIT_DIMS` is the size every tiny ViT shares; `clip_vision_config` and `siglip_vision_config`
build the two tower configs most families use. Families with a tower class of their own
(BLIP, Idefics2/3) pass `vit_dims` to it.
"""

from __future__ import annotations

from typing import Any

IMAGE_SIZE = 32
PATCH_SIZE = 8
PATCHES = (IMAGE_SIZE // PATCH_SIZE) ** 2
"""Patch features of one tiny image (16), the CLS feature not counted."""
INIT_RANGE = 0.02
"""Weight spread of the tiny towers; some classes default to a dead 1e-10 (BLIP-2's ViT)."""

VIT_DIMS: dict[str, int] = {
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "image_size": IMAGE_SIZE,
    "patch_size": PATCH_SIZE,
}
"""The keyword arguments every tiny ViT config shares."""


def vit_dims(**overrides: Any) -> dict[str, Any]:
    """`VIT_DIMS` with `overrides` applied (a new dict)."""
    return {**VIT_DIMS, **overrides}


def clip_vision_config(**overrides: Any) -> Any:
    """A tiny ``CLIPVisionConfig`` (LLaVA, LLaVA-NeXT) with the 0.02 init spread."""
    from transformers import CLIPVisionConfig

    return CLIPVisionConfig(**vit_dims(initializer_range=INIT_RANGE, **overrides))


def siglip_vision_config(**overrides: Any) -> Any:
    """A tiny ``SiglipVisionConfig`` (PaliGemma), the class's own init spread."""
    from transformers import SiglipVisionConfig

    return SiglipVisionConfig(**vit_dims(**overrides))
