"""Fresh, seeded zoo models: one builder per connector family, all on the `backbone` sizes.

A builder returns ``(model, processor)`` built from the real transformers config classes under
``torch.manual_seed(seed)``, with the traps of tiny from-scratch models fixed: the 0.02 init
spread everywhere (BLIP-2's ViT defaults to a dead 1e-10), no dropout, learned queries and latents
re-initialised away from zero, and nothing frozen.
"""

from __future__ import annotations

from typing import Any

from mllmbench.adapters.tiny.chat_templates import LLAVA_15_CHAT_TEMPLATE
from mllmbench.adapters.tiny.checkpoint import seeded
from mllmbench.zoo import backbone as bb

Built = tuple[Any, Any]


def _clip_image_processor() -> Any:
    from transformers import CLIPImageProcessor

    size = bb.IMAGE_SIZE
    return CLIPImageProcessor(size={"shortest_edge": size}, crop_size={"height": size, "width": size})


def build_llava(seed: int) -> Built:
    """LLaVA: CLIP ViT (last layer, CLS dropped) -> 2-layer MLP projector -> Llama."""
    from transformers import (
        CLIPVisionConfig,
        LlamaConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
    )

    tokenizer = bb.zoo_tokenizer(extra_special_tokens={"image_token": "<image>"})
    processor = LlavaProcessor(
        image_processor=_clip_image_processor(),
        tokenizer=tokenizer,
        patch_size=bb.PATCH_SIZE,
        vision_feature_select_strategy="default",
        chat_template=LLAVA_15_CHAT_TEMPLATE,
        image_token="<image>",
        num_additional_image_tokens=1,
    )
    config = LlavaConfig(
        vision_config=CLIPVisionConfig(**bb.vit_dims()),
        text_config=LlamaConfig(**bb.lm_dims(tokenizer)),
        image_token_index=processor.image_token_id,
        image_seq_length=bb.PATCHES,
        vision_feature_layer=-1,
        vision_feature_select_strategy="default",
        tie_word_embeddings=False,
    )
    with seeded(seed):
        model = LlavaForConditionalGeneration(config)
    return model, processor


ZOO_LLM_CHAT_TEMPLATE = (
    r"{% for message in messages %}"
    r"{% if message['role'] != 'system' %}{{ message['role'].upper() + ': ' }}{% endif %}"
    r"{% if message['content'] is string %}{{ message['content'] + ' ' }}"
    r"{% else %}"
    r"{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}"
    r"{{ '<image>\n' }}{% endfor %}"
    r"{% if message['role'] != 'assistant' %}"
    r"{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}"
    r"{{ content['text'] + ' '}}{% endfor %}"
    r"{% else %}{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}"
    r"{% generation %}{{ content['text'] + ' '}}{% endgeneration %}{% endfor %}{% endif %}"
    r"{% endif %}"
    r"{% endfor %}{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}"
)
"""The zoo LLM's chat template: LLaVA-1.5's, which reads only list content (``[{"type": "text",
...}]``), extended to plain-string content as text-only chat code sends it (the expert pipeline's
text-LLM stage, `mllmbench.adapters.two_stage.TextLLMStage`): both forms of one message render the
same text (``USER: <text> ASSISTANT:``), so the ``blind`` member's prompts are unchanged."""


def build_blind(seed: int) -> Built:
    """The zoo LLM alone (Llama, LLaVA's chat template without the image): no vision at all."""
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = bb.zoo_tokenizer()
    tokenizer.chat_template = ZOO_LLM_CHAT_TEMPLATE
    with seeded(seed):
        model = LlamaForCausalLM(LlamaConfig(**bb.lm_dims(tokenizer)))
    return model, tokenizer


QUERY_TOKENS = 16
"""BLIP-2's learned queries (a 4x compression of the 64 patches; 257 -> 32 in the real model)."""
LATENTS = 16
"""Idefics2's resampler latents: the same 16 tokens per image as BLIP-2's queries."""
MLLAMA_CROSS_LAYERS = (1, 4)
"""Cross-attention layers of the zoo Mllama: inserted among the 4 self-attention layers (6 in all)."""


