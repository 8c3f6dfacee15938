"""The one backbone every zoo member shares: vision tower size, LLM size, tokenizer, image size.

Sizes follow the feasibility measurements of the zoo issue: a ViT of width 128, 3 layers, patch 8
on 64x64 images (64 patches) and a Llama-style decoder of width 128, 4 layers. Each family builds
its own tower and decoder classes (CLIP for LLaVA, the BLIP-2, Idefics2 and Mllama towers, OPT for
BLIP-2's LLM, Mistral for Idefics2's), all with these dimensions, the 0.02 init spread and no
dropout. The tokenizer is the offline tiny BPE tokenizer trained also on Shapes questions and
captions of the training seed, so every member tokenizes the same words into the same pieces.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

IMAGE_SIZE = 64
"""Shapes images (128x128) are resized to this by every member's image processor."""
PATCH_SIZE = 8
PATCHES = (IMAGE_SIZE // PATCH_SIZE) ** 2
"""Patch features of one image (64), the CLS feature not counted."""
VISION_WIDTH = 128
VISION_LAYERS = 3
LLM_WIDTH = 128
LLM_LAYERS = 4
HEADS = 4
INIT_RANGE = 0.02
MAX_POSITIONS = 512
VOCAB_SIZE = 600
TOKENIZER_CORPUS_SEED = 999
"""Shapes seed of the scenes whose questions and captions train the tokenizer (never evaluated)."""
TOKENIZER_CORPUS_IMAGES = 300

VIT_DIMS: dict[str, int] = {
    "hidden_size": VISION_WIDTH,
    "intermediate_size": 4 * VISION_WIDTH,
    "num_hidden_layers": VISION_LAYERS,
    "num_attention_heads": HEADS,
    "image_size": IMAGE_SIZE,
    "patch_size": PATCH_SIZE,
}


def vit_dims(**overrides: Any) -> dict[str, Any]:
    """`VIT_DIMS` plus the 0.02 init spread and zero dropout, with `overrides` applied."""
    return {**VIT_DIMS, "initializer_range": INIT_RANGE, "attention_dropout": 0.0, **overrides}


def lm_dims(tokenizer: Any, **overrides: Any) -> dict[str, Any]:
    """Llama-style decoder keywords: the zoo sizes, the tokenizer's vocabulary and special ids."""
    dims: dict[str, Any] = {
        "hidden_size": LLM_WIDTH,
        "intermediate_size": 2 * LLM_WIDTH,
        "num_hidden_layers": LLM_LAYERS,
        "num_attention_heads": HEADS,
        "num_key_value_heads": HEADS,
        "vocab_size": len(tokenizer),
        "max_position_embeddings": MAX_POSITIONS,
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
        "initializer_range": INIT_RANGE,
        "attention_dropout": 0.0,
        "tie_word_embeddings": False,
    }
    return {**dims, **overrides}


def shapes_corpus() -> list[str]:
    """Questions, answers and captions of `TOKENIZER_CORPUS_IMAGES` scenes of the corpus seed."""
    from mllmbench.suites import shapes_captions, shapes_render, shapes_text

    lines = []
    for image_id in range(1, TOKENIZER_CORPUS_IMAGES + 1):
        scene = shapes_render.sample_scene(TOKENIZER_CORPUS_SEED, image_id)
        rng = shapes_render.scene_rng(TOKENIZER_CORPUS_SEED, image_id, "zoo-tokenizer")
        for qa in shapes_text.make_questions(scene, rng, len(shapes_text.QUESTION_TEMPLATES)):
            lines.append(f"{qa.question} {qa.answer}")
        lines.extend(shapes_captions.make_captions(scene, rng, 5))
    lines.append("Answer the question using a single word or phrase.")
    lines.append("Provide a one-sentence caption for the provided image.")
    return lines


def zoo_tokenizer(
    *,
    extra_special_tokens: Sequence[str] | Mapping[str, str] = (),
    **kwargs: Any,
) -> Any:
    """The zoo tokenizer: the tiny BPE trained on its default corpus plus `shapes_corpus`."""
    from mllmbench.adapters.tiny.tokenizer import build_tiny_tokenizer

    return build_tiny_tokenizer(
        extra_special_tokens=extra_special_tokens,
        vocab_size=VOCAB_SIZE,
        extra_corpus=shapes_corpus(),
        **kwargs,
    )
