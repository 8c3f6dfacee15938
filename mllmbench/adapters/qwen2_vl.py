"""Qwen2-VL and Qwen2.5-VL: a native-resolution ViT whose patch merger (an MLP) feeds a Qwen2 LLM.

Loads any ``Qwen2VLForConditionalGeneration`` (``Qwen/Qwen2-VL-2B-Instruct`` ...) or
``Qwen2_5_VLForConditionalGeneration`` (``Qwen/Qwen2.5-VL-3B-Instruct`` ...) checkpoint with its
processor. Prompts come from the processor's chat template (ChatML: the default system prompt,
then ``<|im_start|>user\\n<|vision_start|><|image_pad|><|vision_end|>{text}<|im_end|>`` and the
assistant header).

Dynamic resolution: the image processor resizes each image to multiples of
``patch_size * merge_size`` inside the ``[min_pixels, max_pixels]`` budget (``size`` of the
image processor), the ViT embeds every ``patch_size`` patch, and the patch merger (an MLP on
``merge_size x merge_size`` neighbouring patches) turns them into LLM tokens. The processor
expands each ``<|image_pad|>`` into one position per merged token, so **the number of visual
tokens depends on the image size**: `AdapterInfo.visual_tokens_per_image` is the count of the
blank ``probe_image_size`` image and each result's ``usage.image_tokens`` is the count of its own
``<|image_pad|>`` positions (the ``<|vision_start|>``/``<|vision_end|>`` markers around them are
ordinary text tokens and are not counted).

The processor also returns ``mm_token_type_ids``, which the model needs for its multimodal
rotary positions (M-RoPE); it is passed to ``generate`` with the other processor outputs.
Batching works: left padding is taken into account by the M-RoPE position computation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from mllmbench.adapters.hf import HFVisionLanguageAdapter
from mllmbench.core.types import Capability, Connector

QWEN2_VL_CHAT_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}"
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
    "{% set image_count.value = image_count.value + 1 %}"
    "{% if add_vision_id %}Picture {{ image_count.value }}: {% endif %}"
    "<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'video' or 'video' in content %}"
    "{% set video_count.value = video_count.value + 1 %}"
    "{% if add_vision_id %}Video {{ video_count.value }}: {% endif %}"
    "<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n"
    "{% endif %}{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
"""The chat template of the Qwen2-VL and Qwen2.5-VL Instruct checkpoints (the same for both)."""

QWEN_SPECIAL_TOKENS = {
    "image_token": "<|image_pad|>",
    "video_token": "<|video_pad|>",
    "vision_start_token": "<|vision_start|>",
    "vision_end_token": "<|vision_end|>",
    "im_start_token": "<|im_start|>",
}
"""The special tokens of the tiny Qwen tokenizer besides ``<|im_end|>`` (EOS) and ``<|endoftext|>`` (pad)."""

TINY_PATCH_SIZE = 8
TINY_MERGE_SIZE = 2
TINY_MIN_PIXELS = 16 * 16
"""The tiny image processor's pixel budget: at least one merged token ..."""
TINY_MAX_PIXELS = 64 * 64
"""... and at most (64 / (8 * 2))^2 = 16 merged tokens per image."""
TINY_TRAINING_CORPUS = (
    "system\nYou are a helpful assistant.\nuser\nWhat colour is the circle?\nassistant\nred",
)
"""Extra tokenizer training lines, so the ChatML default system prompt tokenizes compactly."""


def _tiny_text_config(vocab_size: int, *, eos_token_id: int, pad_token_id: int) -> dict[str, Any]:
    """The 2-layer Qwen2 text model of both tiny checkpoints (head_dim 16: M-RoPE sections 2+3+3)."""
    return {
        "vocab_size": vocab_size,
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": 512,
        "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [2, 3, 3]},
        "initializer_range": 0.02,
        "bos_token_id": pad_token_id,
        "eos_token_id": eos_token_id,
        "pad_token_id": pad_token_id,
    }


