"""Tiny random checkpoints of image-text-to-text model types that have no family adapter.

For the ``auto`` adapter's tests: each recipe builds the real transformers model class from a
small config (2-layer ViT on 32x32 images, 2-layer LM of width 64 on the offline tiny
tokenizer) and the real processor class, with a short chat template that puts the model's
own image placeholder first, then the text, then ``Assistant:``. Seeded, saved with
``save_pretrained``; `MODEL_TYPES` lists what `build` knows.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from mllmbench.adapters.tiny.checkpoint import save, seeded
from mllmbench.adapters.tiny.language_models import HIDDEN, lm_dims
from mllmbench.adapters.tiny.tokenizer import build_tiny_tokenizer
from mllmbench.adapters.tiny.vision_towers import IMAGE_SIZE, INIT_RANGE, PATCH_SIZE, vit_dims


def chat_template(image: str, *, bos: str = "", video: str = "") -> str:
    """A one-turn template: `bos`, ``User: <images><text>``, newline, ``Assistant:``; with `video`,
    a ``{"type": "video"}`` item becomes that placeholder."""
    video_item = "{% elif item['type'] == 'video' %}" + video if video else ""
    return (
        bos + "{% for message in messages %}{{ message['role'] | capitalize }}: "
        "{% if message['content'] is string %}{{ message['content'] }}{% else %}"
        "{% for item in message['content'] %}{% if item['type'] == 'image' %}"
        + image
        + video_item
        + "{% elif "
        "item['type'] == 'text' %}{{ item['text'] }}{% endif %}{% endfor %}{% endif %}{{ '\\n' }}{% endfor %}"
        "{% if add_generation_prompt %}Assistant:{% endif %}"
    )


def _id(tokenizer: Any, token: str) -> int:
    """The id of one token (a single int, for the config classes' typed fields)."""
    return int(tokenizer.convert_tokens_to_ids(token))


def _seeded_model(model_cls: Any, config: Any, seed: int) -> Any:
    with seeded(seed):
        return model_cls(config).eval()


def llava_onevision(out_dir: Path, seed: int) -> Path:
    """LLaVA-OneVision: SigLIP tower, MLP projector, Qwen2 LM; one 32px tile, no anyres split."""
    from transformers import (
        LlavaOnevisionConfig,
        LlavaOnevisionForConditionalGeneration,
        LlavaOnevisionImageProcessor,
        LlavaOnevisionProcessor,
        LlavaOnevisionVideoProcessor,
        Qwen2Config,
        SiglipVisionConfig,
    )

    tokenizer = build_tiny_tokenizer(
        extra_special_tokens={"image_token": "<image>", "video_token": "<video>"}
    )
    grid = [[IMAGE_SIZE, IMAGE_SIZE]]
    processor = LlavaOnevisionProcessor(
        image_processor=LlavaOnevisionImageProcessor(
            size={"height": IMAGE_SIZE, "width": IMAGE_SIZE}, image_grid_pinpoints=grid
        ),
        tokenizer=tokenizer,
        video_processor=LlavaOnevisionVideoProcessor(size={"height": IMAGE_SIZE, "width": IMAGE_SIZE}),
        num_image_tokens=(IMAGE_SIZE // PATCH_SIZE) ** 2,
        vision_feature_select_strategy="full",
        chat_template=chat_template("<image>", video="<video>"),
        vision_aspect_ratio="anyres_max_1",
    )
    config = LlavaOnevisionConfig(
        vision_config=SiglipVisionConfig(**vit_dims()),
        text_config=Qwen2Config(**lm_dims(tokenizer)),
        image_token_index=_id(tokenizer, "<image>"),
        video_token_index=_id(tokenizer, "<video>"),
        vision_feature_select_strategy="full",
        vision_feature_layer=-1,
        image_grid_pinpoints=grid,
        vision_aspect_ratio="anyres_max_1",
    )
    return save(out_dir, _seeded_model(LlavaOnevisionForConditionalGeneration, config, seed), processor)


def llava_next_video(out_dir: Path, seed: int) -> Path:
    """LLaVA-NeXT-Video: CLIP tower, MLP projector, Llama LM; one 32px tile per image, and each
    video frame's 4x4 patch grid average-pooled with stride 2 to 2x2 tokens."""
    from transformers import (
        LlamaConfig,
        LlavaNextImageProcessor,
        LlavaNextVideoConfig,
        LlavaNextVideoForConditionalGeneration,
        LlavaNextVideoProcessor,
        LlavaNextVideoVideoProcessor,
    )

    from mllmbench.adapters.tiny.vision_towers import clip_vision_config

    tokenizer = build_tiny_tokenizer(
        extra_special_tokens={"image_token": "<image>", "video_token": "<video>"}
    )
    grid = [[IMAGE_SIZE, IMAGE_SIZE]]
    size = {"shortest_edge": IMAGE_SIZE}
    crop = {"height": IMAGE_SIZE, "width": IMAGE_SIZE}
    processor = LlavaNextVideoProcessor(
        image_processor=LlavaNextImageProcessor(size=size, crop_size=crop, image_grid_pinpoints=grid),
        video_processor=LlavaNextVideoVideoProcessor(size=size, crop_size=crop),
        tokenizer=tokenizer,
        chat_template=chat_template("<image>", video="<video>"),
        patch_size=PATCH_SIZE,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,
    )
    config = LlavaNextVideoConfig(
        vision_config=clip_vision_config(),
        text_config=LlamaConfig(**lm_dims(tokenizer)),
        image_token_index=_id(tokenizer, "<image>"),
        video_token_index=_id(tokenizer, "<video>"),
        image_grid_pinpoints=grid,
        vision_feature_layer=-1,
        vision_feature_select_strategy="default",
        spatial_pool_stride=2,
        image_seq_length=(IMAGE_SIZE // PATCH_SIZE) ** 2,
        video_seq_length=((IMAGE_SIZE // PATCH_SIZE) // 2) ** 2,
    )
    return save(out_dir, _seeded_model(LlavaNextVideoForConditionalGeneration, config, seed), processor)


def gemma3(out_dir: Path, seed: int) -> Path:
    """Gemma 3: SigLIP tower, average pooling to 4 tokens + linear projection, Gemma 3 LM."""
    from transformers import (
        Gemma3Config,
        Gemma3ForConditionalGeneration,
        Gemma3ImageProcessor,
        Gemma3Processor,
        Gemma3TextConfig,
        SiglipVisionConfig,
    )

    specials = {
        "image_token": "<image_soft_token>",
        "boi_token": "<start_of_image>",
        "eoi_token": "<end_of_image>",
    }
    tokenizer = build_tiny_tokenizer(bos_token="<bos>", eos_token="<eos>", extra_special_tokens=specials)
    tokens = 4
    processor = Gemma3Processor(
        image_processor=Gemma3ImageProcessor(size={"height": IMAGE_SIZE, "width": IMAGE_SIZE}),
        tokenizer=tokenizer,
        image_seq_length=tokens,
        chat_template=chat_template("<start_of_image>", bos="{{ bos_token }}"),
    )
    text = Gemma3TextConfig(**lm_dims(tokenizer, head_dim=16, sliding_window=64))
    config = Gemma3Config(
        vision_config=SiglipVisionConfig(**vit_dims()),
        text_config=text,
        mm_tokens_per_image=tokens,
        boi_token_index=_id(tokenizer, "<start_of_image>"),
        eoi_token_index=_id(tokenizer, "<end_of_image>"),
        image_token_index=_id(tokenizer, "<image_soft_token>"),
        initializer_range=INIT_RANGE,
    )
    import torch

    with seeded(seed):
        model = Gemma3ForConditionalGeneration(config).eval()
        # Gemma 3 initialises its projection to zeros: every image would become the same zero
        # embedding. Random values let the answer depend on the image.
        torch.nn.init.normal_(model.model.multi_modal_projector.mm_input_projection_weight, std=INIT_RANGE)
    return save(out_dir, model, processor)


def mistral3(out_dir: Path, seed: int) -> Path:
    """Mistral 3 (Pixtral tower, 2x2 patch merger + MLP, Mistral LM) with the Pixtral processor."""
    from transformers import (
        Mistral3Config,
        Mistral3ForConditionalGeneration,
        MistralConfig,
        PixtralImageProcessor,
        PixtralProcessor,
        PixtralVisionConfig,
    )

    specials = {"image_token": "[IMG]", "image_break_token": "[IMG_BREAK]", "image_end_token": "[IMG_END]"}
    tokenizer = build_tiny_tokenizer(extra_special_tokens=specials)
    processor = PixtralProcessor(
        image_processor=PixtralImageProcessor(size={"longest_edge": IMAGE_SIZE}, patch_size=PATCH_SIZE),
        tokenizer=tokenizer,
        patch_size=PATCH_SIZE,
        spatial_merge_size=2,
        chat_template=chat_template("[IMG]"),
    )
    vision = PixtralVisionConfig(
        hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        image_size=IMAGE_SIZE, patch_size=PATCH_SIZE,
    )  # fmt: skip
    config = Mistral3Config(
        vision_config=vision,
        text_config=MistralConfig(**lm_dims(tokenizer)),
        image_token_index=_id(tokenizer, "[IMG]"),
        vision_feature_layer=-1,
        spatial_merge_size=2,
        tie_word_embeddings=False,  # a separate head: tied 0.02 embeddings give one answer for every input
    )
    return save(out_dir, _seeded_model(Mistral3ForConditionalGeneration, config, seed), processor)


def smolvlm(out_dir: Path, seed: int) -> Path:
    """SmolVLM: Idefics3's design (ViT, pixel shuffle 2, Llama LM), its own processor, no splitting."""
    from transformers import (
        LlamaConfig,
        SmolVLMConfig,
        SmolVLMForConditionalGeneration,
        SmolVLMImageProcessor,
        SmolVLMProcessor,
        SmolVLMVideoProcessor,
        SmolVLMVisionConfig,
    )

    markers = ("<fake_token_around_image>", "<image>", "<end_of_utterance>", "<global-img>")
    tiles = tuple(f"<row_{r}_col_{c}>" for r in range(1, 7) for c in range(1, 7))
    tokenizer = build_tiny_tokenizer(
        bos_token="<|im_start|>", eos_token="<end_of_utterance>", extra_special_tokens=[*markers, *tiles]
    )
    tokenizer.image_token, tokenizer.fake_image_token, tokenizer.global_image_token = (
        markers[1],
        markers[0],
        markers[3],
    )
    patch = 4
    processor = SmolVLMProcessor(
        image_processor=SmolVLMImageProcessor(
            size={"longest_edge": 2 * IMAGE_SIZE},
            max_image_size={"longest_edge": IMAGE_SIZE},
            do_image_splitting=False,
        ),
        tokenizer=tokenizer,
        video_processor=SmolVLMVideoProcessor(),
        image_seq_len=(IMAGE_SIZE // patch) ** 2 // 4,
        chat_template=chat_template("<image>", bos="{{ bos_token }}"),
    )
    config = SmolVLMConfig(
        vision_config=SmolVLMVisionConfig(**vit_dims(patch_size=patch, initializer_range=INIT_RANGE)),
        text_config=LlamaConfig(**lm_dims(tokenizer, max_position_embeddings=512)),
        scale_factor=2,
        image_token_id=_id(tokenizer, "<image>"),
        tie_word_embeddings=False,
    )
    return save(out_dir, _seeded_model(SmolVLMForConditionalGeneration, config, seed), processor)


def internvl(out_dir: Path, seed: int) -> Path:
    """InternVL: InternViT, pixel shuffle 0.5 + MLP, Qwen2 LM; one 32px tile (no dynamic tiling)."""
    from transformers import (
        GotOcr2ImageProcessor,
        InternVLConfig,
        InternVLForConditionalGeneration,
        InternVLProcessor,
        InternVLVideoProcessor,
        InternVLVisionConfig,
        Qwen2Config,
    )

    specials = {
        "start_image_token": "<img>",
        "end_image_token": "</img>",
        "context_image_token": "<IMG_CONTEXT>",
        "video_token": "<video>",
    }
    tokenizer = build_tiny_tokenizer(extra_special_tokens=specials)
    tokens = (IMAGE_SIZE // PATCH_SIZE) ** 2 // 4
    processor = InternVLProcessor(
        image_processor=GotOcr2ImageProcessor(
            size={"height": IMAGE_SIZE, "width": IMAGE_SIZE}, crop_to_patches=False, max_patches=1
        ),
        tokenizer=tokenizer,
        video_processor=InternVLVideoProcessor(size={"height": IMAGE_SIZE, "width": IMAGE_SIZE}),
        image_seq_length=tokens,
        chat_template=chat_template("<IMG_CONTEXT>"),
    )
    vision = InternVLVisionConfig(
        hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        image_size=[IMAGE_SIZE, IMAGE_SIZE], patch_size=[PATCH_SIZE, PATCH_SIZE], initializer_range=INIT_RANGE,
    )  # fmt: skip
    config = InternVLConfig(
        vision_config=vision,
        text_config=Qwen2Config(**lm_dims(tokenizer)),
        image_token_id=_id(tokenizer, "<IMG_CONTEXT>"),
        image_seq_length=tokens,
        downsample_ratio=0.5,
        vision_feature_layer=-1,
        tie_word_embeddings=False,  # as for Mistral 3
    )
    return save(out_dir, _seeded_model(InternVLForConditionalGeneration, config, seed), processor)


def qwen3_vl(out_dir: Path, seed: int) -> Path:
    """Qwen3-VL: ViT with 2x2 patch merger (+ DeepStack features), Qwen3 LM with M-RoPE."""
    from transformers import (
        Qwen2VLImageProcessor,
        Qwen3VLConfig,
        Qwen3VLForConditionalGeneration,
        Qwen3VLProcessor,
        Qwen3VLVideoProcessor,
    )

    specials = ["<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>"]
    tokenizer = build_tiny_tokenizer(bos_token=None, eos_token="<|im_end|>", extra_special_tokens=specials)
    patch = 8
    processor = Qwen3VLProcessor(
        image_processor=Qwen2VLImageProcessor(
            patch_size=patch, merge_size=2, temporal_patch_size=2, min_pixels=1024, max_pixels=1024
        ),
        tokenizer=tokenizer,
        video_processor=Qwen3VLVideoProcessor(patch_size=patch, merge_size=2, temporal_patch_size=2),
        chat_template=chat_template("<|vision_start|><|image_pad|><|vision_end|>"),
    )
    ids = {t: _id(tokenizer, t) for t in specials}
    config = Qwen3VLConfig(
        vision_config={
            "hidden_size": 32, "intermediate_size": 64, "depth": 2, "num_heads": 4, "patch_size": patch,
            "spatial_merge_size": 2, "temporal_patch_size": 2, "out_hidden_size": HIDDEN,
            "num_position_embeddings": 16, "deepstack_visual_indexes": [0],
        },
        text_config={
            **lm_dims(tokenizer, head_dim=16),
            "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [2, 3, 3],
                                "mrope_interleaved": True},
        },
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
    )  # fmt: skip
    return save(out_dir, _seeded_model(Qwen3VLForConditionalGeneration, config, seed), processor)


def aria(out_dir: Path, seed: int) -> Path:
    """Aria: Idefics3-style ViT, a projector whose learned queries cross-attend to the patches
    (4 queries per image), and a mixture-of-experts LM.

    AriaProcessor resizes to its call default ``max_image_size`` (980) whatever the image
    processor says, so the tiny tower takes 980px images in 70px patches (196 patches)."""
    from transformers import (
        AriaConfig,
        AriaForConditionalGeneration,
        AriaImageProcessor,
        AriaProcessor,
        AriaTextConfig,
        Idefics3VisionConfig,
    )

    tokenizer = build_tiny_tokenizer(extra_special_tokens={"image_token": "<|img|>"})
    size, patch, queries = 980, 70, 4
    processor = AriaProcessor(
        image_processor=AriaImageProcessor(max_image_size=size, min_image_size=size, split_image=False),
        tokenizer=tokenizer,  # type: ignore[arg-type]  # any tokenizer instance works
        chat_template=chat_template("<|img|>"),
        size_conversion={size: queries},
    )
    text = AriaTextConfig(
        **lm_dims(tokenizer),
        moe_num_experts=2, moe_topk=1, moe_num_shared_experts=1,
    )  # fmt: skip
    config = AriaConfig(
        vision_config=Idefics3VisionConfig(
            **vit_dims(image_size=size, patch_size=patch, initializer_range=INIT_RANGE)
        ),
        text_config=text,
        vision_feature_layer=-1,
        projector_patch_to_query_dict={(size // patch) ** 2: queries},
        image_token_index=_id(tokenizer, "<|img|>"),
        initializer_range=INIT_RANGE,
    )
    return save(out_dir, _seeded_model(AriaForConditionalGeneration, config, seed), processor)


BUILDERS: dict[str, Callable[[Path, int], Path]] = {
    "llava_onevision": llava_onevision,
    "llava_next_video": llava_next_video,
    "gemma3": gemma3,
    "mistral3": mistral3,
    "smolvlm": smolvlm,
    "internvl": internvl,
    "qwen3_vl": qwen3_vl,
    "aria": aria,
}
MODEL_TYPES = tuple(BUILDERS)
"""The model types `build` can write."""


def build(model_type: str, out_dir: Path, *, seed: int = 0) -> Path:
    """Write the tiny checkpoint of `model_type` (one of `MODEL_TYPES`) to `out_dir`."""
    if model_type not in BUILDERS:
        raise KeyError(f"no tiny recipe for model type {model_type!r}; known: {', '.join(MODEL_TYPES)}")
    return BUILDERS[model_type](Path(out_dir), seed)


__all__ = ["HIDDEN", "MODEL_TYPES", "build", "chat_template"]
