"""Idefics3: a SigLIP-style ViT whose patch grid a pixel shuffle folds into fewer tokens, and a Llama 3 LLM.

Loads any ``Idefics3ForConditionalGeneration`` checkpoint (``HuggingFaceM4/Idefics3-8B-Llama3``
and the like) with its ``Idefics3Processor``. The connector is a pixel shuffle: each
``scale_factor`` x ``scale_factor`` block of patch features is concatenated into one vector and
projected into the LLM, so an image tile becomes
``(image_size / patch_size)² / scale_factor²`` tokens (169 in the real checkpoints). The
processor writes each image as ``<fake_token_around_image><global-img>`` + that many
``<image>`` tokens + ``<fake_token_around_image>``; with ``do_image_splitting`` it first adds
one ``<fake_token_around_image><row_i_col_j>`` + ``<image>``… block per tile of the
upscaled image, so the count then grows with the image size.

Prompts come from the processor's chat template, images first. The Idefics3 template starts
with the BOS token itself (``<|begin_of_text|>User:<image>{text}<end_of_utterance>\\nAssistant:``),
so the adapter tokenizes a prompt that already starts with BOS without adding another, the
rule transformers applies in ``processor.apply_chat_template(..., tokenize=True)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from mllmbench.adapters.hf import HFVisionLanguageAdapter
from mllmbench.core.types import Capability, Connector

if TYPE_CHECKING:
    from PIL.Image import Image


class Idefics3Adapter(HFVisionLanguageAdapter):
    """Idefics3: ViT -> pixel shuffle + linear projection -> Llama 3.

    Image tokens are the ``<image>`` positions (the ``<fake_token_around_image>``,
    ``<global-img>`` and ``<row_i_col_j>`` markers count as text). ``visual_tokens_per_image``
    is the count for one 336x336 image: one tile's worth when the checkpoint does not split
    images, the tiles of the upscaled image plus the global view when it does (what a real
    Idefics3 checkpoint does; a per-sample count is in each result's usage).
    """

    name: ClassVar[str] = "idefics3"
    description: ClassVar[str] = "Idefics3: SigLIP-style ViT, pixel-shuffle connector, Llama 3 LLM"
    capabilities: ClassVar[Capability] = Capability.UNDERSTAND
    connector: ClassVar[Connector] = Connector.RESAMPLER
    model_class_name: ClassVar[str] = "Idefics3ForConditionalGeneration"
    param_groups: ClassVar[dict[str, tuple[str, ...]]] = {
        "vision": ("model.vision_model",),
        "connector": ("model.connector",),
        "llm": ("model.text_model", "lm_head"),
    }

    def processor_inputs(self, prompts: list[str], images: list[list[Image]]) -> Mapping[str, Any]:
        """Model inputs for a batch, with no second BOS when the rendered prompts start with one."""
        bos = self.tokenizer.bos_token
        starts_with_bos = bool(prompts) and bos is not None and all(p.startswith(bos) for p in prompts)
        flat = [image for sample in images for image in sample]
        return self.processor(  # type: ignore[no-any-return]
            text=prompts,
            images=flat or None,
            return_tensors="pt",
            padding=True,
            add_special_tokens=not starts_with_bos,
        )

    @classmethod
    def build_tiny(cls, out_dir: Path, *, seed: int = 0) -> Path:
        """Write the tiny random checkpoint of `mllmbench.adapters.tiny.idefics3` to `out_dir`."""
        from mllmbench.adapters.tiny import idefics3

        return idefics3.build(out_dir, seed=seed)
