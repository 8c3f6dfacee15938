"""Janus (DeepSeek): a unified model that decouples visual encoding for understanding and generation.

Loads any ``JanusForConditionalGeneration`` checkpoint (``deepseek-community/Janus-Pro-1B`` and
the like) with its ``JanusProcessor``. One Llama-style LLM serves two visual paths:

* understanding (this adapter, text out): a SigLIP-style ViT encodes the image and a 2-layer
  MLP aligner maps its patch features into the LLM, one ``<image_placeholder>`` position each
  (576 for Janus-Pro), between ``<begin_of_image>`` and ``<end_of_image>``;
* generation (not wired yet): the LLM predicts discrete VQ codes (``generation_embeddings``,
  ``generation_aligner``, ``generation_head``) that the VQ-VAE decodes to pixels, so the
  family's generation paradigm is autoregressive VQ.

Prompts come from the processor's chat template (``<|User|>: <image_placeholder>\\n{text}\\n\\n
<|Assistant|>:``); the hub checkpoints' processors also prepend Janus's default system prompt
(``use_default_system_prompt``), which the processor does, so it is not part of the recorded
prompt.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from mllmbench.adapters.base import Capability, Connector, GenerationParadigm
from mllmbench.adapters.hf import HFVisionLanguageAdapter

IMAGE_TOKEN = "<image_placeholder>"
BEGIN_IMAGE_TOKEN = "<begin_of_image>"
END_IMAGE_TOKEN = "<end_of_image>"

JANUS_CHAT_TEMPLATE = (
    "{%set seps=['\\n\\n','<\uff5cend\u2581of\u2581sentence\uff5c>']%}"
    "{%for message in messages%}"
    "{%if message['role']|lower=='user'%}<|User|>: "
    "{%elif message['role']|lower=='assistant'%}<|Assistant|>:"
    "{%if not (loop.last and not add_generation_prompt and message['content'][0]['type']=='text' "
    "and message['content'][0]['text']=='')%} {%endif%}"
    "{%else%}{{message['role'].capitalize()}}: {%endif%}"
    "{%for content in message['content']%}"
    "{%if content['type']=='image'%}"
    "{%if not loop.first%}{{'\\n'}}{%endif%}<image_placeholder>{%if not loop.last%}{{'\\n'}}{%endif%}"
    "{%elif content['type']=='text'%}"
    "{%set text=content['text']%}"
    "{%if loop.first%}{%set text=text.lstrip()%}{%endif%}"
    "{%if loop.last%}{%set text=text.rstrip()%}{%endif%}"
    "{%if not loop.first and message['content'][loop.index0-1]['type']=='text'%}{{' '+text}}"
    "{%else%}{{text}}{%endif%}"
    "{%endif%}"
    "{%endfor%}"
    "{%if not loop.last or add_generation_prompt%}"
    "{%if message['role']|lower=='user'%}{{seps[0]}}{%else%}{{seps[1]}}{%endif%}"
    "{%endif%}"
    "{%endfor%}"
    "{%if add_generation_prompt%}<|Assistant|>:{%endif%}"
)
"""The chat template transformers' Janus conversion gives the hub checkpoints (the tiny one uses it too)."""

