"""The tiny language models: 2-layer decoders of width 64 on the offline tiny tokenizer.

`lm_dims` is what every tiny LM shares (sizes, the tokenizer's vocabulary and special ids, the
0.02 init spread); `llama_config`, `mistral_config`, `opt_config` and `gemma_config` build the
configs the families use, and `build_chat_lm` writes the text-only chat LM of the two-stage
adapters (``expert_pipeline``, ``llm_diffusion``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mllmbench.adapters.tiny.chat_templates import ZEPHYR_CHAT_TEMPLATE
from mllmbench.adapters.tiny.checkpoint import save, seeded
from mllmbench.adapters.tiny.tokenizer import build_tiny_tokenizer

HIDDEN = 64
"""Width of every tiny LM (the connectors project to it)."""


def lm_dims(tokenizer: Any, **overrides: Any) -> dict[str, Any]:
    """Config keywords shared by the tiny Llama-style LMs: sizes, vocabulary, special ids, init."""
    dims: dict[str, Any] = {
        "hidden_size": HIDDEN,
        "intermediate_size": 2 * HIDDEN,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "vocab_size": len(tokenizer),
        "max_position_embeddings": 256,
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
        "initializer_range": 0.02,
    }
    return {**dims, **overrides}


def llama_config(tokenizer: Any, **overrides: Any) -> Any:
    """A tiny ``LlamaConfig`` (LLaVA, InstructBLIP, Idefics3, the chat LM)."""
    from transformers import LlamaConfig

    return LlamaConfig(**lm_dims(tokenizer, **overrides))


def mistral_config(tokenizer: Any, **overrides: Any) -> Any:
    """A tiny ``MistralConfig`` (LLaVA-NeXT, Idefics2)."""
    from transformers import MistralConfig

    return MistralConfig(**lm_dims(tokenizer, **overrides))


def opt_config(tokenizer: Any) -> Any:
    """A tiny ``OPTConfig`` (BLIP-2): no separate embedding projection, no dropout."""
    from transformers import OPTConfig

    return OPTConfig(
        hidden_size=HIDDEN,
        ffn_dim=2 * HIDDEN,
        num_hidden_layers=2,
        num_attention_heads=4,
        word_embed_proj_dim=HIDDEN,
        vocab_size=len(tokenizer),
        max_position_embeddings=256,
        dropout=0.0,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )


def gemma_config(tokenizer: Any, *, initializer_range: float) -> Any:
    """A tiny ``GemmaConfig`` (PaliGemma): one KV head, head_dim 16, the given init spread."""
    from transformers import GemmaConfig

    return GemmaConfig(
        hidden_size=HIDDEN,
        intermediate_size=2 * HIDDEN,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=1,
        head_dim=16,
        vocab_size=len(tokenizer),
        max_position_embeddings=256,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        initializer_range=initializer_range,
    )


def build_chat_lm(out_dir: Path, *, seed: int, extra_corpus: Sequence[str]) -> Path:
    """Write a 2-layer ``LlamaForCausalLM`` chat LM with the TinyLlama-Chat (Zephyr) template.

    The tokenizer is the offline tiny one with Zephyr's role tokens, trained also on
    `extra_corpus` so the stage's prompts tokenize compactly.
    """
    from transformers import LlamaForCausalLM

    tokenizer = build_tiny_tokenizer(
        extra_special_tokens=["<|user|>", "<|assistant|>", "<|system|>"], extra_corpus=list(extra_corpus)
    )
    tokenizer.chat_template = ZEPHYR_CHAT_TEMPLATE
    config = llama_config(tokenizer, max_position_embeddings=512)
    with seeded(seed):
        model = LlamaForCausalLM(config).eval()
    return save(out_dir, model, tokenizer)
