"""Visual expert (CogVLM's design): CLIP ViT -> MLP projector -> a Llama with a vision expert per layer.

Loads checkpoints of `mllmbench.adapters.reference.visual_expert` (model type
``mllmbench_visual_expert``, e.g. the zoo's ``visual_expert`` member) through
``AutoModelForImageTextToText`` and ``AutoProcessor`` (a ``LlavaProcessor``); the reference
module is imported first, which registers the Auto classes. Prompts come from the processor's
chat template (llava-1.5 style, images first); each ``<image>`` is expanded by the processor
into one position per projected patch, and those positions run through the vision experts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from mllmbench.adapters.hf import HFVisionLanguageAdapter
from mllmbench.core.types import Capability, Connector


class VisualExpertAdapter(HFVisionLanguageAdapter):
    """CogVLM-style visual expert: image tokens take their own QKV/output and MLP weights in every layer.

    Parameters: ``vision`` is the CLIP tower, ``connector`` the MLP projector, ``vision_expert``
    the vision-expert attention and MLP weights of every decoder layer (the weights CogVLM adds
    to the LLM for the image), ``llm`` the rest of the decoder (embeddings, language experts,
    norms) and the LM head. Visual tokens: one image-token position per patch (``usage.image_tokens``).
    Batching: batched, left-padded.
    """

    name: ClassVar[str] = "visual_expert"
    description: ClassVar[str] = (
        "Visual expert (CogVLM design): CLIP ViT, MLP projector, vision-expert QKV and MLP in every Llama layer"
    )
    capabilities: ClassVar[Capability] = Capability.UNDERSTAND
    connector: ClassVar[Connector] = Connector.VISUAL_EXPERT
    model_class_name: ClassVar[str] = "AutoModelForImageTextToText"

    @property
    def param_groups(self) -> dict[str, tuple[str, ...]]:  # type: ignore[override]
        """Vision tower; projector; every layer's vision experts; the rest of the decoder and the head."""
        layers = range(len(self.model.model.language_model.layers))
        return {
            "vision": ("model.vision_tower",),
            "connector": ("model.multi_modal_projector",),
            "vision_expert": tuple(
                f"model.language_model.layers.{i}.{block}.vision_expert"
                for i in layers
                for block in ("self_attn", "mlp")
            ),
            "llm": ("model.language_model", "lm_head"),
        }

    def _from_pretrained(self, local_dir: Path | None) -> tuple[Any, Any]:
        import mllmbench.adapters.reference.visual_expert  # noqa: F401  (registers the Auto classes)

        return super()._from_pretrained(local_dir)

    @classmethod
    def build_tiny(cls, out_dir: Path, *, seed: int = 0) -> Path:
        """Write the tiny random checkpoint of `mllmbench.adapters.tiny.visual_expert` to `out_dir`."""
        from mllmbench.adapters.tiny import visual_expert

        return visual_expert.build(out_dir, seed=seed)
