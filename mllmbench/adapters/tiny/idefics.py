"""Tiny random IDEFICS v1 (about 260k parameters) with its processor.

A 2-layer ViT on 32x32 images with 8x8 patches (16 patches + CLS), a 1-layer perceiver
resampler to 8 latents, and a 2-layer Llama with a gated cross-attention layer after each
decoder layer, on the offline tiny tokenizer with IDEFICS's special tokens.
The cross-attention gates start at zero in IDEFICS (``alpha_initializer="zeros"``), which would
shut the image out; the tiny model starts them at one (``tanh(1)`` open) so that its answers
depend on the image (``"normal"`` with a float gate fails in transformers 5.24). The resampler's
latents are drawn with the small ``initializer_range`` instead of IDEFICS's unit normal: with
0.02-scale attention weights, unit latents drown the image (two images give resampler outputs
0.01 apart). Nothing is frozen (freezing only matters for training).
"""

from __future__ import annotations

from pathlib import Path

from mllmbench.adapters.idefics import END_OF_UTTERANCE, FAKE_IMAGE_TOKEN, IMAGE_TOKEN
from mllmbench.adapters.tiny.checkpoint import save, seeded
from mllmbench.adapters.tiny.language_models import lm_dims
from mllmbench.adapters.tiny.tokenizer import build_tiny_tokenizer
from mllmbench.adapters.tiny.vision_towers import IMAGE_SIZE, INIT_RANGE, PATCH_SIZE

RESAMPLER_LATENTS = 8
"""Image features the tiny model's cross-attention attends to per image (resampler latents)."""


def build(out_dir: Path, *, seed: int = 0) -> Path:
    """Write the tiny IDEFICS and its processor to `out_dir`."""
    import torch
    from transformers import IdeficsConfig, IdeficsForVisionText2Text, IdeficsImageProcessor, IdeficsProcessor

    tokenizer = build_tiny_tokenizer(extra_special_tokens=[FAKE_IMAGE_TOKEN, IMAGE_TOKEN, END_OF_UTTERANCE])
    processor = IdeficsProcessor(
        image_processor=IdeficsImageProcessor(image_size=IMAGE_SIZE),
        tokenizer=tokenizer,
        image_size=IMAGE_SIZE,
    )
    text = lm_dims(tokenizer)
    del text["num_key_value_heads"]  # IDEFICS's Llama has no grouped-query attention
    config = IdeficsConfig(
        **text,
        alpha_initializer="ones",
        cross_layer_interval=1,
        freeze_text_layers=False,
        freeze_vision_layers=False,
        use_resampler=True,
        vision_config={
            "embed_dim": 32,
            "image_size": IMAGE_SIZE,
            "patch_size": PATCH_SIZE,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "initializer_range": INIT_RANGE,
        },
        perceiver_config={
            "use_resampler": True,
            "resampler_n_latents": RESAMPLER_LATENTS,
            "resampler_depth": 1,
            "resampler_n_heads": 2,
            "resampler_head_dim": 16,
        },
    )
    with seeded(seed):
        model = IdeficsForVisionText2Text(config).eval()
        with torch.no_grad():
            model.model.perceiver_resampler.latents.normal_(std=config.initializer_range)
    return save(out_dir, model, processor)
