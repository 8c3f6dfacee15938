"""Tiny random PaliGemma with its processor.

A 2-layer SigLIP ViT on 32x32 images with 8x8 patches (16 image tokens), the linear projector
and a 2-layer Gemma on the offline tiny tokenizer (``<bos>``/``<eos>``/``<pad>``; the processor
adds PaliGemma's ``<image>``, ``<locXXXX>`` and ``<segXXX>`` tokens). Weights come from the
default initialisers under ``torch.manual_seed(seed)``, with a wide text ``initializer_range``
(`TEXT_INIT_RANGE`) so that the answer depends on the image.
"""

from __future__ import annotations

from pathlib import Path

from mllmbench.adapters.tiny.checkpoint import save, seeded
from mllmbench.adapters.tiny.language_models import gemma_config
from mllmbench.adapters.tiny.tokenizer import build_tiny_tokenizer
from mllmbench.adapters.tiny.vision_towers import IMAGE_SIZE, PATCHES, siglip_vision_config

IMAGE_TOKENS = PATCHES
"""Image tokens of the tiny checkpoint: one per SigLIP patch."""
TEXT_INIT_RANGE = 0.3
"""Weight spread of the tiny Gemma and projector.

Gemma scales token embeddings by sqrt(hidden) and ties them to the output head: with the usual
0.02 spread a random tiny model just repeats its last input token whatever the image. A wider
spread lets the layers (and so the image) decide the answer.
"""


def build(out_dir: Path, *, seed: int = 0) -> Path:
    """Write the tiny PaliGemma and its processor to `out_dir`."""
    from transformers import (
        PaliGemmaConfig,
        PaliGemmaForConditionalGeneration,
        PaliGemmaProcessor,
        SiglipImageProcessor,
    )

    tokenizer = build_tiny_tokenizer(
        bos_token="<bos>",
        eos_token="<eos>",
        pad_token="<pad>",
        unk_token="<unk>",
        extra_special_tokens={"image_token": "<image>"},
        add_bos_token=False,
    )
    # PaliGemmaProcessor reads the image token count from the image processor.
    image_processor = SiglipImageProcessor(
        size={"height": IMAGE_SIZE, "width": IMAGE_SIZE}, image_seq_length=IMAGE_TOKENS
    )
    processor = PaliGemmaProcessor(image_processor=image_processor, tokenizer=tokenizer)
    text_config = gemma_config(tokenizer, initializer_range=TEXT_INIT_RANGE)
    config = PaliGemmaConfig(
        vision_config=siglip_vision_config(vision_use_head=False),
        text_config=text_config,
        image_token_index=processor.image_token_id,
        vocab_size=len(tokenizer),
        projection_dim=text_config.hidden_size,
        hidden_size=text_config.hidden_size,
    )
    with seeded(seed):
        model = PaliGemmaForConditionalGeneration(config).eval()
    return save(out_dir, model, processor)