def build_blip2(seed: int) -> Built:
    """BLIP-2: ViT -> Q-Former (16 learned queries, cross-attention every layer) -> linear -> Llama."""
    import torch
    from transformers import (
        Blip2Config,
        Blip2ForConditionalGeneration,
        Blip2Processor,
        Blip2QFormerConfig,
        Blip2VisionConfig,
        BlipImageProcessor,
        LlamaConfig,
    )

    tokenizer = bb.zoo_tokenizer(extra_special_tokens=["<image>"])
    size = bb.IMAGE_SIZE
    processor = Blip2Processor(
        image_processor=BlipImageProcessor(size={"height": size, "width": size}),
        tokenizer=tokenizer,
        num_query_tokens=QUERY_TOKENS,
    )
    qformer = Blip2QFormerConfig(
        hidden_size=bb.VISION_WIDTH,
        intermediate_size=2 * bb.VISION_WIDTH,
        num_hidden_layers=2,
        num_attention_heads=bb.HEADS,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        cross_attention_frequency=1,
        encoder_hidden_size=bb.VISION_WIDTH,
        vocab_size=len(tokenizer),
        initializer_range=bb.INIT_RANGE,
    )
    config = Blip2Config(
        vision_config=Blip2VisionConfig(**bb.vit_dims()),
        qformer_config=qformer,
        text_config=LlamaConfig(**bb.lm_dims(tokenizer)),
        num_query_tokens=QUERY_TOKENS,
        image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
        initializer_range=bb.INIT_RANGE,
    )
    with seeded(seed):
        model = Blip2ForConditionalGeneration(config)
        with torch.no_grad():  # the class starts the queries at zero: every query would be alike
            model.query_tokens.normal_(std=bb.INIT_RANGE)
    return model, processor


def build_idefics2(seed: int) -> Built:
    """Idefics2: ViT -> MLP + perceiver resampler (16 latents) -> Mistral (the zoo LLM's sizes)."""
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

    from mllmbench.adapters.tiny.chat_templates import IDEFICS2_CHAT_TEMPLATE

    tokenizer = bb.zoo_tokenizer(
        extra_special_tokens=["<fake_token_around_image>", "<image>", "<end_of_utterance>"]
    )
    size = bb.IMAGE_SIZE
    processor = Idefics2Processor(
        image_processor=Idefics2ImageProcessor(
            size={"shortest_edge": size, "longest_edge": size}, do_image_splitting=False
        ),
        tokenizer=tokenizer,
        image_seq_len=LATENTS,
        chat_template=IDEFICS2_CHAT_TEMPLATE,
    )
    text_config = MistralConfig(**bb.lm_dims(tokenizer, sliding_window=None))
    config = Idefics2Config(
        vision_config=Idefics2VisionConfig(**bb.vit_dims()),
        perceiver_config=Idefics2PerceiverConfig(
            hidden_size=bb.LLM_WIDTH,
            rms_norm_eps=text_config.rms_norm_eps,
            resampler_n_latents=LATENTS,
            resampler_depth=2,
            resampler_n_heads=bb.HEADS,
            resampler_head_dim=bb.LLM_WIDTH // bb.HEADS,
            num_key_value_heads=bb.HEADS,
            attention_dropout=0.0,
            initializer_range=bb.INIT_RANGE,
        ),
        text_config=text_config,
        image_token_id=processor.image_token_id,
        tie_word_embeddings=False,
    )
    with seeded(seed):
        model = Idefics2ForConditionalGeneration(config)
        with torch.no_grad():
            torch.nn.init.normal_(model.model.connector.perceiver_resampler.latents, std=bb.INIT_RANGE)
    model.generation_config.eos_token_id = [
        tokenizer.eos_token_id,
        tokenizer.convert_tokens_to_ids("<end_of_utterance>"),
    ]
    return model, processor


