"""Tiny random Janus (understanding and generation parts) with its processor.

Understanding: a 2-layer ViT on 32x32 images with 8x8 patches (16 image tokens) and the 2-layer
MLP aligner into a 2-layer Llama. Generation: a VQ-VAE with 32 base channels and three
downsamplings (a 4x4 latent grid, ``num_patches=4``) over a 32-code codebook, with its aligner
projecting to the LLM width, so the same checkpoint also generates images. Tokenizer: the offline
tiny one with DeepSeek's BOS/EOS names and Janus's image tokens as tokenizer attributes;
processor: the hub checkpoints' chat template and default system prompt. The LM head is not tied
to the input embeddings: tied, the random model only ever repeats the prompt's last token.
"""

from __future__ import annotations

from pathlib import Path

from mllmbench.adapters.janus import BEGIN_IMAGE_TOKEN, END_IMAGE_TOKEN, IMAGE_TOKEN
from mllmbench.adapters.tiny.chat_templates import JANUS_CHAT_TEMPLATE
from mllmbench.adapters.tiny.checkpoint import save, seeded
from mllmbench.adapters.tiny.language_models import HIDDEN, lm_dims
from mllmbench.adapters.tiny.tokenizer import build_tiny_tokenizer
from mllmbench.adapters.tiny.vision_towers import IMAGE_SIZE, INIT_RANGE, PATCH_SIZE, PATCHES

IMAGE_TOKENS = PATCHES
"""Image positions of the tiny model: one per ViT patch."""
VQ_CODES = 32
"""Codebook size of the tiny VQ-VAE (the generation path)."""


def build(out_dir: Path, *, seed: int = 0) -> Path:
    """Write the tiny Janus and its processor to `out_dir`."""
    from transformers import JanusConfig, JanusForConditionalGeneration, JanusImageProcessor, JanusProcessor

    tokenizer = build_tiny_tokenizer(
        bos_token="<\uff5cbegin\u2581of\u2581sentence\uff5c>",
        eos_token="<\uff5cend\u2581of\u2581sentence\uff5c>",
        pad_token="<\uff5c\u2581pad\u2581\uff5c>",
        extra_special_tokens={
            "image_token": IMAGE_TOKEN,
            "boi_token": BEGIN_IMAGE_TOKEN,
            "eoi_token": END_IMAGE_TOKEN,
        },
        extra_corpus=["<|User|>: What is this?\n\n<|Assistant|>: a shape", "You are a helpful assistant."],
    )
    processor = JanusProcessor(
        image_processor=JanusImageProcessor(size={"height": IMAGE_SIZE, "width": IMAGE_SIZE}),
        tokenizer=tokenizer,
        chat_template=JANUS_CHAT_TEMPLATE,
        use_default_system_prompt=True,
        num_image_tokens=IMAGE_TOKENS,
    )
    image_token_id = tokenizer.convert_tokens_to_ids(IMAGE_TOKEN)
    assert isinstance(image_token_id, int)
    config = JanusConfig(
        text_config={"model_type": "llama", **lm_dims(tokenizer)},
        vision_config={
            "hidden_size": 32,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "mlp_ratio": 2.0,
            "image_size": IMAGE_SIZE,
            "patch_size": PATCH_SIZE,
            "projection_dim": HIDDEN,
            "depth": 2,
            "num_image_tokens": IMAGE_TOKENS,
            "initializer_range": INIT_RANGE,
        },
        vq_config={
            "embed_dim": 8,
            "num_embeddings": VQ_CODES,
            "latent_channels": 16,
            "base_channels": 32,
            "channel_multiplier": [1, 1, 1, 1],
            "num_res_blocks": 1,
            "num_patches": IMAGE_SIZE // 8,
            "projection_dim": HIDDEN,
            "image_token_embed_dim": HIDDEN,
            "num_hidden_layers": 1,
            "initializer_range": INIT_RANGE,
        },
        image_token_id=image_token_id,
        tie_word_embeddings=False,
    )
    with seeded(seed):
        model = JanusForConditionalGeneration(config).eval()
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return save(out_dir, model, processor)
