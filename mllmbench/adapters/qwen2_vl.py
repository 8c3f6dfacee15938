"""Qwen2-VL and Qwen2.5-VL: a native-resolution ViT whose patch merger (an MLP) feeds a Qwen2 LLM.

Loads any ``Qwen2VLForConditionalGeneration`` (``Qwen/Qwen2-VL-2B-Instruct`` ...) or
``Qwen2_5_VLForConditionalGeneration`` (``Qwen/Qwen2.5-VL-3B-Instruct`` ...) checkpoint with its
processor. Prompts come from the processor's chat template (ChatML: the default system prompt,
then ``<|im_start|>user\\n<|vision_start|><|image_pad|><|vision_end|>{text}<|im_end|>`` and the
assistant header).

Dynamic resolution: the image processor resizes each image to multiples of
``patch_size * merge_size`` inside the ``[min_pixels, max_pixels]`` budget (``size`` of the
image processor), the ViT embeds every ``patch_size`` patch, and the patch merger (an MLP on
``merge_size x merge_size`` neighbouring patches) turns them into LLM tokens. The processor
expands each ``<|image_pad|>`` into one position per merged token, so **the number of visual
tokens depends on the image size**: `AdapterInfo.visual_tokens_per_image` is the count of the
blank ``probe_image_size`` image and each result's ``usage.image_tokens`` is the count of its own
``<|image_pad|>`` positions (the ``<|vision_start|>``/``<|vision_end|>`` markers around them are
ordinary text tokens and are not counted).

Video (`Capability.VIDEO`): each clip's sampled frames go to the processor's video processor
(``videos=``), which groups ``temporal_patch_size`` (2) consecutive frames into one temporal
patch and expands ``<|video_pad|>`` into one position per merged token of every frame pair;
those positions count in ``usage.image_tokens`` (Qwen2.5-VL also gets the frames' rate for its
temporal positions). An odd frame count is padded by the processor with the last frame.

The processor also returns ``mm_token_type_ids``, which the model needs for its multimodal
rotary positions (M-RoPE); it is passed to ``generate`` with the other processor outputs.
Batching works: left padding is taken into account by the M-RoPE position computation.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from mllmbench.adapters.hf import HFVisionLanguageAdapter
from mllmbench.core.types import Capability, Connector


class Qwen2VLAdapter(HFVisionLanguageAdapter):
    """Qwen2-VL: ViT with 2D rotary positions -> patch merger (MLP over 2x2 patches) -> Qwen2 LLM.

    Connector: ``mlp`` (the patch merger). Visual tokens per image vary with the resolution:
    (height / (patch * merge)) x (width / (patch * merge)) after the budgeted resize.

    ``param_groups`` lists the connector first: the patch merger lives inside the vision
    module (``model.visual.merger``), and a parameter counts in the first group naming it, so
    ``vision`` is the ViT without its merger.
    """

    name: ClassVar[str] = "qwen2_vl"
    description: ClassVar[str] = (
        "Qwen2-VL: native-resolution ViT, MLP patch merger (2x2), Qwen2 LLM with M-RoPE"
    )
    capabilities: ClassVar[Capability] = Capability.UNDERSTAND | Capability.VIDEO
    connector: ClassVar[Connector] = Connector.MLP
    model_class_name: ClassVar[str] = "Qwen2VLForConditionalGeneration"
    param_groups: ClassVar[dict[str, tuple[str, ...]]] = {
        "connector": ("model.visual.merger",),
        "vision": ("model.visual",),
        "llm": ("model.language_model", "lm_head"),
    }

    @classmethod
    def build_tiny(cls, out_dir: Path, *, seed: int = 0) -> Path:
        """Write the tiny random checkpoint of `mllmbench.adapters.tiny.qwen2_vl` to `out_dir`."""
        from mllmbench.adapters.tiny import qwen2_vl

        return qwen2_vl.build(out_dir, seed=seed)


class Qwen25VLAdapter(Qwen2VLAdapter):
    """Qwen2.5-VL: windowed-attention ViT (SwiGLU, RMSNorm) -> patch merger MLP -> Qwen2 LLM.

    Connector: ``mlp`` (the patch merger). Everything but the classes and the vision tower's
    layout is shared with Qwen2-VL: template, processor behaviour, parameter groups.
    """

    name: ClassVar[str] = "qwen2_5_vl"
    description: ClassVar[str] = (
        "Qwen2.5-VL: native-resolution window-attention ViT, MLP patch merger (2x2), Qwen2 LLM with M-RoPE"
    )
    model_class_name: ClassVar[str] = "Qwen2_5_VLForConditionalGeneration"

    @classmethod
    def build_tiny(cls, out_dir: Path, *, seed: int = 0) -> Path:
        """Write the tiny random Qwen2.5-VL of `mllmbench.adapters.tiny.qwen2_vl` to `out_dir`."""
        from mllmbench.adapters.tiny import qwen2_vl

        return qwen2_vl.build_qwen2_5(out_dir, seed=seed)
