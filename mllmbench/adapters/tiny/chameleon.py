"""Tiny random Chameleon (about 300k parameters) with its processor.

A VQ-VAE with 32 base channels (GroupNorm needs multiples of 32) and three downsamplings, so a
32x32 image becomes 4x4 = 16 codes of a 64-entry codebook; the tokenizer holds Chameleon's
special tokens and one ``IMGIMG…Z`` token per code, and the config's ``vocabulary_map`` is its
vocabulary; the LLM is a 2-layer Chameleon decoder.
"""

from __future__ import annotations

from pathlib import Path

from mllmbench.adapters.chameleon import BEGIN_IMAGE_TOKEN, END_IMAGE_TOKEN, IMAGE_TOKEN, SEP_TOKEN
from mllmbench.adapters.tiny.checkpoint import save, seeded
from mllmbench.adapters.tiny.language_models import lm_dims
from mllmbench.adapters.tiny.tokenizer import build_tiny_tokenizer
from mllmbench.adapters.tiny.vision_towers import IMAGE_SIZE

CODEBOOK_SIZE = 64
"""Codes of the tiny VQ-VAE, each with its ``IMGIMG…Z`` token in the vocabulary."""
IMAGE_TOKENS = 16
"""A 32x32 image after three 2x downsamplings: a 4x4 grid of codes."""


def image_code_token(code: int) -> str:
    """The vocabulary name of VQ code `code`: ``IMGIMG`` + its digits as letters A–J + ``Z``."""
    return "IMGIMG" + "".join(chr(ord("A") + int(digit)) for digit in str(code)) + "Z"


def build(out_dir: Path, *, seed: int = 0) -> Path:
    """Write the tiny Chameleon and its processor to `out_dir`."""
    from transformers import (
        ChameleonConfig,
        ChameleonForConditionalGeneration,
        ChameleonImageProcessor,
        ChameleonProcessor,
    )

    tokenizer = build_tiny_tokenizer(
        extra_special_tokens={
            "image_token": IMAGE_TOKEN,
            "boi_token": BEGIN_IMAGE_TOKEN,
            "eoi_token": END_IMAGE_TOKEN,
        },
        added_tokens=[image_code_token(code) for code in range(CODEBOOK_SIZE)],
    )
    tokenizer.add_special_tokens({"sep_token": SEP_TOKEN})
    image_processor = ChameleonImageProcessor(
        size={"shortest_edge": IMAGE_SIZE}, crop_size={"height": IMAGE_SIZE, "width": IMAGE_SIZE}
    )
    processor = ChameleonProcessor(
        image_processor=image_processor, tokenizer=tokenizer, image_seq_length=IMAGE_TOKENS
    )
    config = ChameleonConfig(
        **lm_dims(tokenizer),
        vocabulary_map=dict(sorted(tokenizer.get_vocab().items(), key=lambda item: item[1])),
        vq_config={
            "embed_dim": 16,
            "num_embeddings": CODEBOOK_SIZE,
            "latent_channels": 16,
            "resolution": IMAGE_SIZE,
            "base_channels": 32,
            "channel_multiplier": [1, 1, 1, 1],
            "num_res_blocks": 1,
            "attn_resolutions": [],
        },
    )
    with seeded(seed):
        model = ChameleonForConditionalGeneration(config).eval()
    return save(out_dir, model, processor)
