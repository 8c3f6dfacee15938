"""LLaVA: a CLIP vision tower whose patch features an MLP projector maps into a Llama-style LLM.

Loads any ``LlavaForConditionalGeneration`` checkpoint (``llava-hf/llava-1.5-7b-hf`` and the
like) with its ``LlavaProcessor``; prompts come from the processor's chat template, images
first, so a llava-1.5 checkpoint sees ``USER: <image>\\n{text} ASSISTANT:``. Each ``<image>``
is expanded by the processor into one position per projected patch.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from mllmbench.adapters.hf import HFVisionLanguageAdapter
from mllmbench.core.types import Capability, Connector


class LlavaAdapter(HFVisionLanguageAdapter):
    """LLaVA (1.5 and compatible): CLIP ViT -> 2-layer MLP projector -> Llama-family LLM."""

    name: ClassVar[str] = "llava"
    description: ClassVar[str] = "LLaVA: CLIP vision tower, MLP projector, Llama-style LLM"
    capabilities: ClassVar[Capability] = Capability.UNDERSTAND
    connector: ClassVar[Connector] = Connector.MLP
    model_class_name: ClassVar[str] = "LlavaForConditionalGeneration"
    param_groups: ClassVar[dict[str, tuple[str, ...]]] = {
        "vision": ("model.vision_tower",),
        "connector": ("model.multi_modal_projector",),
        "llm": ("model.language_model", "lm_head"),
    }

    @classmethod
    def build_tiny(cls, out_dir: Path, *, seed: int = 0) -> Path:
        """Write the tiny random checkpoint of `mllmbench.adapters.tiny.llava` to `out_dir`."""
        from mllmbench.adapters.tiny import llava

        return llava.build(out_dir, seed=seed)
