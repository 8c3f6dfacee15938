"""Tiny random LLaMA-Adapter (`mllmbench.adapters.reference.adaption_prompt`) with its processor.

The tiny LLaVA's tower and LM (2-layer CLIP ViT on 32x32 images, 2-layer Llama on the offline
tiny tokenizer, llava-1.5 chat template) with peft's adaption prompts (``ADAPTER_LEN`` tokens)
in both layers. ``LlavaProcessor`` with ``patch_size`` equal to the image size and no extra
tokens expands ``<image>`` to exactly one placeholder token. A fresh model's gates are zero
(it computes what the Llama alone does); the recipe sets them to ``GATE`` so that the tiny
checkpoint's answers depend on the image, as a trained one's do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mllmbench.adapters.tiny.checkpoint import save
from mllmbench.adapters.tiny.language_models import llama_config
from mllmbench.adapters.tiny.llava import build_processor as llava_processor
from mllmbench.adapters.tiny.vision_towers import clip_vision_config

ADAPTER_LEN = 4
"""Adaption prompt tokens per adapted layer of the tiny checkpoint."""
GATE = 0.5
"""The tiny checkpoint's gate value in every adapted layer (a fresh model's is 0)."""


def build_processor() -> Any:
    """The tiny LLaVA's processor with ``<image>`` kept as one token (`tiny.llava.build_processor`)."""
    return llava_processor(one_token_image=True)


def build(out_dir: Path, *, seed: int = 0, gate: float = GATE) -> Path:
    """Write the tiny LLaMA-Adapter and its processor to `out_dir`."""
    import torch

    from mllmbench.adapters.reference.adaption_prompt import LlamaAdapterForConditionalGeneration

    processor = build_processor()
    model = LlamaAdapterForConditionalGeneration.from_zoo_parts(
        clip_vision_config(),
        llama_config(processor.tokenizer),
        processor.image_token_id,
        adapter_len=ADAPTER_LEN,
        seed=seed,
    )
    with torch.no_grad():
        for layer in model.adapted_attentions():
            layer.adaption_gate.fill_(gate)
    return save(out_dir, model, processor)
