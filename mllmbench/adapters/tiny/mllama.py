"""Tiny random Mllama (Llama 3.2 Vision, about 200k parameters) with its processor.

A ViT with 2 local layers and 1 global layer on 32x32 tiles with 8x8 patches (17 features per
tile, up to 4 tiles), the projector, and a 2-layer text model whose second layer is a
cross-attention layer, on the offline tiny tokenizer with Llama 3's special tokens and the
Llama-3.2-Vision chat template. Two changes to the default initialisation make the answers
depend on the image: the cross-attention gates, zero in Mllama (image shut out), are set to one,
and the projector is drawn with `PROJECTOR_INIT_STD` instead of 0.02 (otherwise the
cross-attention adds a tenth of the residual stream and six different images give the same
greedy answer).
"""

from __future__ import annotations

from pathlib import Path

from mllmbench.adapters.tiny.chat_templates import LLAMA_32_VISION_CHAT_TEMPLATE
from mllmbench.adapters.tiny.checkpoint import save, seeded
from mllmbench.adapters.tiny.language_models import lm_dims
from mllmbench.adapters.tiny.tokenizer import build_tiny_tokenizer
from mllmbench.adapters.tiny.vision_towers import IMAGE_SIZE, INIT_RANGE, PATCH_SIZE, PATCHES

TILE_SIZE = IMAGE_SIZE
MAX_TILES = 4
"""``MllamaImageProcessor`` only supports the aspect ratios of four tiles."""
FEATURES_PER_TILE = PATCHES + 1
"""Vision features of one tile of the tiny model: one per patch plus the CLS feature."""
CROSS_ATTENTION_LAYERS = (1,)
"""Text layers of the tiny model that are cross-attention layers (of 2)."""
PROJECTOR_INIT_STD = 0.2
"""Spread of the tiny model's projector weights (10x the 0.02 of the other weights)."""
LLAMA_3_SPECIAL_TOKENS = {
    "image_token": "<|image|>",
    "end_of_text_token": "<|end_of_text|>",
    "start_header_token": "<|start_header_id|>",
    "end_header_token": "<|end_header_id|>",
    "python_token": "<|python_tag|>",
}


def build(out_dir: Path, *, seed: int = 0) -> Path:
    """Write the tiny Mllama and its processor to `out_dir`."""
    import torch
    from transformers import (
        MllamaConfig,
        MllamaForConditionalGeneration,
        MllamaImageProcessor,
        MllamaProcessor,
    )

    tokenizer = build_tiny_tokenizer(
        bos_token="<|begin_of_text|>",
        eos_token="<|eot_id|>",
        pad_token="<|finetune_right_pad_id|>",
        unk_token=None,
        extra_special_tokens=LLAMA_3_SPECIAL_TOKENS,
        extra_corpus=["user assistant system"],
    )
    image_processor = MllamaImageProcessor(
        size={"height": TILE_SIZE, "width": TILE_SIZE}, max_image_tiles=MAX_TILES
    )
    processor = MllamaProcessor(
        image_processor=image_processor, tokenizer=tokenizer, chat_template=LLAMA_32_VISION_CHAT_TEMPLATE
    )
    end_ids = [tokenizer.convert_tokens_to_ids("<|end_of_text|>"), tokenizer.eos_token_id]
    config = MllamaConfig(
        vision_config={
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_global_layers": 1,
            "attention_heads": 4,
            "image_size": TILE_SIZE,
            "patch_size": PATCH_SIZE,
            "max_num_tiles": MAX_TILES,
            "intermediate_layers_indices": [0],
            "vision_output_dim": 64,
            "initializer_range": INIT_RANGE,
        },
        text_config=lm_dims(
            tokenizer, eos_token_id=end_ids, cross_attention_layers=list(CROSS_ATTENTION_LAYERS)
        ),
        image_token_index=processor.image_token_id,
    )
    with seeded(seed):
        model = MllamaForConditionalGeneration(config).eval()
        with torch.no_grad():
            model.model.multi_modal_projector.weight.normal_(std=PROJECTOR_INIT_STD)
            for index in CROSS_ATTENTION_LAYERS:
                layer = model.model.language_model.layers[index]
                layer.cross_attn_attn_gate.fill_(1.0)
                layer.cross_attn_mlp_gate.fill_(1.0)
    model.generation_config.eos_token_id = end_ids
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return save(out_dir, model, processor)
