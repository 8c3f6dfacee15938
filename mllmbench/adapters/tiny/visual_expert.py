"""Tiny random visual-expert model (CogVLM design, `mllmbench.adapters.reference.visual_expert`).

The tiny LLaVA's parts (2-layer CLIP ViT on 32x32 images, 16 image tokens, 2-layer Llama on the
offline tiny tokenizer, the llava-1.5 chat template and ``LlavaProcessor``), with a vision expert
in every decoder layer. The vision experts start as copies of the language experts; the recipe
then adds seeded noise (``expert_noise``) to them so that the tiny checkpoint's two experts
differ, as they do after training (0 keeps the exact copy).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mllmbench.adapters.tiny.checkpoint import save, seeded
from mllmbench.adapters.tiny.language_models import llama_config
from mllmbench.adapters.tiny.llava import build_processor as llava_processor
from mllmbench.adapters.tiny.vision_towers import PATCHES, clip_vision_config

IMAGE_TOKENS = PATCHES
"""Image tokens of the tiny checkpoint: one per patch (the CLS feature is dropped)."""
EXPERT_NOISE = 0.02
"""Spread of the seeded noise added to the copied vision experts of the tiny checkpoint."""


def build_processor() -> Any:
    """The tiny LLaVA's processor (`tiny.llava.build_processor`)."""
    return llava_processor()


def perturb_vision_experts(model: Any, scale: float) -> None:
    """Add N(0, scale) noise to every vision-expert weight (the caller seeds the RNG)."""
    import torch

    with torch.no_grad():
        for name, param in model.named_parameters():
            if ".vision_expert." in name:
                param.add_(torch.randn_like(param) * scale)


def build(out_dir: Path, *, seed: int = 0, expert_noise: float = EXPERT_NOISE) -> Path:
    """Write the tiny visual-expert model and its processor to `out_dir`."""
    from mllmbench.adapters.reference.visual_expert import VisualExpertForConditionalGeneration

    processor = build_processor()
    model = VisualExpertForConditionalGeneration.from_zoo_parts(
        clip_vision_config(),
        llama_config(processor.tokenizer),
        processor.image_token_id,
        image_seq_length=IMAGE_TOKENS,
        seed=seed,
    )
    with seeded(seed + 1):
        perturb_vision_experts(model, expert_noise)
    return save(out_dir, model, processor)
