"""Tiny random Show-o (`mllmbench.adapters.reference.show_o`): one 2-layer Llama over text and VQ codes.

The offline tiny tokenizer with Show-o's markers (``<|t2i|>``, ``<|mmu|>``, ``<|soi|>``,
``<|eoi|>``, the image placeholder) as special tokens; a diffusers ``VQModel`` with four blocks
(three 2x downsamplings) of 8 channels and a 32-code codebook, so a 32x32 image is a 4x4 grid of
16 codes; a 2-layer Llama of the tiny width whose vocabulary is the tokenizer, the 32 codes and
``[MASK]``. Same seed, same bytes.

Traps: ``norm_num_groups`` must divide the VQ channels; ``lookup_from_codebook=True`` because
the sampler hands the decoder code ids.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mllmbench.adapters.tiny import var
from mllmbench.adapters.tiny.checkpoint import save, seeded
from mllmbench.adapters.tiny.language_models import lm_dims
from mllmbench.adapters.tiny.tokenizer import build_tiny_tokenizer
from mllmbench.adapters.tiny.vision_towers import IMAGE_SIZE

CODEBOOK = var.CODEBOOK
VQ_CONFIG: dict[str, Any] = {k: v for k, v in var.VQ_CONFIG.items() if k != "force_upcast"}
"""The tiny VAR tokenizer's ``VQModel`` (a 32-code book on 32x32 images), without its fp16 upcast."""
"""The tiny ``VQModel``: 32x32 -> 4x4 codes of 32."""


def build(out_dir: Path, *, seed: int = 0) -> Path:
    """Write the tiny Show-o model and its processor to `out_dir`."""
    from mllmbench.adapters.reference.show_o import (
        SPECIAL_TOKENS,
        ShowOForConditionalGeneration,
        ShowOProcessor,
        build_config,
    )

    tokenizer = build_tiny_tokenizer(
        extra_special_tokens=SPECIAL_TOKENS,
        extra_corpus=["USER: What is this? ASSISTANT: a shape"],
    )
    config = build_config(tokenizer, lm_dims(tokenizer, attention_dropout=0.0), VQ_CONFIG, IMAGE_SIZE)
    processor = ShowOProcessor(tokenizer, image_size=IMAGE_SIZE, image_seq_length=config.image_seq_length)
    with seeded(seed):
        model = ShowOForConditionalGeneration(config).eval()
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return save(out_dir, model, processor)
