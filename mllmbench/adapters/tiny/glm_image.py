"""Tiny random GLM-Image (an autoregressive LLM emits visual tokens, a DiT renders them), saved as
a diffusers ``GlmImagePipeline``.

* AR model: ``GlmImageForConditionalGeneration`` (text width 32, 2 layers; vision tower depth 1,
  needed only for image inputs) whose head predicts ``VISION_VOCAB`` visual codes. For a 32x32
  image the processor asks for a 1x1 grid of 32-pixel tokens plus GLM-Image's 16x16 preview
  grid, so the AR draws 257 tokens per image before the DiT runs.
* Glyph encoder: ``T5EncoderModel`` (width 32, 1 layer) over ``ByT5Tokenizer()`` (no files: the
  byte tokenizer), for text quoted in the prompt.
* Decoder: ``GlmImageTransformer2DModel`` (patch 2, 1 layer, width 32, prior codebook
  ``VISION_VOCAB``) over an ``AutoencoderKL`` with four blocks (scale factor 8), sampled with
  ``FlowMatchEulerDiscreteScheduler`` (dynamic shifting: the pipeline passes ``mu``).
* Tokenizer: the offline tiny one with GLM-Image's markers: bos ``<|dit_token_16384|>`` (the
  image start the processor appends), ``<|image|>`` and the grid markers ``<sop>``/``<eop>``
  as attributes the processor reads, and a small chat template.

Traps: the AR's end-of-image token (``<|dit_token_16385|>``, its EOS) must lie outside the
visual vocabulary (an added token: high id), or a random head would stop early and leave the
pipeline fewer tokens than the grid; the tokenizer must not prepend its BOS (it is the image start
marker, which positions the image grid); the VAE needs ``latents_mean``/``latents_std``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mllmbench.adapters.tiny.checkpoint import save, seeded
from mllmbench.adapters.tiny.tokenizer import build_tiny_tokenizer

HIDDEN = 32
VISION_VOCAB = 128
"""Visual codes the AR head predicts (also the DiT's prior codebook)."""
LATENT_CHANNELS = 4
IMAGE_START = "<|dit_token_16384|>"
IMAGE_END = "<|dit_token_16385|>"
SPECIAL_TOKENS = {"image_token": "<|image|>", "grid_bos_token": "<sop>", "grid_eos_token": "<eop>"}
CHAT_TEMPLATE = (
    "{% for message in messages %}<|{{ message['role'] }}|>\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for item in message['content'] %}"
    "{% if item['type'] == 'image' %}<|begin_of_image|><|image|><|end_of_image|>"
    "{% elif item['type'] == 'text' %}{{ item['text'] }}{% endif %}"
    "{% endfor %}{% endif %}{% endfor %}<|assistant|>\n"
)
"""User turns as text (images as GLM-Image's markers), then the assistant header; the processor
appends the grid sizes and the image-start token after it."""


def build_tokenizer() -> Any:
    """The AR tokenizer: tiny BPE with GLM-Image's markers, no BOS prepended."""
    tokenizer = build_tiny_tokenizer(
        bos_token=IMAGE_START,
        eos_token="<|endoftext|>",
        extra_special_tokens=SPECIAL_TOKENS,
        added_tokens=[IMAGE_END, "<|begin_of_image|>", "<|end_of_image|>", "<|user|>", "<|assistant|>"],
        add_bos_token=False,
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def _networks(tokenizer: Any) -> tuple[Any, Any, Any, Any]:
    """AR model, glyph encoder, DiT and VAE, built in this order (the order fixes the draws)."""
    from diffusers import AutoencoderKL, GlmImageTransformer2DModel
    from transformers import GlmImageConfig, GlmImageForConditionalGeneration, T5Config, T5EncoderModel

    image_end = tokenizer.convert_tokens_to_ids(IMAGE_END)
    if image_end < VISION_VOCAB:
        raise ValueError(f"{IMAGE_END} has id {image_end}, inside the visual vocabulary ({VISION_VOCAB})")
    config = GlmImageConfig(
        text_config={
            "vocab_size": len(tokenizer),
            "hidden_size": HIDDEN,
            "intermediate_size": 2 * HIDDEN,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "num_key_value_heads": 1,
            "max_position_embeddings": 2048,
            "vision_vocab_size": VISION_VOCAB,
            "pad_token_id": tokenizer.pad_token_id,
            "eos_token_id": image_end,
            "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [2, 3, 3]},
        },
        vision_config={
            "depth": 1,
            "hidden_size": HIDDEN,
            "num_heads": 2,
            "intermediate_size": 2 * HIDDEN,
            "image_size": 64,
            "patch_size": 16,
        },
        vq_config={"embed_dim": HIDDEN, "num_embeddings": VISION_VOCAB, "latent_channels": HIDDEN},
        image_token_id=tokenizer.convert_tokens_to_ids(SPECIAL_TOKENS["image_token"]),
        image_start_token_id=tokenizer.convert_tokens_to_ids(IMAGE_START),
        image_end_token_id=image_end,
    )
    ar_model = GlmImageForConditionalGeneration(config)
    glyph = T5EncoderModel(
        T5Config(vocab_size=384, d_model=HIDDEN, d_kv=16, d_ff=2 * HIDDEN, num_layers=1, num_heads=2)
    )
    dit = GlmImageTransformer2DModel(
        patch_size=2,
        in_channels=LATENT_CHANNELS,
        out_channels=LATENT_CHANNELS,
        num_layers=1,
        attention_head_dim=16,
        num_attention_heads=2,
        text_embed_dim=HIDDEN,
        time_embed_dim=HIDDEN,
        condition_dim=16,
        prior_vq_quantizer_codebook_size=VISION_VOCAB,
    )
    vae = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        block_out_channels=(8, 16, 16, 32),
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        latent_channels=LATENT_CHANNELS,
        norm_num_groups=8,
        sample_size=32,
        latents_mean=[0.0] * LATENT_CHANNELS,
        latents_std=[1.0] * LATENT_CHANNELS,
    )
    return ar_model, glyph, dit, vae


def build(out_dir: Path, *, seed: int = 0) -> Path:
    """Write the tiny GLM-Image pipeline to `out_dir`."""
    from diffusers import FlowMatchEulerDiscreteScheduler, GlmImagePipeline
    from transformers import ByT5Tokenizer, GlmImageImageProcessorPil, GlmImageProcessor

    tokenizer = build_tokenizer()
    processor = GlmImageProcessor(
        image_processor=GlmImageImageProcessorPil(), tokenizer=tokenizer, chat_template=CHAT_TEMPLATE
    )
    with seeded(seed):
        ar_model, glyph, dit, vae = _networks(tokenizer)
    pipe: Any = GlmImagePipeline(
        tokenizer=ByT5Tokenizer(),
        processor=processor,
        text_encoder=glyph.eval(),
        vision_language_encoder=ar_model.eval(),
        vae=vae.eval(),
        transformer=dit.eval(),
        scheduler=FlowMatchEulerDiscreteScheduler(
            use_dynamic_shifting=True, base_shift=0.25, max_shift=0.75, base_image_seq_len=256
        ),
    )
    return save(out_dir, pipe)
