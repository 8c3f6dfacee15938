"""Chameleon: early fusion over discrete image tokens, one transformer for text and VQ codes.

Loads any ``ChameleonForConditionalGeneration`` checkpoint (``facebook/chameleon-7b`` and the
like) with its ``ChameleonProcessor``. A VQ-VAE encoder turns the image into a grid of codebook
indices, each index is mapped to a token of the LLM's own vocabulary (``IMGIMG…Z`` tokens, via
``config.vocabulary_map``), and those tokens sit in the sequence between ``<racm3:break>`` and
``<eoss>`` like any text: no projector, no cross-attention. The processor expands each
``<image>`` in the prompt to ``image_seq_length`` placeholders (1024 for the 7B model) that the
model fills with the embeddings of the image's code tokens.

Output is text only: transformers' Chameleon masks the image-token logits and its VQ-VAE has
no decoder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from mllmbench.adapters.hf import HFVisionLanguageAdapter
from mllmbench.core.types import Capability, Connector

IMAGE_TOKEN = "<image>"
BEGIN_IMAGE_TOKEN = "<racm3:break>"
END_IMAGE_TOKEN = "<eoss>"
SEP_TOKEN = "<reserved08706>"
"""Chameleon's end-of-turn token: the processor appends it to every prompt (chat mode)."""

CHAMELEON_PROMPT_TEMPLATE = (
    "{% for message in messages %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}"
    "{{ content['text'] }}{% endfor %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}"
    "{{ '<image>' }}{% endfor %}"
    "{% endfor %}"
)
"""The prompt of transformers' Chameleon usage example: the question, then its images.

(``"What do you see in this image?<image>"``; the processor then appends the end-of-turn
``<reserved08706>`` so that the model answers as the assistant.) The Chameleon checkpoints ship
no chat template, and ``ChameleonProcessor`` cannot carry one, so the adapter applies this one.
"""


class ChameleonAdapter(HFVisionLanguageAdapter):
    """Chameleon (early fusion): VQ-VAE image tokenizer -> image codes as tokens of one Llama-style LLM.

    Visual tokens: each image becomes ``image_seq_length`` positions of ``<image>`` placeholders
    (filled with its code tokens' embeddings), between a begin- and an end-of-image token that
    are not counted. There is no connector module: the ``connector`` parameter group is empty
    (0 parameters); the mapping from codes to tokens is a lookup table.

    Batching: batched, left-padded (transformers' own advice for Chameleon).
    """

    name: ClassVar[str] = "chameleon"
    description: ClassVar[str] = (
        "Chameleon: early fusion, a VQ-VAE turns the image into discrete tokens of the LLM's vocabulary"
    )
    capabilities: ClassVar[Capability] = Capability.UNDERSTAND
    connector: ClassVar[Connector] = Connector.EARLY_FUSION
    model_class_name: ClassVar[str] = "ChameleonForConditionalGeneration"
    param_groups: ClassVar[dict[str, tuple[str, ...]]] = {
        "vision": ("model.vqmodel",),
        "connector": (),
        "llm": ("model.embed_tokens", "model.layers", "model.norm", "lm_head"),
    }

    def render_prompt(self, text: str, n_images: int) -> str:
        """``{text}<image>…`` (`CHAMELEON_PROMPT_TEMPLATE`); the processor adds the end-of-turn token."""
        content: list[dict[str, str]] = [{"type": "image"} for _ in range(n_images)]
        content.append({"type": "text", "text": text})
        messages = [{"role": "user", "content": content}]
        return str(
            self.processor.apply_chat_template(
                messages, chat_template=CHAMELEON_PROMPT_TEMPLATE, add_generation_prompt=True, tokenize=False
            )
        )

    def chat_template_text(self) -> str:
        """`CHAMELEON_PROMPT_TEMPLATE`."""
        return CHAMELEON_PROMPT_TEMPLATE

    def timed_modules(self) -> list[Any]:
        """The VQ-VAE's encoder, quantisation convolution and quantizer (what ``encode`` runs).

        The model calls ``vqmodel.encode``, not ``vqmodel.forward``, so hooks on ``vqmodel``
        itself would never fire.
        """
        return [
            self.model.get_submodule(f"model.vqmodel.{name}")
            for name in ("encoder", "quant_conv", "quantize")
        ]

    def llm_backbone_name(self) -> str:
        """The decoder-layer class (the LLM has no module of its own inside ``ChameleonModel``)."""
        return type(self.model.get_submodule("model.layers")[0]).__name__

    @classmethod
    def build_tiny(cls, out_dir: Path, *, seed: int = 0) -> Path:
        """Write the tiny random checkpoint of `mllmbench.adapters.tiny.chameleon` to `out_dir`."""
        from mllmbench.adapters.tiny import chameleon

        return chameleon.build(out_dir, seed=seed)
