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

TINY_IMAGE_SIZE = 32
TINY_CODEBOOK_SIZE = 64
"""Codes of the tiny VQ-VAE, each with its ``IMGIMG…Z`` token in the vocabulary."""
TINY_IMAGE_TOKENS = 16
"""A 32x32 image after three 2x downsamplings: a 4x4 grid of codes."""


def image_code_token(code: int) -> str:
    """The vocabulary name of VQ code `code`: ``IMGIMG`` + its digits as letters A–J + ``Z``."""
    return "IMGIMG" + "".join(chr(ord("A") + int(digit)) for digit in str(code)) + "Z"


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
        """Write a tiny random Chameleon (about 300k parameters) and its processor to `out_dir`.

        A VQ-VAE with 32 base channels (GroupNorm needs multiples of 32) and three downsamplings,
        so a 32x32 image becomes 4x4 = 16 codes of a 64-entry codebook; the tokenizer holds
        Chameleon's special tokens and one ``IMGIMG…Z`` token per code, and the config's
        ``vocabulary_map`` is its vocabulary; the LLM is a 2-layer Chameleon decoder.
        """
        import torch
        from transformers import (
            ChameleonConfig,
            ChameleonForConditionalGeneration,
            ChameleonImageProcessor,
            ChameleonProcessor,
        )

        from mllmbench.adapters.tiny_tokenizer import build_tiny_tokenizer

        tokenizer = build_tiny_tokenizer(
            extra_special_tokens={
                "image_token": IMAGE_TOKEN,
                "boi_token": BEGIN_IMAGE_TOKEN,
                "eoi_token": END_IMAGE_TOKEN,
            },
            added_tokens=[image_code_token(code) for code in range(TINY_CODEBOOK_SIZE)],
        )
        tokenizer.add_special_tokens({"sep_token": SEP_TOKEN})
        image_processor = ChameleonImageProcessor(
            size={"shortest_edge": TINY_IMAGE_SIZE},
            crop_size={"height": TINY_IMAGE_SIZE, "width": TINY_IMAGE_SIZE},
        )
        processor = ChameleonProcessor(
            image_processor=image_processor, tokenizer=tokenizer, image_seq_length=TINY_IMAGE_TOKENS
        )
        config = ChameleonConfig(
            vocab_size=len(tokenizer),
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=256,
            pad_token_id=tokenizer.pad_token_id,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            initializer_range=0.02,
            vocabulary_map=dict(sorted(tokenizer.get_vocab().items(), key=lambda item: item[1])),
            vq_config={
                "embed_dim": 16,
                "num_embeddings": TINY_CODEBOOK_SIZE,
                "latent_channels": 16,
                "resolution": TINY_IMAGE_SIZE,
                "base_channels": 32,
                "channel_multiplier": [1, 1, 1, 1],
                "num_res_blocks": 1,
                "attn_resolutions": [],
            },
        )
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = ChameleonForConditionalGeneration(config).eval()
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(out_dir)
        processor.save_pretrained(out_dir)
        return out_dir
