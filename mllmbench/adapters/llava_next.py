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

LLAVA_NEXT_MISTRAL_CHAT_TEMPLATE = (
    r"{% for message in messages %}{% if message['role'] == 'system' %}"
    r"{{ '<<SYS>>\n' + message['content'][0]['text'] + '\n<</SYS>>\n\n' }}"
    r"{% elif message['role'] == 'user' %}{{ '[INST] ' }}"
    r"{# Render all images first #}"
    r"{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}{{ '<image>\n' }}{% endfor %}"
    r"{# Render all text next #}"
    r"{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{{ content['text'] }}{% endfor %}"
    r"{{' [/INST]' }}"
    r"{% elif message['role'] == 'assistant' %}{{ ' ' + message['content'][0]['text'] + '</s> '}}"
    r"{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}"
)
"""The chat template of llava-hf/llava-v1.6-mistral-7b-hf, given to the tiny checkpoint."""

TINY_IMAGE_SIZE = 32
"""Side of one tile (the CLIP input size) of the tiny checkpoint."""
TINY_PATCH_SIZE = 8
TINY_GRID_PINPOINTS = ((32, 64), (64, 32), (64, 64))
"""Any-resolution grids (height, width) of the tiny checkpoint: 1x2, 2x1 and 2x2 tiles."""
TINY_BASE_TOKENS = (TINY_IMAGE_SIZE // TINY_PATCH_SIZE) ** 2
"""Tokens of the downscaled whole-image view (the CLS feature is dropped)."""
TINY_TRAINING_CORPUS = (
    "[INST] What colour is the circle? [/INST] red",
    "[INST] How many shapes are there? [/INST] two",
    "[INST] Describe the image. [/INST] A blue square on the left.",
)
"""Extra tokenizer training lines, so the Mistral-style ``[INST]`` markers tokenize compactly."""


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
        """Write a tiny random LLaVA-NeXT and its processor to `out_dir`.

        A 2-layer CLIP ViT on 32x32 tiles with 8x8 patches, any-resolution grids of 1x2, 2x1 and
        2x2 tiles, the MLP projector and a 2-layer Mistral on the offline tiny tokenizer, with
        the llava-v1.6-mistral chat template. Weights come from the default initialisers under
        ``torch.manual_seed(seed)``; ``initializer_range=0.02`` keeps the answer image-dependent.
        """
        import torch
        from transformers import (
            CLIPVisionConfig,
            LlavaNextConfig,
            LlavaNextForConditionalGeneration,
            LlavaNextImageProcessor,
            LlavaNextProcessor,
            MistralConfig,
        )

        from mllmbench.adapters.tiny_tokenizer import build_tiny_tokenizer

        tokenizer = build_tiny_tokenizer(
            extra_special_tokens={"image_token": "<image>"}, extra_corpus=TINY_TRAINING_CORPUS
        )
        pinpoints = [list(grid) for grid in TINY_GRID_PINPOINTS]
        image_processor = LlavaNextImageProcessor(
            size={"shortest_edge": TINY_IMAGE_SIZE},
            crop_size={"height": TINY_IMAGE_SIZE, "width": TINY_IMAGE_SIZE},
            image_grid_pinpoints=pinpoints,
        )
        processor = LlavaNextProcessor(
            image_processor=image_processor,
            tokenizer=tokenizer,
            patch_size=TINY_PATCH_SIZE,
            vision_feature_select_strategy="default",
            chat_template=LLAVA_NEXT_MISTRAL_CHAT_TEMPLATE,
            image_token="<image>",
            num_additional_image_tokens=1,
        )
        vision_config = CLIPVisionConfig(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            image_size=TINY_IMAGE_SIZE,
            patch_size=TINY_PATCH_SIZE,
            initializer_range=0.02,
        )
        text_config = MistralConfig(
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            head_dim=16,
            vocab_size=len(tokenizer),
            max_position_embeddings=512,
            sliding_window=None,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
            initializer_range=0.02,
        )
        config = LlavaNextConfig(
            vision_config=vision_config,
            text_config=text_config,
            image_token_index=processor.image_token_id,
            image_grid_pinpoints=pinpoints,
            image_seq_length=TINY_BASE_TOKENS,
            vision_feature_layer=-1,
            vision_feature_select_strategy="default",
        )
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = LlavaNextForConditionalGeneration(config).eval()
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(out_dir)
        processor.save_pretrained(out_dir)
        return out_dir
