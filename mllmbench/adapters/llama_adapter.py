"""LLaMA-Adapter: a projected CLIP image feature added to peft's zero-gated adaption prompts.

Loads checkpoints of `mllmbench.adapters.reference.adaption_prompt` (model type
``mllmbench_llama_adapter``, e.g. the zoo's ``llama_adapter`` member) through
``AutoModelForImageTextToText`` and ``AutoProcessor`` (a ``LlavaProcessor`` whose ``<image>``
stays one token); the reference module is imported first, which registers the Auto classes.
Prompts come from the processor's chat template (llava-1.5 style, images first).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, ClassVar

from mllmbench.adapters.hf import HFVisionLanguageAdapter
from mllmbench.core.types import AdapterInfo, Capability, Connector


class LlamaAdapterAdapter(HFVisionLanguageAdapter):
    """LLaMA-Adapter V1 (multimodal): CLIP pooled feature -> Linear -> added to the adaption prompts.

    Visual tokens: no image features enter the token sequence. Like Mllama's ``<|image|>``,
    each image takes one ``<image>`` placeholder position in ``input_ids``; that is what
    ``usage.image_tokens`` counts. The image's content enters through the adaption prompts, so
    ``visual_tokens_per_image`` reports ``adapter_len``: the prompt positions carrying the image
    that every adapted layer attends to.

    Parameters: ``vision`` is the CLIP tower; ``connector`` the visual projection plus the
    adaption prompts and gates (what LLaMA-Adapter adds to the LLM); ``llm`` the Llama itself.
    One image per request; batched, left-padded.
    """

    name: ClassVar[str] = "llama_adapter"
    description: ClassVar[str] = (
        "LLaMA-Adapter: CLIP global feature projected into peft's zero-gated adaption prompts of a Llama"
    )
    capabilities: ClassVar[Capability] = Capability.UNDERSTAND
    connector: ClassVar[Connector] = Connector.ADAPTION_PROMPT
    model_class_name: ClassVar[str] = "AutoModelForImageTextToText"
    param_groups: ClassVar[dict[str, tuple[str, ...]]] = {
        "vision": ("vision_tower",),
        "connector": ("visual_projection",),
        "llm": ("language_model",),
    }
    """Submodule groups (timing, class names); `parameters` also moves the prompts and gates to ``connector``."""

    def _from_pretrained(self, local_dir: Path | None) -> tuple[Any, Any]:
        import mllmbench.adapters.reference.adaption_prompt  # noqa: F401  (registers the Auto classes)

        return super()._from_pretrained(local_dir)

    def _build_info(self, local_dir: Path | None) -> AdapterInfo:
        info = super()._build_info(local_dir)
        prompts = sum(p.numel() for n, p in self.model.language_model.named_parameters() if ".adaption_" in n)
        parameters = dict(info.parameters)
        parameters["connector"] += prompts
        parameters["llm"] -= prompts
        return dataclasses.replace(info, parameters=parameters)

    def visual_tokens_per_image(self) -> int:
        """The adaption prompt length: positions carrying the image in each adapted layer."""
        return int(self.model.config.adapter_len)

    @classmethod
    def build_tiny(cls, out_dir: Path, *, seed: int = 0) -> Path:
        """Write the tiny random checkpoint of `mllmbench.adapters.tiny.llama_adapter` to `out_dir`."""
        from mllmbench.adapters.tiny import llama_adapter

        return llama_adapter.build(out_dir, seed=seed)