def build_mllama(seed: int) -> Built:
    """Mllama: tiled ViT (1 tile of 64x64) -> linear -> gated cross-attention layers inside Llama."""
    import torch
    from transformers import (
        MllamaConfig,
        MllamaForConditionalGeneration,
        MllamaImageProcessor,
        MllamaProcessor,
    )

    from mllmbench.adapters.tiny.chat_templates import LLAMA_32_VISION_CHAT_TEMPLATE
    from mllmbench.adapters.tiny.mllama import LLAMA_3_SPECIAL_TOKENS

    tokenizer = bb.zoo_tokenizer(
        bos_token="<|begin_of_text|>",
        eos_token="<|eot_id|>",
        pad_token="<|finetune_right_pad_id|>",
        unk_token=None,
        extra_special_tokens=LLAMA_3_SPECIAL_TOKENS,
    )
    size = bb.IMAGE_SIZE
    processor = MllamaProcessor(
        image_processor=MllamaImageProcessor(size={"height": size, "width": size}, max_image_tiles=1),
        tokenizer=tokenizer,
        chat_template=LLAMA_32_VISION_CHAT_TEMPLATE,
    )
    n_layers = bb.LLM_LAYERS + len(MLLAMA_CROSS_LAYERS)
    eos_ids = [tokenizer.convert_tokens_to_ids("<|end_of_text|>"), tokenizer.eos_token_id]
    config = MllamaConfig(
        vision_config={
            "hidden_size": bb.VISION_WIDTH,
            "intermediate_size": 4 * bb.VISION_WIDTH,
            "num_hidden_layers": bb.VISION_LAYERS - 1,
            "num_global_layers": 1,
            "attention_heads": bb.HEADS,
            "image_size": size,
            "patch_size": bb.PATCH_SIZE,
            "max_num_tiles": 1,
            "supported_aspect_ratios": [[1, 1]],
            "intermediate_layers_indices": [0],
            "vision_output_dim": 2 * bb.VISION_WIDTH,
            "initializer_range": bb.INIT_RANGE,
        },
        text_config=bb.lm_dims(
            tokenizer,
            num_hidden_layers=n_layers,
            cross_attention_layers=list(MLLAMA_CROSS_LAYERS),
            eos_token_id=eos_ids,
        ),
        image_token_index=processor.image_token_id,
    )
    with seeded(seed):
        model = MllamaForConditionalGeneration(config)
        with torch.no_grad():  # tanh(0) = 0 gates would keep the image out at the start
            for index in MLLAMA_CROSS_LAYERS:
                layer = model.model.language_model.layers[index]
                layer.cross_attn_attn_gate.fill_(1.0)
                layer.cross_attn_mlp_gate.fill_(1.0)
    model.generation_config.eos_token_id = eos_ids
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model, processor


def extend_mllama(key: str, value: Any, first_len: int, length: int) -> Any:
    """Grow ``cross_attention_mask`` (1, seq, images, tiles): later tokens see the image as the last
    prompt token does; padding positions see nothing."""
    import torch

    if key != "cross_attention_mask":
        return value
    mask = torch.as_tensor(value)
    out = torch.zeros((1, length, *mask.shape[2:]), dtype=mask.dtype)
    out[:, :first_len] = mask
    return out


ADAPTER_LEN = 10
"""LLaMA-Adapter's adaption-prompt length (10 in the paper), in every LLM layer."""


def _llava_processor(*, one_token: bool) -> Any:
    """The zoo LLaVA processor; ``one_token``: ``<image>`` stays a single placeholder token."""
    from transformers import LlavaProcessor

    tokenizer = bb.zoo_tokenizer(extra_special_tokens={"image_token": "<image>"})
    return LlavaProcessor(
        image_processor=_clip_image_processor(),
        tokenizer=tokenizer,
        patch_size=bb.IMAGE_SIZE if one_token else bb.PATCH_SIZE,
        vision_feature_select_strategy="full" if one_token else "default",
        chat_template=LLAVA_15_CHAT_TEMPLATE,
        image_token="<image>",
        num_additional_image_tokens=0 if one_token else 1,
    )


