"""Mllama (Llama 3.2 Vision): a tiled ViT whose features cross-attention layers inside a Llama 3 read.

Loads any ``MllamaForConditionalGeneration`` checkpoint (``meta-llama/Llama-3.2-11B-Vision-Instruct``
and the like) with its ``MllamaProcessor``. The image is cut into up to four tiles (the
``max_image_tiles`` of the processor, fixed by the supported aspect ratios), each tile is
encoded by a two-stage ViT, a linear projector maps the features to the LLM width, and
cross-attention decoder layers interleaved with the Llama 3 self-attention layers attend to them
(feature-level fusion). In the text the image is a single ``<|image|>`` token; the processor's
``cross_attention_mask`` says which text positions see which image's tiles.

Prompts come from the processor's chat template (Llama 3 headers, images first); like the
model card, the adapter tokenizes the rendered prompt with ``add_special_tokens=False`` because
the template already begins with ``<|begin_of_text|>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from mllmbench.adapters.hf import HFVisionLanguageAdapter
from mllmbench.core.types import Capability, Connector

if TYPE_CHECKING:
    from PIL.Image import Image


class MllamaAdapter(HFVisionLanguageAdapter):
    """Llama 3.2 Vision: tiled ViT -> linear projector -> cross-attention layers inside Llama 3.

    Visual tokens: each image takes one ``<|image|>`` position in ``input_ids``; that is what
    ``Usage.image_tokens`` counts. The content enters through cross-attention, so
    ``visual_tokens_per_image`` reports the number of vision features the cross-attention
    layers attend to for a 336x336 image (`probe_image_size`): the tiles it is cut into times
    the features per tile (patches + CLS). Padding tiles are masked out and not counted.

    Parameters: the ``connector`` group is the projector plus the cross-attention decoder layers
    (the layers added to the text model for the image); ``llm`` is the rest of the text model.

    Batching: batched, left-padded; images with different tile counts are padded with masked
    tiles by the processor.
    """

    name: ClassVar[str] = "mllama"
    description: ClassVar[str] = (
        "Llama 3.2 Vision (Mllama): tiled ViT, projector, cross-attention layers inside a Llama 3 LLM"
    )
    capabilities: ClassVar[Capability] = Capability.UNDERSTAND
    connector: ClassVar[Connector] = Connector.CROSS_ATTENTION
    model_class_name: ClassVar[str] = "MllamaForConditionalGeneration"

    @property
    def param_groups(self) -> dict[str, tuple[str, ...]]:  # type: ignore[override]
        """Vision model; projector and the cross-attention layers; embeddings, other layers, norm, head."""
        text = self.model.config.text_config
        cross = set(text.cross_attention_layers or ())
        layers = [f"model.language_model.layers.{i}" for i in range(text.num_hidden_layers)]
        return {
            "vision": ("model.vision_model",),
            "connector": (
                "model.multi_modal_projector",
                *(name for i, name in enumerate(layers) if i in cross),
            ),
            "llm": (
                "model.language_model.embed_tokens",
                *(name for i, name in enumerate(layers) if i not in cross),
                "model.language_model.norm",
                "lm_head",
            ),
        }

    def processor_inputs(self, prompts: list[str], images: list[list[Image]]) -> Mapping[str, Any]:
        """``processor(text=prompts, images=<one list per prompt>, add_special_tokens=False)``, padded."""
        nested = images if any(images) else None
        return self.processor(  # type: ignore[no-any-return]
            text=prompts, images=nested, add_special_tokens=False, return_tensors="pt", padding=True
        )

    def visual_tokens_per_image(self) -> int:
        """Cross-attended vision features of a `probe_image_size` image: its tiles x (patches + CLS)."""
        from PIL import Image as PILImage

        probe = PILImage.new("RGB", self.probe_image_size, (127, 127, 127))
        inputs = self.processor_inputs([self.render_prompt("?", 1)], [[probe]])
        tiles = int(inputs["aspect_ratio_mask"][0, 0].sum())
        vision = self.model.config.vision_config
        return tiles * ((vision.image_size // vision.patch_size) ** 2 + 1)

    def timed_modules(self) -> list[Any]:
        """Vision model and projector only: they encode the image once, in the first forward.

        The cross-attention layers (in the ``connector`` parameter group) run inside the LLM at
        every step, so their time belongs to the LLM's prefill and decode, not to vision.
        """
        return [
            self.model.get_submodule(name) for name in ("model.vision_model", "model.multi_modal_projector")
        ]

    def llm_backbone_name(self) -> str:
        """The text model's class (``MllamaTextModel``)."""
        return type(self.model.get_submodule("model.language_model")).__name__

    @classmethod
    def build_tiny(cls, out_dir: Path, *, seed: int = 0) -> Path:
        """Write the tiny random checkpoint of `mllmbench.adapters.tiny.mllama` to `out_dir`."""
        from mllmbench.adapters.tiny import mllama

        return mllama.build(out_dir, seed=seed)
