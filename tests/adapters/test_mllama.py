"""Mllama (Llama 3.2 Vision) adapter on a tiny random checkpoint: contract, fidelity, batching, tiles."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from mllmbench.adapters.mllama import (
    MllamaAdapter,
)
from mllmbench.adapters.tiny.chat_templates import LLAMA_32_VISION_CHAT_TEMPLATE
from mllmbench.adapters.tiny.mllama import CROSS_ATTENTION_LAYERS as TINY_CROSS_ATTENTION_LAYERS
from mllmbench.adapters.tiny.mllama import FEATURES_PER_TILE as TINY_FEATURES_PER_TILE
from mllmbench.core.types import GenerationSettings, UnderstandRequest
from mllmbench.testing.adapter_contract import (
    check_batching,
    check_fidelity,
    sample_requests,
    synthetic_image,
)

SETTINGS = GenerationSettings(max_new_tokens=8)


@pytest.fixture(scope="module")
def tiny_dir(tiny_checkpoint: Callable[[str], Path]) -> Path:
    """The session's tiny mllama checkpoint (shared: copy it before changing files)."""
    return tiny_checkpoint("mllama")


@pytest.fixture(scope="module")
def adapter(tiny_dir: Path) -> Iterator[MllamaAdapter]:
    """The adapter loaded on the tiny checkpoint, float32 on the CPU."""
    loaded = MllamaAdapter(str(tiny_dir))
    loaded.load()
    yield loaded
    loaded.close()


def model_card_inputs(processor: Any, prompt: str, images: list[Any]) -> Mapping[str, Any]:
    """The model card's call: ``processor(image, input_text, add_special_tokens=False)``."""
    return processor(images[0], prompt, add_special_tokens=False, return_tensors="pt")  # type: ignore[no-any-return]


def test_prompt_placeholder_and_cross_attended_features(adapter: MllamaAdapter) -> None:
    question = "What colour is the circle?"
    image = synthetic_image(0)
    [response] = adapter.understand([UnderstandRequest("a", (image,), question)], SETTINGS)
    assert response.prompt == (
        "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n<|image|>"
        f"{question}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
    )
    tokenizer = adapter.tokenizer
    ids = tokenizer(response.prompt, add_special_tokens=False)["input_ids"]
    assert ids.count(tokenizer.bos_token_id) == 1, "BOS doubled"
    assert response.usage.image_tokens == 1
    assert response.usage.input_tokens == len(ids)
    inputs = model_card_inputs(adapter.processor, response.prompt, [image])
    assert inputs["input_ids"][0].tolist() == ids
    # Text from the <|image|> token on sees the image's tiles; the tokens before it see none.
    start = ids.index(adapter.processor.image_token_id)
    tiles = int(inputs["aspect_ratio_mask"][0, 0].sum())
    seen = inputs["cross_attention_mask"][0, :, 0].sum(dim=-1).tolist()
    assert seen == [0] * start + [tiles] * (len(ids) - start)
    # A 336x336 probe is cut into 2x2 tiles of 32 px: 4 x (16 patches + CLS) features.
    assert adapter.info.visual_tokens_per_image == 4 * TINY_FEATURES_PER_TILE == 68
    assert response.usage.profile is not None and response.usage.profile.vision_seconds


def test_cross_attention_states_have_the_reported_size(adapter: MllamaAdapter) -> None:
    import torch
    from PIL import Image

    probe = Image.new("RGB", adapter.probe_image_size, (127, 127, 127))
    inputs = adapter.processor_inputs([adapter.render_prompt("?", 1)], [[probe]])
    with torch.inference_mode():
        states = adapter.model.model.vision_model(
            pixel_values=inputs["pixel_values"],
            aspect_ratio_ids=inputs["aspect_ratio_ids"],
            aspect_ratio_mask=inputs["aspect_ratio_mask"],
        ).last_hidden_state
    batch, images, tiles, features, _ = states.shape
    used = int(inputs["aspect_ratio_mask"].sum())
    assert (batch, images, tiles, features) == (1, 1, 4, TINY_FEATURES_PER_TILE)
    assert used * features == adapter.info.visual_tokens_per_image


def test_info_parameter_groups_match_the_model(adapter: MllamaAdapter) -> None:
    model = adapter.model
    inner = model.model
    text = inner.language_model

    def count(*modules: Any) -> int:
        return sum(p.numel() for module in modules for p in module.parameters())

    cross = [text.layers[i] for i in TINY_CROSS_ATTENTION_LAYERS]
    plain = [layer for i, layer in enumerate(text.layers) if i not in TINY_CROSS_ATTENTION_LAYERS]
    assert [type(layer).__name__ for layer in cross] == ["MllamaCrossAttentionDecoderLayer"]
    params = adapter.info.parameters
    assert params["vision"] == count(inner.vision_model)
    assert params["connector"] == count(inner.multi_modal_projector, *cross)
    assert params["llm"] == count(text.embed_tokens, *plain, text.norm, model.lm_head)
    assert params["total"] == count(model) == params["vision"] + params["connector"] + params["llm"]
    paradigm = adapter.info.paradigm
    assert (paradigm.vision_encoder, paradigm.llm_backbone) == ("MllamaVisionModel", "MllamaTextModel")
    assert str(paradigm.connector) == "cross_attention"
    assert adapter.info.chat_template == LLAMA_32_VISION_CHAT_TEMPLATE
    timed = adapter.timed_modules()
    assert timed == [inner.vision_model, inner.multi_modal_projector]


def test_fidelity_against_direct_transformers(adapter: MllamaAdapter) -> None:
    for request in sample_requests(3):
        check_fidelity(adapter, request, SETTINGS, direct_inputs=model_card_inputs)


def test_batching_mixes_tile_counts(adapter: MllamaAdapter) -> None:
    from PIL import Image

    sizes = [(96, 24), (24, 96), (30, 30), (64, 64)]
    requests = [
        UnderstandRequest(f"t{i}", (synthetic_image(i).resize(size, Image.Resampling.BILINEAR),), text)
        for i, (size, text) in enumerate(
            zip(sizes, ["Describe the image.", "yes or no?", "What shape is blue?", "How many?"], strict=True)
        )
    ]
    inputs = adapter.processor_inputs(
        [adapter.render_prompt(r.text, 1) for r in requests], [list(r.images) for r in requests]
    )
    tiles = inputs["aspect_ratio_mask"][:, 0].sum(dim=-1).tolist()
    assert len(set(tiles)) >= 3, f"tile counts {tiles}: the check would not mix them"
    check_batching(adapter, requests, SETTINGS)
