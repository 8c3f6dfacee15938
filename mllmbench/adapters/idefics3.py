"""Idefics3: a SigLIP-style ViT whose patch grid a pixel shuffle folds into fewer tokens, and a Llama 3 LLM.

Loads any ``Idefics3ForConditionalGeneration`` checkpoint (``HuggingFaceM4/Idefics3-8B-Llama3``
and the like) with its ``Idefics3Processor``. The connector is a pixel shuffle: each
``scale_factor`` x ``scale_factor`` block of patch features is concatenated into one vector and
projected into the LLM, so an image tile becomes
``(image_size / patch_size)² / scale_factor²`` tokens (169 in the real checkpoints). The
processor writes each image as ``<fake_token_around_image><global-img>`` + that many
``<image>`` tokens + ``<fake_token_around_image>``; with ``do_image_splitting`` it first adds
one ``<fake_token_around_image><row_i_col_j>`` + ``<image>``… block per tile of the
upscaled image, so the count then grows with the image size.

Prompts come from the processor's chat template, images first. The Idefics3 template starts
with the BOS token itself (``<|begin_of_text|>User:<image>{text}<end_of_utterance>\\nAssistant:``),
so the adapter tokenizes a prompt that already starts with BOS without adding another, the
rule transformers applies in ``processor.apply_chat_template(..., tokenize=True)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from mllmbench.adapters.hf import HFVisionLanguageAdapter
from mllmbench.core.types import Capability, Connector

if TYPE_CHECKING:
    from PIL.Image import Image

IDEFICS3_CHAT_TEMPLATE = (
    "<|begin_of_text|>{% for message in messages %}{{message['role'].capitalize()}}"
    "{% if message['content'][0]['type'] == 'image' %}{{':'}}{% else %}{{': '}}{% endif %}"
    "{% for line in message['content'] %}{% if line['type'] == 'text' %}{{line['text']}}"
    "{% elif line['type'] == 'image' %}{{ '<image>' }}{% endif %}{% endfor %}"
    "<end_of_utterance>\n{% endfor %}{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}"
)
"""The chat template of the Idefics3-8B-Llama3 checkpoint, given to the tiny checkpoint."""

SPECIAL_TOKENS = (
    "<fake_token_around_image>",
    "<image>",
    "<end_of_utterance>",
    "<global-img>",
    *(f"<row_{row}_col_{col}>" for row in range(1, 7) for col in range(1, 7)),
)
"""The tokens the Idefics3 processor needs: image markers, end of turn, global and tile tags."""

TINY_IMAGE_SIZE = 32
TINY_PATCH_SIZE = 4
TINY_SCALE_FACTOR = 2
TINY_IMAGE_TOKENS = (TINY_IMAGE_SIZE // TINY_PATCH_SIZE) ** 2 // TINY_SCALE_FACTOR**2
"""Image tokens per tile of the tiny checkpoint: 64 patches folded 2x2 by the pixel shuffle = 16."""


class Idefics3Adapter(HFVisionLanguageAdapter):
    """Idefics3: ViT -> pixel shuffle + linear projection -> Llama 3.

    Image tokens are the ``<image>`` positions (the ``<fake_token_around_image>``,
    ``<global-img>`` and ``<row_i_col_j>`` markers count as text). ``visual_tokens_per_image``
    is the count for one 336x336 image: one tile's worth when the checkpoint does not split
    images, the tiles of the upscaled image plus the global view when it does (what a real
    Idefics3 checkpoint does; a per-sample count is in each result's usage).
    """

    name: ClassVar[str] = "idefics3"
    description: ClassVar[str] = "Idefics3: SigLIP-style ViT, pixel-shuffle connector, Llama 3 LLM"
    capabilities: ClassVar[Capability] = Capability.UNDERSTAND
    connector: ClassVar[Connector] = Connector.RESAMPLER
    model_class_name: ClassVar[str] = "Idefics3ForConditionalGeneration"
    param_groups: ClassVar[dict[str, tuple[str, ...]]] = {
        "vision": ("model.vision_model",),
        "connector": ("model.connector",),
        "llm": ("model.text_model", "lm_head"),
    }

    def processor_inputs(self, prompts: list[str], images: list[list[Image]]) -> Mapping[str, Any]:
        """Model inputs for a batch, with no second BOS when the rendered prompts start with one."""
        bos = self.tokenizer.bos_token
        starts_with_bos = bool(prompts) and bos is not None and all(p.startswith(bos) for p in prompts)
        flat = [image for sample in images for image in sample]
        return self.processor(  # type: ignore[no-any-return]
            text=prompts,
            images=flat or None,
            return_tensors="pt",
            padding=True,
            add_special_tokens=not starts_with_bos,
        )

    @classmethod
    def build_tiny(cls, out_dir: Path, *, seed: int = 0) -> Path:
        """Write a tiny random Idefics3 (about 170k parameters) and its processor to `out_dir`.

        A 2-layer ViT on 32x32 tiles with 4x4 patches, a pixel shuffle with scale factor 2
        (16 image tokens per tile) and a 2-layer Llama on the offline tiny tokenizer with Llama 3
        style ``<|begin_of_text|>``/``<|end_of_text|>``. The processor does not split images
        (each becomes one 32x32 global tile) and keeps the real chat template; generation stops
        at ``<|end_of_text|>`` or ``<end_of_utterance>``. Same seed, same bytes.
        """
        import torch
        from transformers import (
            Idefics3Config,
            Idefics3ForConditionalGeneration,
            Idefics3ImageProcessor,
            Idefics3Processor,
            Idefics3VisionConfig,
            LlamaConfig,
        )

        from mllmbench.adapters.tiny_tokenizer import build_tiny_tokenizer

        tokenizer = build_tiny_tokenizer(
            bos_token="<|begin_of_text|>",
            eos_token="<|end_of_text|>",
            pad_token="<pad>",
            unk_token=None,
            extra_special_tokens=list(SPECIAL_TOKENS),
        )
        image_processor = Idefics3ImageProcessor(
            size={"longest_edge": 2 * TINY_IMAGE_SIZE},
            max_image_size={"longest_edge": TINY_IMAGE_SIZE},
            do_image_splitting=False,
        )
        processor = Idefics3Processor(
            image_processor=image_processor,
            tokenizer=tokenizer,
            image_seq_len=TINY_IMAGE_TOKENS,
            chat_template=IDEFICS3_CHAT_TEMPLATE,
        )
        config = Idefics3Config(
            vision_config=Idefics3VisionConfig(
                hidden_size=32,
                intermediate_size=64,
                num_hidden_layers=2,
                num_attention_heads=4,
                image_size=TINY_IMAGE_SIZE,
                patch_size=TINY_PATCH_SIZE,
                initializer_range=0.02,
            ),
            text_config=LlamaConfig(
                hidden_size=64,
                intermediate_size=128,
                num_hidden_layers=2,
                num_attention_heads=4,
                num_key_value_heads=2,
                vocab_size=len(tokenizer),
                max_position_embeddings=512,
                bos_token_id=tokenizer.bos_token_id,
                eos_token_id=tokenizer.eos_token_id,
                pad_token_id=tokenizer.pad_token_id,
                initializer_range=0.02,
            ),
            scale_factor=TINY_SCALE_FACTOR,
            image_token_id=processor.image_token_id,
            tie_word_embeddings=False,
        )
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = Idefics3ForConditionalGeneration(config).eval()
        model.generation_config.eos_token_id = [
            tokenizer.eos_token_id,
            tokenizer.convert_tokens_to_ids("<end_of_utterance>"),
        ]
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(out_dir)
        processor.save_pretrained(out_dir)
        return out_dir