TINY_IMAGE_SIZE = 32
TINY_PATCH_SIZE = 8
TINY_IMAGE_TOKENS = (TINY_IMAGE_SIZE // TINY_PATCH_SIZE) ** 2
"""Image positions of the tiny model: one per ViT patch."""
TINY_VQ_CODES = 32
"""Codebook size of the tiny VQ-VAE (the generation path)."""


class JanusAdapter(HFVisionLanguageAdapter):
    """Janus / Janus-Pro, understanding side: SigLIP ViT -> MLP aligner -> Llama LLM (text out).

    Connector: ``mlp``. Janus is a unified early-fusion-*generation* model, but its
    understanding path feeds continuous ViT features through an MLP, the LLaVA paradigm; the
    discrete VQ tokens only appear when it generates images (``generation`` is
    `GenerationParadigm.AUTOREGRESSIVE_VQ`; `Capability.GENERATE` comes with that method).

    Visual tokens: each image becomes ``num_image_tokens`` ``<image_placeholder>`` positions
    (one per patch), not counting the begin/end-of-image tokens around them.

    Parameters: ``vision`` (ViT), ``connector`` (aligner), ``llm`` (language model and head) and
    ``generation``: the VQ-VAE and the generation embeddings, aligner and head, which text
    answers do not use.

    Batching: batched, left-padded.
    """

    name: ClassVar[str] = "janus"
    description: ClassVar[str] = (
        "Janus: decoupled visual encoding; SigLIP ViT and MLP aligner for understanding, VQ tokens for generation"
    )
    capabilities: ClassVar[Capability] = Capability.UNDERSTAND
    connector: ClassVar[Connector] = Connector.MLP
    generation: ClassVar[GenerationParadigm] = GenerationParadigm.AUTOREGRESSIVE_VQ
    model_class_name: ClassVar[str] = "JanusForConditionalGeneration"
    param_groups: ClassVar[dict[str, tuple[str, ...]]] = {
        "vision": ("model.vision_model",),
        "connector": ("model.aligner",),
        "llm": ("model.language_model", "lm_head"),
        "generation": (
            "model.vqmodel",
            "model.generation_embeddings",
            "model.generation_aligner",
            "model.generation_head",
        ),
    }

    @classmethod
    def build_tiny(cls, out_dir: Path, *, seed: int = 0) -> Path:
        """Write a tiny random Janus (understanding and generation parts) and its processor to `out_dir`.

        Understanding: a 2-layer ViT on 32x32 images with 8x8 patches (16 image tokens) and the
        2-layer MLP aligner into a 2-layer Llama. Generation: a VQ-VAE with 32 base channels and
        three downsamplings (a 4x4 latent grid, ``num_patches=4``) over a 32-code codebook, with
        its aligner projecting to the LLM width, so the same checkpoint can generate images once
        the adapter does. Tokenizer: the offline tiny one with DeepSeek's BOS/EOS names and
        Janus's image tokens as tokenizer attributes; processor: `JANUS_CHAT_TEMPLATE` and the
        default system prompt, like the hub checkpoints. The LM head is not tied to the input
        embeddings: tied, the random model only ever repeats the prompt's last token.
        """
        import torch
        from transformers import (
            JanusConfig,
            JanusForConditionalGeneration,
            JanusImageProcessor,
            JanusProcessor,
        )

        from mllmbench.adapters.tiny_tokenizer import build_tiny_tokenizer

        tokenizer = build_tiny_tokenizer(
            bos_token="<\uff5cbegin\u2581of\u2581sentence\uff5c>",
            eos_token="<\uff5cend\u2581of\u2581sentence\uff5c>",
            pad_token="<\uff5c\u2581pad\u2581\uff5c>",
            extra_special_tokens={
                "image_token": IMAGE_TOKEN,
                "boi_token": BEGIN_IMAGE_TOKEN,
                "eoi_token": END_IMAGE_TOKEN,
            },
            extra_corpus=[
                "<|User|>: What is this?\n\n<|Assistant|>: a shape",
                "You are a helpful assistant.",
            ],
        )
        image_processor = JanusImageProcessor(size={"height": TINY_IMAGE_SIZE, "width": TINY_IMAGE_SIZE})
        processor = JanusProcessor(
            image_processor=image_processor,
            tokenizer=tokenizer,
            chat_template=JANUS_CHAT_TEMPLATE,
            use_default_system_prompt=True,
            num_image_tokens=TINY_IMAGE_TOKENS,
        )
        hidden = 64
        image_token_id = tokenizer.convert_tokens_to_ids(IMAGE_TOKEN)
        assert isinstance(image_token_id, int)
        config = JanusConfig(
            text_config={
                "model_type": "llama",
                "vocab_size": len(tokenizer),
                "hidden_size": hidden,
                "intermediate_size": 128,
                "num_hidden_layers": 2,
                "num_attention_heads": 4,
                "num_key_value_heads": 2,
                "max_position_embeddings": 256,
                "bos_token_id": tokenizer.bos_token_id,
                "eos_token_id": tokenizer.eos_token_id,
                "pad_token_id": tokenizer.pad_token_id,
                "initializer_range": 0.02,
            },
            vision_config={
                "hidden_size": 32,
                "num_hidden_layers": 2,
                "num_attention_heads": 4,
                "mlp_ratio": 2.0,
                "image_size": TINY_IMAGE_SIZE,
                "patch_size": TINY_PATCH_SIZE,
                "projection_dim": hidden,
                "depth": 2,
                "num_image_tokens": TINY_IMAGE_TOKENS,
                "initializer_range": 0.02,
            },
            vq_config={
                "embed_dim": 8,
                "num_embeddings": TINY_VQ_CODES,
                "latent_channels": 16,
                "base_channels": 32,
                "channel_multiplier": [1, 1, 1, 1],
                "num_res_blocks": 1,
                "num_patches": TINY_IMAGE_SIZE // 8,
                "projection_dim": hidden,
                "image_token_embed_dim": hidden,
                "num_hidden_layers": 1,
                "initializer_range": 0.02,
            },
            image_token_id=image_token_id,
            tie_word_embeddings=False,
        )
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = JanusForConditionalGeneration(config).eval()
        model.generation_config.pad_token_id = tokenizer.pad_token_id
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(out_dir)
        processor.save_pretrained(out_dir)
        return out_dir
