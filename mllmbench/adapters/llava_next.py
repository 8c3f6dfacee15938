"""LLaVA-NeXT (LLaVA-1.6): any-resolution tiling in front of an MLP projector and a Llama-style LLM.

Loads any ``LlavaNextForConditionalGeneration`` checkpoint (``llava-hf/llava-v1.6-mistral-7b-hf``
and the like) with its ``LlavaNextProcessor``. Prompts come from the processor's chat template,
images first, so a llava-v1.6-mistral checkpoint sees ``[INST] <image>\\n{text} [/INST]``.

Any-resolution: the image processor picks the ``image_grid_pinpoints`` resolution that fits the
image best, cuts the resized image into base-size tiles and adds one downscaled view of the
whole image. Every tile goes through the CLIP tower and the MLP projector; the tile features
are un-padded back to the image's aspect ratio and a learned ``image_newline`` vector ends each
row. The processor expands each ``<image>`` into exactly that many positions, so **the number of
visual tokens depends on the image size**: `AdapterInfo.visual_tokens_per_image` is the count of
the blank ``probe_image_size`` image, and each result's ``usage.image_tokens`` is the count of its
own images, read from ``input_ids``.

Batching works: the processor pads the tile dimension of ``pixel_values`` and passes
``image_sizes``, from which the model recovers each image's own tiles.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import ClassVar

from mllmbench.adapters.hf import HFVisionLanguageAdapter
from mllmbench.core.types import AdapterInfo, Capability, Connector


class LlavaNextAdapter(HFVisionLanguageAdapter):
    """LLaVA-NeXT: CLIP ViT on any-resolution tiles -> MLP projector (+ row newlines) -> LLM.

    Connector: ``mlp``. ``visual_tokens_per_image`` is measured on a blank 336x336 image; the
    count grows with the image's resolution and aspect ratio (see the module docstring). The
    learned ``image_newline`` vector is a parameter of the connector and is counted with it.
    """

    name: ClassVar[str] = "llava_next"
    description: ClassVar[str] = (
        "LLaVA-NeXT: any-resolution CLIP tiles, MLP projector with row newlines, Llama/Mistral-style LLM"
    )
    capabilities: ClassVar[Capability] = Capability.UNDERSTAND
    connector: ClassVar[Connector] = Connector.MLP
    model_class_name: ClassVar[str] = "LlavaNextForConditionalGeneration"
    param_groups: ClassVar[dict[str, tuple[str, ...]]] = {
        "vision": ("model.vision_tower",),
        "connector": ("model.multi_modal_projector",),
        "llm": ("model.language_model", "lm_head"),
    }
    connector_parameters: ClassVar[tuple[str, ...]] = ("model.image_newline",)
    """Connector weights that are bare parameters, not submodules (added to ``connector``)."""

    def _build_info(self, local_dir: Path | None) -> AdapterInfo:
        """The base provenance, with ``image_newline`` moved from ``other`` to ``connector``."""
        info = super()._build_info(local_dir)
        params = dict(info.parameters)
        for name in self.connector_parameters:
            size = int(self.model.get_parameter(name).numel())
            params["connector"] += size
            params["other"] = params.get("other", 0) - size
            if params["other"] == 0:
                del params["other"]
        return dataclasses.replace(info, parameters=params)

    @classmethod
    def build_tiny(cls, out_dir: Path, *, seed: int = 0) -> Path:
        """Write the tiny random checkpoint of `mllmbench.adapters.tiny.llava_next` to `out_dir`."""
        from mllmbench.adapters.tiny import llava_next

        return llava_next.build(out_dir, seed=seed)
