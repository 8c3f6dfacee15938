"""Paradigm metadata of the ``auto`` adapter: ``model_type`` -> connector, submodule names -> parameter groups.

`CONNECTORS` classifies each image-text-to-text architecture by how image features reach the
LLM (the `Connector` definitions in `mllmbench.core.types`): an MLP/linear projector; learned
queries (Q-Former); a resampler or a pixel shuffle that reduces the tokens; cross-attention
layers inside the LLM; discrete image tokens in the text sequence. An unknown ``model_type``
fails with a message naming this table.

`find_param_groups` finds the ``vision``, ``connector`` and ``llm`` submodules by the names the
transformers implementations use (``model.vision_tower | visual | vision_model``,
``model.multi_modal_projector | connector``, ``model.language_model | text_model``, ``lm_head``).
"""

from __future__ import annotations

from typing import Any

from mllmbench.core.types import Connector

CONNECTORS: dict[str, Connector] = {
    # an MLP or linear projector from patch features to LLM tokens
    "llava": Connector.MLP,  # also Pixtral checkpoints (llava config, pixtral vision tower)
    "llava_next": Connector.MLP,
    "llava_next_video": Connector.MLP,
    "llava_onevision": Connector.MLP,
    "vipllava": Connector.MLP,
    "qwen2_vl": Connector.MLP,  # the patch merger (2x2 -> MLP)
    "qwen2_5_vl": Connector.MLP,
    "qwen3_vl": Connector.MLP,
    "qwen3_vl_moe": Connector.MLP,
    "paligemma": Connector.MLP,
    "gemma3": Connector.MLP,  # average pooling to a fixed count, then a linear projection
    "gemma3n": Connector.MLP,
    "mistral3": Connector.MLP,  # patch merger + MLP
    "llama4": Connector.MLP,
    "janus": Connector.MLP,
    "got_ocr2": Connector.MLP,
    "aya_vision": Connector.RESAMPLER,  # pixel shuffle + MLP
    "internvl": Connector.RESAMPLER,  # pixel shuffle + MLP
    "idefics2": Connector.RESAMPLER,  # perceiver resampler
    "idefics3": Connector.RESAMPLER,  # pixel shuffle + linear
    "smolvlm": Connector.RESAMPLER,  # Idefics3's design
    "aria": Connector.RESAMPLER,  # learned queries cross-attend to the patches (the AriaProjector)
    "blip-2": Connector.QFORMER,
    "instructblip": Connector.QFORMER,
    "mllama": Connector.CROSS_ATTENTION,
    "idefics": Connector.CROSS_ATTENTION,
    "chameleon": Connector.EARLY_FUSION,
    "emu3": Connector.EARLY_FUSION,
}
"""How image features reach the LLM, per ``config.model_type``."""

VISION_NAMES = (
    "model.vision_tower",
    "model.visual",
    "model.vision_model",
    "vision_tower",
    "visual",
    "vision_model",
)
CONNECTOR_NAMES = (
    "model.visual.merger",  # Qwen2/2.5/3-VL: the merger lives inside the vision module
    "model.multi_modal_projector",
    "model.connector",
    "model.aligner",
    "multi_modal_projector",
    "connector",
)
LLM_NAMES = ("model.language_model", "model.text_model", "language_model", "text_model")


def connector_for(model_type: str) -> Connector:
    """The connector of `model_type` (`CONNECTORS`).

    Raises:
        KeyError: a model type the table does not classify (the caller names the table).
    """
    return CONNECTORS[model_type]


def find_param_groups(model: Any) -> dict[str, tuple[str, ...]]:
    """``{"vision": ..., "connector": ..., "llm": ...}`` from the submodules `model` has.

    The connector comes first when it lives inside the vision module (Qwen2-VL's merger), so
    `mllmbench.adapters.hf.count_parameters` counts its weights once, as connector. Mllama's
    cross-attention layers (``text_config.cross_attention_layers``) count as connector, as in
    its family adapter.
    """
    names = {name for name, _ in model.named_modules()}

    def first(candidates: tuple[str, ...]) -> tuple[str, ...]:
        return next(((c,) for c in candidates if c in names), ())

    head = ("lm_head",) if "lm_head" in names else ()
    cross = _cross_attention_groups(model, names, head)
    if cross is not None:
        return cross
    groups = {
        "connector": first(CONNECTOR_NAMES),
        "vision": first(VISION_NAMES),
        "llm": first(LLM_NAMES) + head,
    }
    return {group: found for group, found in groups.items() if found}


def _cross_attention_groups(
    model: Any, names: set[str], head: tuple[str, ...]
) -> dict[str, tuple[str, ...]] | None:
    """Groups of a model with cross-attention layers inside its LLM (Mllama), else None."""
    text = getattr(model.config, "text_config", None)
    cross = set(getattr(text, "cross_attention_layers", None) or ())
    base = "model.language_model"
    if text is None or not cross or f"{base}.layers" not in names:
        return None
    layers = [f"{base}.layers.{i}" for i in range(text.num_hidden_layers)]
    projector = tuple(n for n in ("model.multi_modal_projector",) if n in names)
    vision = next(((c,) for c in VISION_NAMES if c in names), ())
    return {
        "vision": vision,
        "connector": (*projector, *(n for i, n in enumerate(layers) if i in cross)),
        "llm": (
            *(n for n in (f"{base}.embed_tokens",) if n in names),
            *(n for i, n in enumerate(layers) if i not in cross),
            *(n for n in (f"{base}.norm",) if n in names),
            *head,
        ),
    }
