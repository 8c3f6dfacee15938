"""Tiny random LLaVA-NeXT with its processor.

A 2-layer CLIP ViT on 32x32 tiles with 8x8 patches, any-resolution grids of 1x2, 2x1 and 2x2
tiles, the MLP projector and a 2-layer Mistral on the offline tiny tokenizer, with the
llava-v1.6-mistral chat template. Weights come from the default initialisers under
``torch.manual_seed(seed)``; ``initializer_range=0.02`` keeps the answer image-dependent.
"""

from __future__ import annotations

from pathlib import Path

from mllmbench.adapters.tiny.chat_templates import LLAVA_NEXT_MISTRAL_CHAT_TEMPLATE
from mllmbench.adapters.tiny.checkpoint import save, seeded
from mllmbench.adapters.tiny.language_models import mistral_config
from mllmbench.adapters.tiny.tokenizer import build_tiny_tokenizer
from mllmbench.adapters.tiny.vision_towers import IMAGE_SIZE, PATCH_SIZE, PATCHES, clip_vision_config

GRID_PINPOINTS = ((32, 64), (64, 32), (64, 64))
"""Any-resolution grids (height, width) of the tiny checkpoint: 1x2, 2x1 and 2x2 tiles."""
BASE_TOKENS = PATCHES
"""Tokens of the downscaled whole-image view (the CLS feature is dropped)."""
TRAINING_CORPUS = (
    "[INST] What colour is the circle? [/INST] red",
    "[INST] How many shapes are there? [/INST] two",
    "[INST] Describe the image. [/INST] A blue square on the left.",
)
"""Extra tokenizer training lines, so the Mistral-style ``[INST]`` markers tokenize compactly."""


def build(out_dir: Path, *, seed: int = 0) -> Path:
    """Write the tiny LLaVA-NeXT and its processor to `out_dir`."""
    from transformers import (
        LlavaNextConfig,
        LlavaNextForConditionalGeneration,
        LlavaNextImageProcessor,
        LlavaNextProcessor,
    )

    tokenizer = build_tiny_tokenizer(
        extra_special_tokens={"image_token": "<image>"}, extra_corpus=TRAINING_CORPUS
    )
    pinpoints = [list(grid) for grid in GRID_PINPOINTS]
    image_processor = LlavaNextImageProcessor(
        size={"shortest_edge": IMAGE_SIZE},
        crop_size={"height": IMAGE_SIZE, "width": IMAGE_SIZE},
        image_grid_pinpoints=pinpoints,
    )
    processor = LlavaNextProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        patch_size=PATCH_SIZE,
        vision_feature_select_strategy="default",
        chat_template=LLAVA_NEXT_MISTRAL_CHAT_TEMPLATE,
        image_token="<image>",
        num_additional_image_tokens=1,
    )
    config = LlavaNextConfig(
        vision_config=clip_vision_config(),
        text_config=mistral_config(tokenizer, head_dim=16, max_position_embeddings=512, sliding_window=None),
        image_token_index=processor.image_token_id,
        image_grid_pinpoints=pinpoints,
        image_seq_length=BASE_TOKENS,
        vision_feature_layer=-1,
        vision_feature_select_strategy="default",
    )
    with seeded(seed):
        model = LlavaNextForConditionalGeneration(config).eval()
    return save(out_dir, model, processor)
