"""Tiny random Qwen2-VL and Qwen2.5-VL with their real processors.

A 2-layer ViT with 8x8 patches, a 2x2 patch merger and a 2-layer Qwen2 text model on the offline
tiny tokenizer (ChatML tokens, ``<|im_end|>`` as EOS, ``<|endoftext|>`` as pad, no BOS, as the
Instruct checkpoints). Images are resized to between 16x16 and 64x64 pixels' worth (1 to 16
visual tokens). The processor includes the family's video processor. Weights come from the
default initialisers under ``torch.manual_seed(seed)``. The two versions differ in their classes
and the vision tower's layout (Qwen2.5-VL: windowed attention, SwiGLU).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mllmbench.adapters.tiny.chat_templates import QWEN2_VL_CHAT_TEMPLATE
from mllmbench.adapters.tiny.checkpoint import save, seeded
from mllmbench.adapters.tiny.language_models import HIDDEN
from mllmbench.adapters.tiny.tokenizer import build_tiny_tokenizer

QWEN_SPECIAL_TOKENS = {
    "image_token": "<|image_pad|>",
    "video_token": "<|video_pad|>",
    "vision_start_token": "<|vision_start|>",
    "vision_end_token": "<|vision_end|>",
    "im_start_token": "<|im_start|>",
}
"""The special tokens of the tiny Qwen tokenizer besides ``<|im_end|>`` (EOS) and ``<|endoftext|>`` (pad)."""

PATCH_SIZE = 8
MERGE_SIZE = 2
MIN_PIXELS = 16 * 16
"""The tiny image processor's pixel budget: at least one merged token ..."""
MAX_PIXELS = 64 * 64
"""... and at most (64 / (8 * 2))^2 = 16 merged tokens per image."""
TRAINING_CORPUS = ("system\nYou are a helpful assistant.\nuser\nWhat colour is the circle?\nassistant\nred",)
"""Extra tokenizer training lines, so the ChatML default system prompt tokenizes compactly."""

QWEN2_VL_VISION = {
    "depth": 2,
    "embed_dim": 32,
    "hidden_size": HIDDEN,
    "mlp_ratio": 2,
    "num_heads": 4,
    "patch_size": PATCH_SIZE,
    "spatial_merge_size": MERGE_SIZE,
    "temporal_patch_size": 2,
    "initializer_range": 0.02,
}
"""The 2-layer Qwen2-VL tower (8 px patches, 2x2 merger into 64 dims)."""
QWEN2_5_VL_VISION = {
    "depth": 2,
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_heads": 4,
    "out_hidden_size": HIDDEN,
    "patch_size": PATCH_SIZE,
    "spatial_merge_size": MERGE_SIZE,
    "temporal_patch_size": 2,
    # Windows of 32 pixels = 2x2 merged tokens; the last block attends to the whole image.
    "window_size": 32,
    "fullatt_block_indexes": [1],
    "initializer_range": 0.02,
}
"""The 2-layer window-attention Qwen2.5-VL tower (8 px patches, 2x2 merger)."""

VERSIONS = {
    "qwen2_vl": ("Qwen2VLProcessor", "Qwen2VLConfig", "Qwen2VLForConditionalGeneration", QWEN2_VL_VISION),
    "qwen2_5_vl": (
        "Qwen2_5_VLProcessor",
        "Qwen2_5_VLConfig",
        "Qwen2_5_VLForConditionalGeneration",
        QWEN2_5_VL_VISION,
    ),
}
"""Per version: processor, config and model class names, and the vision tower config."""


def text_config(vocab_size: int, *, eos_token_id: int, pad_token_id: int) -> dict[str, Any]:
    """The 2-layer Qwen2 text model of both tiny checkpoints (head_dim 16: M-RoPE sections 2+3+3)."""
    return {
        "vocab_size": vocab_size,
        "hidden_size": HIDDEN,
        "intermediate_size": 2 * HIDDEN,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": 512,
        "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [2, 3, 3]},
        "initializer_range": 0.02,
        "bos_token_id": pad_token_id,
        "eos_token_id": eos_token_id,
        "pad_token_id": pad_token_id,
    }


def build(out_dir: Path, *, seed: int = 0, version: str = "qwen2_vl") -> Path:
    """Write the tiny model of `version` (``qwen2_vl`` or ``qwen2_5_vl``) and its processor."""
    import transformers
    from transformers import GenerationConfig, Qwen2VLImageProcessor, Qwen2VLVideoProcessor

    processor_name, config_name, model_name, vision_config = VERSIONS[version]
    tokenizer = build_tiny_tokenizer(
        bos_token=None,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token=None,
        extra_special_tokens=QWEN_SPECIAL_TOKENS,
        add_bos_token=False,
        extra_corpus=TRAINING_CORPUS,
    )
    pixels = {"shortest_edge": MIN_PIXELS, "longest_edge": MAX_PIXELS}
    patching: dict[str, Any] = {"patch_size": PATCH_SIZE, "merge_size": MERGE_SIZE, "temporal_patch_size": 2}
    processor = getattr(transformers, processor_name)(
        image_processor=Qwen2VLImageProcessor(size=pixels, **patching),
        video_processor=Qwen2VLVideoProcessor(size=pixels, **patching),
        tokenizer=tokenizer,
        chat_template=QWEN2_VL_CHAT_TEMPLATE,
    )
    ids = tokenizer.convert_tokens_to_ids
    config = getattr(transformers, config_name)(
        vision_config=dict(vision_config),  # type: ignore[call-overload]
        text_config=text_config(
            len(tokenizer), eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id
        ),
        image_token_id=ids(QWEN_SPECIAL_TOKENS["image_token"]),
        video_token_id=ids(QWEN_SPECIAL_TOKENS["video_token"]),
        vision_start_token_id=ids(QWEN_SPECIAL_TOKENS["vision_start_token"]),
        vision_end_token_id=ids(QWEN_SPECIAL_TOKENS["vision_end_token"]),
    )
    with seeded(seed):
        model = getattr(transformers, model_name)(config).eval()
    # As the Instruct checkpoints: stop at <|im_end|> or <|endoftext|>.
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.pad_token_id,
        eos_token_id=[tokenizer.eos_token_id, tokenizer.pad_token_id],
        pad_token_id=tokenizer.pad_token_id,
    )
    return save(out_dir, model, processor)


def build_qwen2_5(out_dir: Path, *, seed: int = 0) -> Path:
    """Write the tiny Qwen2.5-VL and its processor (`build` with ``version="qwen2_5_vl"``)."""
    return build(out_dir, seed=seed, version="qwen2_5_vl")
