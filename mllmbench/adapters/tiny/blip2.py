"""Tiny random BLIP-2 (about 170k parameters) with its processor, and the BLIP pieces InstructBLIP shares.

A 2-layer ViT on 32x32 images with 8x8 patches, a 2-layer Q-Former with 8 learned queries
(cross-attention in every layer), and a 2-layer OPT on the offline tiny tokenizer. The vision
tower's default init spread (1e-10) would make it dead, so it is 0.02; dropout is 0. The query
tokens keep the class's zero start: the Q-Former output is then driven by the cross-attention to
the image alone, which is what makes the random model's answers change with the image (random
queries drown that signal). Same seed, same bytes.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from mllmbench.adapters.tiny.checkpoint import save, seeded
from mllmbench.adapters.tiny.language_models import opt_config
from mllmbench.adapters.tiny.tokenizer import build_tiny_tokenizer
from mllmbench.adapters.tiny.vision_towers import IMAGE_SIZE, INIT_RANGE, vit_dims

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast

QUERY_TOKENS = 8
"""Image tokens of the tiny checkpoints: one per learned query (32 in the real BLIP-2)."""
QFORMER_HIDDEN = 32


def opt_tokenizer() -> PreTrainedTokenizerFast:
    """The offline tiny tokenizer with the OPT conventions: ``</s>`` is both BOS and EOS.

    ``<image>`` is a plain added special token (not a named tokenizer attribute), as in the
    real BLIP-2 checkpoints, so ``Blip2Processor`` finds it by content.
    """
    return build_tiny_tokenizer(
        bos_token="</s>",
        eos_token="</s>",
        pad_token="<pad>",
        unk_token="<unk>",
        extra_special_tokens=["<image>"],
    )


def blip_vision_config(config_cls: Any) -> Any:
    """The tiny BLIP-family ViT config (`config_cls` is Blip2VisionConfig or InstructBlipVisionConfig)."""
    return config_cls(**vit_dims(initializer_range=INIT_RANGE))


def qformer_config(config_cls: Any, *, vocab_size: int, initializer_range: float = 0.02) -> Any:
    """The tiny Q-Former config: 2 layers, cross-attention to the image in both, no dropout."""
    return config_cls(
        hidden_size=QFORMER_HIDDEN,
        intermediate_size=2 * QFORMER_HIDDEN,
        num_hidden_layers=2,
        num_attention_heads=4,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        cross_attention_frequency=1,
        vocab_size=vocab_size,
        max_position_embeddings=128,
        initializer_range=initializer_range,
    )


def build(out_dir: Path, *, seed: int = 0) -> Path:
    """Write the tiny BLIP-2 and its processor to `out_dir`."""
    from transformers import (
        Blip2Config,
        Blip2ForConditionalGeneration,
        Blip2Processor,
        Blip2QFormerConfig,
        Blip2VisionConfig,
        BlipImageProcessor,
    )

    tokenizer = opt_tokenizer()
    processor = Blip2Processor(
        image_processor=BlipImageProcessor(size={"height": IMAGE_SIZE, "width": IMAGE_SIZE}),
        tokenizer=tokenizer,
        num_query_tokens=QUERY_TOKENS,
    )
    config = Blip2Config(
        vision_config=blip_vision_config(Blip2VisionConfig),
        qformer_config=qformer_config(Blip2QFormerConfig, vocab_size=len(tokenizer)),
        text_config=opt_config(tokenizer),
        num_query_tokens=QUERY_TOKENS,
        image_token_index=tokenizer.get_vocab()["<image>"],
    )
    with seeded(seed):
        model = Blip2ForConditionalGeneration(config).eval()
    return save(out_dir, model, processor)
