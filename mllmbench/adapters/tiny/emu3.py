"""Tiny random Emu3 (understanding and VQ-token generation) with its processor.

A VQ-VAE (``Emu3VQVAE``) with 32 base channels and four channel multipliers (three 2x
downsamplings: the processor hard-codes a downsample ratio of 8), a 32-code codebook and no
temporal downsampling, so a 32x32 image is a 4x4 grid of codes; in the LLM's sequence every grid
row ends with the end-of-line token ``<|extra_200|>`` (4 x 5 = 20 positions). The LLM is a
2-layer Emu3 (Llama-style) decoder of width 64 whose vocabulary holds one
``<|visual token NNNNNN|>`` per code; the config's ``vocabulary_map`` is the tokenizer's
vocabulary, which is how the model maps codes to tokens and back.

Tokenizer: the offline tiny one with Emu3's special-token names (BOS ``<|extra_203|>``, EOS
``<|extra_204|>``, pad ``<|endoftext|>``, ``<image>``, ``<|image start|>``, ``<|image end|>``,
``<|image token|>``, ``<|extra_201|>`` as end of frame) as attributes the processor reads; it adds
no BOS itself, since ``Emu3Processor`` prepends one. Image processor: ``min_pixels=256``,
``max_pixels=1024``, so any image is resized to at most 32x32 (and the adapter's default
generation size is 32x32, see `mllmbench.adapters.emu3`).

Traps: GroupNorm(32) needs ``base_channels`` >= 32; ``temporal_downsample_factor=1`` (the
default 4 expects video clips); ``attention_dropout`` of the text config defaults to 0.1 (set 0).
"""

from __future__ import annotations

from pathlib import Path

from mllmbench.adapters.emu3 import (
    BOS_TOKEN,
    EOF_TOKEN,
    EOL_TOKEN,
    EOS_TOKEN,
    IMAGE_END_TOKEN,
    IMAGE_START_TOKEN,
    IMAGE_TOKEN,
    IMAGE_WRAPPER_TOKEN,
    PAD_TOKEN,
    visual_token,
)
from mllmbench.adapters.tiny.chat_templates import EMU3_CHAT_TEMPLATE
from mllmbench.adapters.tiny.checkpoint import save, seeded
from mllmbench.adapters.tiny.language_models import lm_dims
from mllmbench.adapters.tiny.tokenizer import build_tiny_tokenizer
from mllmbench.adapters.tiny.vision_towers import IMAGE_SIZE

CODEBOOK = 32
"""Codes of the tiny VQ-VAE, each with its ``<|visual token NNNNNN|>`` in the vocabulary."""
GRID = IMAGE_SIZE // 8
"""Side of a 32x32 image's code grid (downsample ratio 8)."""
IMAGE_TOKENS = GRID * (GRID + 1)
"""LLM positions of one 32x32 image: the code grid plus one end-of-line token per row."""


def build(out_dir: Path, *, seed: int = 0) -> Path:
    """Write the tiny Emu3 and its processor to `out_dir`."""
    from transformers import Emu3Config, Emu3ForConditionalGeneration, Emu3ImageProcessor, Emu3Processor

    tokenizer = build_tiny_tokenizer(
        bos_token=BOS_TOKEN,
        eos_token=EOS_TOKEN,
        pad_token=PAD_TOKEN,
        extra_special_tokens={
            "image_token": IMAGE_TOKEN,
            "boi_token": IMAGE_START_TOKEN,
            "eoi_token": IMAGE_END_TOKEN,
            "image_wrapper_token": IMAGE_WRAPPER_TOKEN,
            "eof_token": EOF_TOKEN,
        },
        added_tokens=[EOL_TOKEN, *(visual_token(code) for code in range(CODEBOOK))],
        add_bos_token=False,
        extra_corpus=["USER: What is this? ASSISTANT: a shape", "You are a helpful assistant."],
    )
    processor = Emu3Processor(
        image_processor=Emu3ImageProcessor(min_pixels=IMAGE_SIZE * IMAGE_SIZE // 4, max_pixels=IMAGE_SIZE**2),
        tokenizer=tokenizer,
        chat_template=EMU3_CHAT_TEMPLATE,
    )
    config = Emu3Config(
        vq_config={
            "codebook_size": CODEBOOK,
            "embed_dim": 8,
            "latent_channels": 8,
            "base_channels": 32,
            "channel_multiplier": [1, 1, 1, 1],
            "num_res_blocks": 1,
            "attn_resolutions": [],
            "temporal_downsample_factor": 1,
            "hidden_size": 32,
            "num_attention_heads": 1,
        },
        text_config={**lm_dims(tokenizer), "attention_dropout": 0.0},
        vocabulary_map=dict(sorted(tokenizer.get_vocab().items(), key=lambda item: item[1])),
    )
    with seeded(seed):
        model = Emu3ForConditionalGeneration(config).eval()
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return save(out_dir, model, processor)
