"""Idefics2: a SigLIP-style ViT at native aspect ratio, a perceiver resampler, and a Mistral LLM.

Loads any ``Idefics2ForConditionalGeneration`` checkpoint (``HuggingFaceM4/idefics2-8b`` and
the like) with its ``Idefics2Processor``. The vision tower reads the image at its own aspect
ratio (the image processor bounds the edges and pads a batch to its largest image, masking the
padding); the connector projects the patch features and a perceiver resampler compresses any
number of them into ``resampler_n_latents`` latents (64 in the real checkpoints). The
processor expands each ``<image>`` into ``<fake_token_around_image>`` + that many ``<image>``
tokens + ``<fake_token_around_image>``, five times over when ``do_image_splitting`` is on.

Prompts come from the processor's chat template, images first, so an idefics2 checkpoint
sees ``User:<image>{text}<end_of_utterance>\\nAssistant:``.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from mllmbench.adapters.hf import HFVisionLanguageAdapter
from mllmbench.core.types import Capability, Connector


class Idefics2Adapter(HFVisionLanguageAdapter):
    """Idefics2: ViT (native aspect ratio) -> MLP + perceiver resampler -> Mistral.

    ``visual_tokens_per_image`` is the number of ``<image>`` positions one image takes: the
    resampler's ``resampler_n_latents``, whatever the image size (times five when the
    checkpoint's processor splits images). The two ``<fake_token_around_image>`` markers
    around them are counted as text.
    """

    name: ClassVar[str] = "idefics2"
    description: ClassVar[str] = "Idefics2: SigLIP-style ViT, perceiver resampler, Mistral LLM"
    capabilities: ClassVar[Capability] = Capability.UNDERSTAND
    connector: ClassVar[Connector] = Connector.RESAMPLER
    model_class_name: ClassVar[str] = "Idefics2ForConditionalGeneration"
    param_groups: ClassVar[dict[str, tuple[str, ...]]] = {
        "vision": ("model.vision_model",),
        "connector": ("model.connector",),
        "llm": ("model.text_model", "lm_head"),
    }

    @classmethod
    def build_tiny(cls, out_dir: Path, *, seed: int = 0) -> Path:
        """Write the tiny random checkpoint of `mllmbench.adapters.tiny.idefics2` to `out_dir`."""
        from mllmbench.adapters.tiny import idefics2

        return idefics2.build(out_dir, seed=seed)
