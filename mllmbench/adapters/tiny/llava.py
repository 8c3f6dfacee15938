"""Tiny random LLaVA (about 170k parameters) with its processor.

A 2-layer CLIP ViT on 32x32 images with 8x8 patches (16 image tokens, last layer's features),
the MLP projector and a 2-layer Llama on the offline tiny tokenizer, with the llava-1.5 chat
template. Weights come from the default initialisers under ``torch.manual_seed(seed)``, so the
same seed gives the same bytes; with ``initializer_range=0.02`` the answer depends on the image.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mllmbench.adapters.tiny.chat_templates import LLAVA_15_CHAT_TEMPLATE
from mllmbench.adapters.tiny.checkpoint import save, seeded
from mllmbench.adapters.tiny.language_models import llama_config
from mllmbench.adapters.tiny.tokenizer import build_tiny_tokenizer
from mllmbench.adapters.tiny.vision_towers import IMAGE_SIZE, PATCH_SIZE, PATCHES, clip_vision_config

IMAGE_TOKENS = PATCHES
"""Image tokens of the tiny checkpoint: one per patch (the CLS feature is dropped)."""


def build_processor(*, one_token_image: bool = False) -> Any:
    """The tiny ``LlavaProcessor``: CLIP image processor, tiny tokenizer with ``<image>``, llava-1.5
    template; ``<image>`` expands to one token per patch, or stays one token (`one_token_image`)
    for models that take the image outside the sequence (LLaMA-Adapter)."""
    from transformers import CLIPImageProcessor, LlavaProcessor

    tokenizer = build_tiny_tokenizer(extra_special_tokens={"image_token": "<image>"})
    image_processor = CLIPImageProcessor(
        size={"shortest_edge": IMAGE_SIZE}, crop_size={"height": IMAGE_SIZE, "width": IMAGE_SIZE}
    )
    return LlavaProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        patch_size=IMAGE_SIZE if one_token_image else PATCH_SIZE,
        vision_feature_select_strategy="full" if one_token_image else "default",
        chat_template=LLAVA_15_CHAT_TEMPLATE,
        image_token="<image>",
        num_additional_image_tokens=0 if one_token_image else 1,
    )


def build(out_dir: Path, *, seed: int = 0) -> Path:
    """Write the tiny LLaVA and its processor to `out_dir`."""
    from transformers import LlavaConfig, LlavaForConditionalGeneration

    processor = build_processor()
    tokenizer = processor.tokenizer
    config = LlavaConfig(
        vision_config=clip_vision_config(),
        text_config=llama_config(tokenizer),
        image_token_index=processor.image_token_id,
        image_seq_length=IMAGE_TOKENS,
        vision_feature_layer=-1,
        vision_feature_select_strategy="default",
    )
    with seeded(seed):
        model = LlavaForConditionalGeneration(config).eval()
    return save(out_dir, model, processor)
