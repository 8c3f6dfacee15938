"""LLaVA: a CLIP vision tower whose patch features an MLP projector maps into a Llama-style LLM.

Loads any ``LlavaForConditionalGeneration`` checkpoint (``llava-hf/llava-1.5-7b-hf`` and the
like) with its ``LlavaProcessor``; prompts come from the processor's chat template, images
first, so a llava-1.5 checkpoint sees ``USER: <image>\\n{text} ASSISTANT:``. Each ``<image>``
is expanded by the processor into one position per projected patch.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from mllmbench.adapters.hf import HFVisionLanguageAdapter
from mllmbench.core.types import Capability, Connector

LLAVA_15_CHAT_TEMPLATE = (
    r"{% for message in messages %}{% if message['role'] != 'system' %}"
    r"{{ message['role'].upper() + ': '}}{% endif %}"
    r"{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}"
    r"{{ '<image>\n' }}{% endfor %}"
    r"{% if message['role'] != 'assistant' %}"
    r"{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}"
    r"{{ content['text'] + ' '}}{% endfor %}"
    r"{% else %}{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}"
    r"{% generation %}{{ content['text'] + ' '}}{% endgeneration %}{% endfor %}{% endif %}"
    r"{% endfor %}{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}"
)
"""The chat template of the llava-1.5-hf checkpoints, given to the tiny checkpoint."""

TINY_IMAGE_SIZE = 32
TINY_PATCH_SIZE = 8
TINY_IMAGE_TOKENS = (TINY_IMAGE_SIZE // TINY_PATCH_SIZE) ** 2
"""Image tokens of the tiny checkpoint: one per patch (the CLS feature is dropped)."""


class LlavaAdapter(HFVisionLanguageAdapter):
    """LLaVA (1.5 and compatible): CLIP ViT -> 2-layer MLP projector -> Llama-family LLM."""

    name: ClassVar[str] = "llava"
    description: ClassVar[str] = "LLaVA: CLIP vision tower, MLP projector, Llama-style LLM"
    capabilities: ClassVar[Capability] = Capability.UNDERSTAND
    connector: ClassVar[Connector] = Connector.MLP
    model_class_name: ClassVar[str] = "LlavaForConditionalGeneration"
    param_groups: ClassVar[dict[str, tuple[str, ...]]] = {
        "vision": ("model.vision_tower",),
        "connector": ("model.multi_modal_projector",),
        "llm": ("model.language_model", "lm_head"),
    }

    @classmethod
    def build_tiny(cls, out_dir: Path, *, seed: int = 0) -> Path:
        """Write a tiny random LLaVA (about 170k parameters) and its processor to `out_dir`.

        A 2-layer CLIP ViT on 32x32 images with 8x8 patches (16 image tokens, last layer's
        features), the MLP projector and a 2-layer Llama on the offline tiny tokenizer. Weights
        come from the default initialisers under ``torch.manual_seed(seed)``, so the same seed
        gives the same bytes; with ``initializer_range=0.02`` the answer depends on the image.
        """
        import torch
        from transformers import (
            CLIPImageProcessor,
            CLIPVisionConfig,
            LlamaConfig,
            LlavaConfig,
            LlavaForConditionalGeneration,
            LlavaProcessor,
        )

        from mllmbench.adapters.tiny_tokenizer import build_tiny_tokenizer

        tokenizer = build_tiny_tokenizer(extra_special_tokens={"image_token": "<image>"})
        image_processor = CLIPImageProcessor(
            size={"shortest_edge": TINY_IMAGE_SIZE},
            crop_size={"height": TINY_IMAGE_SIZE, "width": TINY_IMAGE_SIZE},
        )
        processor = LlavaProcessor(
            image_processor=image_processor,
            tokenizer=tokenizer,
            patch_size=TINY_PATCH_SIZE,
            vision_feature_select_strategy="default",
            chat_template=LLAVA_15_CHAT_TEMPLATE,
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
        text_config = LlamaConfig(
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            vocab_size=len(tokenizer),
            max_position_embeddings=256,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
            initializer_range=0.02,
        )
        config = LlavaConfig(
            vision_config=vision_config,
            text_config=text_config,
            image_token_index=processor.image_token_id,
            image_seq_length=TINY_IMAGE_TOKENS,
            vision_feature_layer=-1,
            vision_feature_select_strategy="default",
        )
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = LlavaForConditionalGeneration(config).eval()
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(out_dir)
        processor.save_pretrained(out_dir)
        return out_dir
