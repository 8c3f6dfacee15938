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

IDEFICS2_CHAT_TEMPLATE = (
    "{% for message in messages %}{{message['role'].capitalize()}}"
    "{% if message['content'][0]['type'] == 'image' %}{{':'}}{% else %}{{': '}}{% endif %}"
    "{% for line in message['content'] %}{% if line['type'] == 'text' %}{{line['text']}}"
    "{% elif line['type'] == 'image' %}{{ '<image>' }}{% endif %}{% endfor %}"
    "<end_of_utterance>\n{% endfor %}{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}"
)
"""The chat template of the idefics2-8b checkpoints, given to the tiny checkpoint."""

SPECIAL_TOKENS = ("<fake_token_around_image>", "<image>", "<end_of_utterance>")
"""The tokens the Idefics2 processor needs, in the order of the real vocabulary (32000-32002)."""

TINY_IMAGE_SIZE = 32
"""Longest image edge of the tiny checkpoint (and the vision tower's largest input)."""
TINY_MIN_EDGE = 16
"""Shortest image edge of the tiny checkpoint: images keep their aspect ratio between the two."""
TINY_PATCH_SIZE = 8
TINY_LATENTS = 8
"""Image tokens of the tiny checkpoint: the resampler's latents (64 in the real Idefics2)."""


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
        """Write a tiny random Idefics2 (about 300k parameters) and its processor to `out_dir`.

        A 2-layer ViT with 8x8 patches on images resized to keep their aspect ratio with edges
        between 16 and 32 pixels (so a batch pads them), a perceiver resampler with 8 latents
        (depth 2), and a 2-layer Mistral on the offline tiny tokenizer; no image splitting, as
        in idefics2-8b. Generation stops at ``</s>`` or ``<end_of_utterance>``. The class
        starts every latent at 1.0, which drowns the 0.02-scale attention to the image (no
        answer changes with the image), so the latents are drawn from N(0, 0.02) like the other
        weights. Same seed, same bytes.
        """
        import torch
        from transformers import (
            Idefics2Config,
            Idefics2ForConditionalGeneration,
            Idefics2ImageProcessor,
            Idefics2PerceiverConfig,
            Idefics2Processor,
            Idefics2VisionConfig,
            MistralConfig,
        )

        from mllmbench.adapters.tiny_tokenizer import build_tiny_tokenizer

        tokenizer = build_tiny_tokenizer(extra_special_tokens=list(SPECIAL_TOKENS))
        image_processor = Idefics2ImageProcessor(
            size={"shortest_edge": TINY_MIN_EDGE, "longest_edge": TINY_IMAGE_SIZE},
            do_image_splitting=False,
        )
        processor = Idefics2Processor(
            image_processor=image_processor,
            tokenizer=tokenizer,
            image_seq_len=TINY_LATENTS,
            chat_template=IDEFICS2_CHAT_TEMPLATE,
        )
        text_hidden = 64
        text_config = MistralConfig(
            hidden_size=text_hidden,
            intermediate_size=2 * text_hidden,
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
        config = Idefics2Config(
            vision_config=Idefics2VisionConfig(
                hidden_size=32,
                intermediate_size=64,
                num_hidden_layers=2,
                num_attention_heads=4,
                image_size=TINY_IMAGE_SIZE,
                patch_size=TINY_PATCH_SIZE,
                initializer_range=0.02,
            ),
            perceiver_config=Idefics2PerceiverConfig(
                hidden_size=text_hidden,
                rms_norm_eps=text_config.rms_norm_eps,
                resampler_n_latents=TINY_LATENTS,
                resampler_depth=2,
                resampler_n_heads=4,
                resampler_head_dim=16,
                num_key_value_heads=2,
                initializer_range=0.02,
            ),
            text_config=text_config,
            image_token_id=processor.image_token_id,
            tie_word_embeddings=False,
        )
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = Idefics2ForConditionalGeneration(config).eval()
            with torch.no_grad():
                torch.nn.init.normal_(model.model.connector.perceiver_resampler.latents, std=0.02)
        model.generation_config.eos_token_id = [
            tokenizer.eos_token_id,
            tokenizer.convert_tokens_to_ids("<end_of_utterance>"),
        ]
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(out_dir)
        processor.save_pretrained(out_dir)
        return out_dir