def build_visual_expert(seed: int) -> Built:
    """CogVLM-style: LLaVA's tower and projector, plus a vision expert (QKV, MLP) in every layer."""
    from transformers import CLIPVisionConfig, LlamaConfig

    from mllmbench.adapters.reference.visual_expert import VisualExpertForConditionalGeneration

    processor = _llava_processor(one_token=False)
    model = VisualExpertForConditionalGeneration.from_zoo_parts(
        CLIPVisionConfig(**bb.vit_dims()),
        LlamaConfig(**bb.lm_dims(processor.tokenizer)),
        processor.image_token_id,
        image_seq_length=bb.PATCHES,
        seed=seed,
    )
    return model, processor


def build_llama_adapter(seed: int) -> Built:
    """LLaMA-Adapter: peft adaption prompts (zero-init gates) plus a projected global image feature.

    LLaMA-Adapter freezes a pretrained LLM; the zoo LLM starts from scratch, so every weight is
    made trainable again (same budget as the other members).
    """
    from transformers import CLIPVisionConfig, LlamaConfig

    from mllmbench.adapters.reference.adaption_prompt import LlamaAdapterForConditionalGeneration

    processor = _llava_processor(one_token=True)
    model = LlamaAdapterForConditionalGeneration.from_zoo_parts(
        CLIPVisionConfig(**bb.vit_dims()),
        LlamaConfig(**bb.lm_dims(processor.tokenizer)),
        processor.image_token_id,
        adapter_len=ADAPTER_LEN,
        seed=seed,
    )
    for param in model.parameters():
        param.requires_grad_(True)
    return model, processor


def build_early_fusion(seed: int) -> Built:
    """Chameleon/Emu3 early fusion: ``Emu3ForConditionalGeneration`` over text and VQ-code tokens.

    The zoo tokenizer gets Emu3's special tokens, the end-of-line token and one
    ``<|visual token NNNNNN|>`` per code of the zoo VQ tokenizer (`mllmbench.zoo.vq_tokenizer`);
    the decoder has the zoo LLM sizes. Its ``vqmodel`` starts random here; training loads the
    trained ``vq`` member into it (`mllmbench.zoo.token_packaging.UnifiedTokens.attach`).
    """
    from transformers import Emu3Config, Emu3ForConditionalGeneration, Emu3Processor

    from mllmbench.adapters import emu3 as e
    from mllmbench.adapters.tiny.chat_templates import EMU3_CHAT_TEMPLATE
    from mllmbench.zoo import vq_tokenizer as vt

    tokenizer = bb.zoo_tokenizer(
        bos_token=e.BOS_TOKEN,
        eos_token=e.EOS_TOKEN,
        pad_token=e.PAD_TOKEN,
        extra_special_tokens={
            "image_token": e.IMAGE_TOKEN,
            "boi_token": e.IMAGE_START_TOKEN,
            "eoi_token": e.IMAGE_END_TOKEN,
            "image_wrapper_token": e.IMAGE_WRAPPER_TOKEN,
            "eof_token": e.EOF_TOKEN,
        },
        added_tokens=[e.EOL_TOKEN, *(e.visual_token(code) for code in range(vt.CODEBOOK_SIZE))],
        add_bos_token=False,
    )
    processor = Emu3Processor(
        image_processor=vt.image_processor(), tokenizer=tokenizer, chat_template=EMU3_CHAT_TEMPLATE
    )
    config = Emu3Config(
        vq_config=vt.VQ_CONFIG,
        text_config=bb.lm_dims(tokenizer),
        vocabulary_map=dict(sorted(tokenizer.get_vocab().items(), key=lambda item: item[1])),
    )
    with seeded(seed):
        model = Emu3ForConditionalGeneration(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model, processor