class Qwen2VLAdapter(HFVisionLanguageAdapter):
    """Qwen2-VL: ViT with 2D rotary positions -> patch merger (MLP over 2x2 patches) -> Qwen2 LLM.

    Connector: ``mlp`` (the patch merger). Visual tokens per image vary with the resolution:
    (height / (patch * merge)) x (width / (patch * merge)) after the budgeted resize.

    ``param_groups`` lists the connector first: the patch merger lives inside the vision
    module (``model.visual.merger``), and a parameter counts in the first group naming it, so
    ``vision`` is the ViT without its merger.
    """

    name: ClassVar[str] = "qwen2_vl"
    description: ClassVar[str] = (
        "Qwen2-VL: native-resolution ViT, MLP patch merger (2x2), Qwen2 LLM with M-RoPE"
    )
    capabilities: ClassVar[Capability] = Capability.UNDERSTAND
    connector: ClassVar[Connector] = Connector.MLP
    model_class_name: ClassVar[str] = "Qwen2VLForConditionalGeneration"
    param_groups: ClassVar[dict[str, tuple[str, ...]]] = {
        "connector": ("model.visual.merger",),
        "vision": ("model.visual",),
        "llm": ("model.language_model", "lm_head"),
    }
    tiny_processor_class_name: ClassVar[str] = "Qwen2VLProcessor"
    """The processor class `build_tiny` saves (loading uses ``AutoProcessor``)."""
    tiny_config_class_name: ClassVar[str] = "Qwen2VLConfig"

    @classmethod
    def tiny_vision_config(cls) -> dict[str, Any]:
        """The 2-layer vision tower of the tiny checkpoint (8 px patches, 2x2 merger into 64 dims)."""
        return {
            "depth": 2,
            "embed_dim": 32,
            "hidden_size": 64,
            "mlp_ratio": 2,
            "num_heads": 4,
            "patch_size": TINY_PATCH_SIZE,
            "spatial_merge_size": TINY_MERGE_SIZE,
            "temporal_patch_size": 2,
            "initializer_range": 0.02,
        }

    @classmethod
    def build_tiny(cls, out_dir: Path, *, seed: int = 0) -> Path:
        """Write a tiny random model of the family and its real processor to `out_dir`.

        A 2-layer ViT with 8x8 patches, a 2x2 patch merger and a 2-layer Qwen2 text model on the
        offline tiny tokenizer (ChatML tokens, ``<|im_end|>`` as EOS, ``<|endoftext|>`` as pad,
        no BOS, as the Instruct checkpoints). Images are resized to between 16x16 and 64x64
        pixels' worth (1 to 16 visual tokens). The processor includes the family's video
        processor. Weights come from the default initialisers under ``torch.manual_seed(seed)``.
        """
        import torch
        import transformers
        from transformers import GenerationConfig, Qwen2VLImageProcessor, Qwen2VLVideoProcessor

        from mllmbench.adapters.tiny_tokenizer import build_tiny_tokenizer

        tokenizer = build_tiny_tokenizer(
            bos_token=None,
            eos_token="<|im_end|>",
            pad_token="<|endoftext|>",
            unk_token=None,
            extra_special_tokens=QWEN_SPECIAL_TOKENS,
            add_bos_token=False,
            extra_corpus=TINY_TRAINING_CORPUS,
        )
        pixels = {"shortest_edge": TINY_MIN_PIXELS, "longest_edge": TINY_MAX_PIXELS}
        patching: dict[str, Any] = {
            "patch_size": TINY_PATCH_SIZE,
            "merge_size": TINY_MERGE_SIZE,
            "temporal_patch_size": 2,
        }
        processor = getattr(transformers, cls.tiny_processor_class_name)(
            image_processor=Qwen2VLImageProcessor(size=pixels, **patching),
            video_processor=Qwen2VLVideoProcessor(size=pixels, **patching),
            tokenizer=tokenizer,
            chat_template=QWEN2_VL_CHAT_TEMPLATE,
        )
        ids = tokenizer.convert_tokens_to_ids
        config = getattr(transformers, cls.tiny_config_class_name)(
            vision_config=cls.tiny_vision_config(),
            text_config=_tiny_text_config(
                len(tokenizer), eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id
            ),
            image_token_id=ids(QWEN_SPECIAL_TOKENS["image_token"]),
            video_token_id=ids(QWEN_SPECIAL_TOKENS["video_token"]),
            vision_start_token_id=ids(QWEN_SPECIAL_TOKENS["vision_start_token"]),
            vision_end_token_id=ids(QWEN_SPECIAL_TOKENS["vision_end_token"]),
        )
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = getattr(transformers, cls.model_class_name)(config).eval()
        # As the Instruct checkpoints: stop at <|im_end|> or <|endoftext|>.
        model.generation_config = GenerationConfig(
            bos_token_id=tokenizer.pad_token_id,
            eos_token_id=[tokenizer.eos_token_id, tokenizer.pad_token_id],
            pad_token_id=tokenizer.pad_token_id,
        )
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(out_dir)
        processor.save_pretrained(out_dir)
        return out_dir


class Qwen25VLAdapter(Qwen2VLAdapter):
    """Qwen2.5-VL: windowed-attention ViT (SwiGLU, RMSNorm) -> patch merger MLP -> Qwen2 LLM.

    Connector: ``mlp`` (the patch merger). Everything but the classes and the vision tower's
    layout is shared with Qwen2-VL: template, processor behaviour, parameter groups.
    """

    name: ClassVar[str] = "qwen2_5_vl"
    description: ClassVar[str] = (
        "Qwen2.5-VL: native-resolution window-attention ViT, MLP patch merger (2x2), Qwen2 LLM with M-RoPE"
    )
    model_class_name: ClassVar[str] = "Qwen2_5_VLForConditionalGeneration"
    tiny_processor_class_name: ClassVar[str] = "Qwen2_5_VLProcessor"
    tiny_config_class_name: ClassVar[str] = "Qwen2_5_VLConfig"

    @classmethod
    def tiny_vision_config(cls) -> dict[str, Any]:
        """The 2-layer window-attention tower of the tiny checkpoint (8 px patches, 2x2 merger)."""
        return {
            "depth": 2,
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_heads": 4,
            "out_hidden_size": 64,
            "patch_size": TINY_PATCH_SIZE,
            "spatial_merge_size": TINY_MERGE_SIZE,
            "temporal_patch_size": 2,
            # Windows of 32 pixels = 2x2 merged tokens; the last block attends to the whole image.
            "window_size": 32,
            "fullatt_block_indexes": [1],
            "initializer_range": 0.02,
        }
