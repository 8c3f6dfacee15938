"""Tiny random Idefics3 (about 170k parameters) with its processor.

A 2-layer ViT on 32x32 tiles with 4x4 patches, a pixel shuffle with scale factor 2 (16 image
tokens per tile) and a 2-layer Llama on the offline tiny tokenizer with Llama 3 style
``<|begin_of_text|>``/``<|end_of_text|>``. The processor does not split images (each becomes one
32x32 global tile) and keeps the real chat template; generation stops at ``<|end_of_text|>`` or
``<end_of_utterance>``. Same seed, same bytes.
"""

from __future__ import annotations

from pathlib import Path

from mllmbench.adapters.tiny.chat_templates import IDEFICS3_CHAT_TEMPLATE
from mllmbench.adapters.tiny.checkpoint import save, seeded
from mllmbench.adapters.tiny.language_models import llama_config
from mllmbench.adapters.tiny.tokenizer import build_tiny_tokenizer
from mllmbench.adapters.tiny.vision_towers import IMAGE_SIZE, INIT_RANGE, vit_dims

SPECIAL_TOKENS = (
    "<fake_token_around_image>",
    "<image>",
    "<end_of_utterance>",
    "<global-img>",
    *(f"<row_{row}_col_{col}>" for row in range(1, 7) for col in range(1, 7)),
)
"""The tokens the Idefics3 processor needs: image markers, end of turn, global and tile tags."""
PATCH_SIZE = 4
SCALE_FACTOR = 2
IMAGE_TOKENS = (IMAGE_SIZE // PATCH_SIZE) ** 2 // SCALE_FACTOR**2
"""Image tokens per tile of the tiny checkpoint: 64 patches folded 2x2 by the pixel shuffle = 16."""


def build(out_dir: Path, *, seed: int = 0) -> Path:
    """Write the tiny Idefics3 and its processor to `out_dir`."""
    from transformers import (
        Idefics3Config,
        Idefics3ForConditionalGeneration,
        Idefics3ImageProcessor,
        Idefics3Processor,
        Idefics3VisionConfig,
    )

    tokenizer = build_tiny_tokenizer(
        bos_token="<|begin_of_text|>",
        eos_token="<|end_of_text|>",
        pad_token="<pad>",
        unk_token=None,
        extra_special_tokens=list(SPECIAL_TOKENS),
    )
    image_processor = Idefics3ImageProcessor(
        size={"longest_edge": 2 * IMAGE_SIZE},
        max_image_size={"longest_edge": IMAGE_SIZE},
        do_image_splitting=False,
    )
    processor = Idefics3Processor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        image_seq_len=IMAGE_TOKENS,
        chat_template=IDEFICS3_CHAT_TEMPLATE,
    )
    config = Idefics3Config(
        vision_config=Idefics3VisionConfig(**vit_dims(patch_size=PATCH_SIZE, initializer_range=INIT_RANGE)),
        text_config=llama_config(tokenizer, max_position_embeddings=512),
        scale_factor=SCALE_FACTOR,
        image_token_id=processor.image_token_id,
        tie_word_embeddings=False,
    )
    with seeded(seed):
        model = Idefics3ForConditionalGeneration(config).eval()
    model.generation_config.eos_token_id = [
        tokenizer.eos_token_id,
        tokenizer.convert_tokens_to_ids("<end_of_utterance>"),
    ]
    return save(out_dir, model, processor)
