"""Tiny random Idefics2 (about 300k parameters) with its processor.

A 2-layer ViT with 8x8 patches on images resized to keep their aspect ratio with edges between
16 and 32 pixels (so a batch pads them), a perceiver resampler with 8 latents (depth 2), and a
2-layer Mistral on the offline tiny tokenizer; no image splitting, as in idefics2-8b. Generation
stops at ``</s>`` or ``<end_of_utterance>``. The class starts every latent at 1.0, which drowns
the 0.02-scale attention to the image (no answer changes with the image), so the latents are
drawn from N(0, 0.02) like the other weights. Same seed, same bytes.
"""

from __future__ import annotations

from pathlib import Path

from mllmbench.adapters.tiny.chat_templates import IDEFICS2_CHAT_TEMPLATE
from mllmbench.adapters.tiny.checkpoint import save, seeded
from mllmbench.adapters.tiny.language_models import HIDDEN, mistral_config
from mllmbench.adapters.tiny.tokenizer import build_tiny_tokenizer
from mllmbench.adapters.tiny.vision_towers import IMAGE_SIZE, INIT_RANGE, vit_dims

SPECIAL_TOKENS = ("<fake_token_around_image>", "<image>", "<end_of_utterance>")
"""The tokens the Idefics2 processor needs, in the order of the real vocabulary (32000-32002)."""
MIN_EDGE = 16
"""Shortest image edge of the tiny checkpoint: images keep their aspect ratio up to `IMAGE_SIZE`."""
LATENTS = 8
"""Image tokens of the tiny checkpoint: the resampler's latents (64 in the real Idefics2)."""


def build(out_dir: Path, *, seed: int = 0) -> Path:
    """Write the tiny Idefics2 and its processor to `out_dir`."""
    import torch
    from transformers import (
        Idefics2Config,
        Idefics2ForConditionalGeneration,
        Idefics2ImageProcessor,
        Idefics2PerceiverConfig,
        Idefics2Processor,
        Idefics2VisionConfig,
    )

    tokenizer = build_tiny_tokenizer(extra_special_tokens=list(SPECIAL_TOKENS))
    image_processor = Idefics2ImageProcessor(
        size={"shortest_edge": MIN_EDGE, "longest_edge": IMAGE_SIZE}, do_image_splitting=False
    )
    processor = Idefics2Processor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        image_seq_len=LATENTS,
        chat_template=IDEFICS2_CHAT_TEMPLATE,
    )
    text_config = mistral_config(tokenizer)
    config = Idefics2Config(
        vision_config=Idefics2VisionConfig(**vit_dims(initializer_range=INIT_RANGE)),
        perceiver_config=Idefics2PerceiverConfig(
            hidden_size=HIDDEN,
            rms_norm_eps=text_config.rms_norm_eps,
            resampler_n_latents=LATENTS,
            resampler_depth=2,
            resampler_n_heads=4,
            resampler_head_dim=16,
            num_key_value_heads=2,
            initializer_range=0.02,
        ),
        text_config=text_config,
        image_token_id=processor.image_token_id,
        tie_word_embeddings=False,
    )
    with seeded(seed):
        model = Idefics2ForConditionalGeneration(config).eval()
        with torch.no_grad():
            torch.nn.init.normal_(model.model.connector.perceiver_resampler.latents, std=0.02)
    model.generation_config.eos_token_id = [
        tokenizer.eos_token_id,
        tokenizer.convert_tokens_to_ids("<end_of_utterance>"),
    ]
    return save(out_dir, model, processor)
