"""IDEFICS (v1) adapter on a tiny random checkpoint: contract, fidelity, batching, cross-attention counts."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from mllmbench.adapters.idefics import (
    END_OF_UTTERANCE,
    IDEFICS_INSTRUCT_CHAT_TEMPLATE,
    IdeficsAdapter,
    interleave,
)
from mllmbench.adapters.tiny.idefics import RESAMPLER_LATENTS as TINY_RESAMPLER_LATENTS
from mllmbench.core.errors import ConfigError
from mllmbench.core.types import GenerationSettings, UnderstandRequest
from mllmbench.testing.adapter_contract import (
    check_fidelity,
    sample_requests,
    synthetic_image,
)

SETTINGS = GenerationSettings(max_new_tokens=8)
PREFIX = "User:<image>"


@pytest.fixture(scope="module")
def tiny_dir(tiny_checkpoint: Callable[[str], Path]) -> Path:
    """The session's tiny idefics checkpoint (shared: copy it before changing files)."""
    return tiny_checkpoint("idefics")


@pytest.fixture(scope="module")
def adapter(tiny_dir: Path) -> Iterator[IdeficsAdapter]:
    """The adapter loaded on the tiny checkpoint, float32 on the CPU."""
    loaded = IdeficsAdapter(str(tiny_dir))
    loaded.load()
    yield loaded
    loaded.close()


def inline_inputs(processor: Any, prompt: str, images: list[Any]) -> Mapping[str, Any]:
    """The model card's call for one image: ``processor(text=[["User:", image, "…Assistant:"]])``."""
    assert prompt.startswith(PREFIX) and prompt.count("<image>") == 1 == len(images), prompt
    return processor(text=[["User:", images[0], prompt[len(PREFIX) :]]], return_tensors="pt")  # type: ignore[no-any-return]


def test_prompt_placeholder_and_cross_attended_features(adapter: IdeficsAdapter) -> None:
    import torch

    question = "What colour is the circle?"
    image = synthetic_image(0)
    [response] = adapter.understand([UnderstandRequest("a", (image,), question)], SETTINGS)
    assert response.prompt == f"User:<image>{question}<end_of_utterance>\nAssistant:"
    tokenizer = adapter.tokenizer
    expected_ids = tokenizer(
        f"<s>User:<fake_token_around_image><image><fake_token_around_image>{question}"
        "<end_of_utterance>\nAssistant:",
        add_special_tokens=False,
    )["input_ids"]
    inputs = inline_inputs(adapter.processor, response.prompt, [image])
    assert inputs["input_ids"][0].tolist() == expected_ids
    # The image is one placeholder position; the text after it may look at the image.
    assert response.usage.image_tokens == 1
    assert response.usage.input_tokens == len(expected_ids)
    mask = inputs["image_attention_mask"][0, :, 0].tolist()
    start = expected_ids.index(tokenizer.convert_tokens_to_ids("<image>"))
    assert mask == [0] * start + [1] * (len(expected_ids) - start)
    # visual_tokens_per_image: what the gated cross-attention attends to = resampler latents.
    inner = adapter.model.model
    with torch.inference_mode():
        patches = inner.vision_model(pixel_values=inputs["pixel_values"][0]).last_hidden_state
        latents = inner.perceiver_resampler(patches)
    assert patches.shape[1] == 17 and latents.shape[1] == TINY_RESAMPLER_LATENTS
    assert adapter.info.visual_tokens_per_image == TINY_RESAMPLER_LATENTS
    assert response.usage.profile is not None and response.usage.profile.vision_seconds


def test_info_parameter_groups_match_the_model(adapter: IdeficsAdapter) -> None:
    model = adapter.model
    inner = model.model

    def count(*modules: Any) -> int:
        return sum(p.numel() for module in modules for p in module.parameters())

    params = adapter.info.parameters
    assert params["vision"] == count(inner.vision_model)
    assert params["connector"] == count(inner.perceiver_resampler, inner.gated_cross_attn_layers)
    assert params["llm"] == count(inner.embed_tokens, inner.layers, inner.norm, model.lm_head)
    assert params["total"] == count(model) == params["vision"] + params["connector"] + params["llm"]
    paradigm = adapter.info.paradigm
    assert (paradigm.vision_encoder, paradigm.llm_backbone) == (
        "IdeficsVisionTransformer",
        "IdeficsDecoderLayer",
    )
    assert str(paradigm.connector) == "cross_attention"
    assert adapter.info.chat_template == IDEFICS_INSTRUCT_CHAT_TEMPLATE
    assert adapter.info.batching == "batched"
    # Vision time: the ViT and the resampler, not the cross-attention layers inside the LLM.
    assert adapter.timed_modules() == [inner.vision_model, inner.perceiver_resampler]


def test_fidelity_against_direct_transformers(adapter: IdeficsAdapter) -> None:
    for request in sample_requests(3):
        check_fidelity(adapter, request, SETTINGS, direct_inputs=inline_inputs)


def test_generation_ends_at_end_of_utterance(tiny_dir: Path) -> None:
    import torch

    fresh = IdeficsAdapter(str(tiny_dir))
    fresh.load()
    end_id = fresh.tokenizer.convert_tokens_to_ids(END_OF_UTTERANCE)
    assert fresh.model.generation_config.eos_token_id == [fresh.tokenizer.eos_token_id, end_id]
    saved = json.loads((tiny_dir / "generation_config.json").read_text())
    assert saved["eos_token_id"] == fresh.tokenizer.eos_token_id, "the checkpoint on disk was changed"
    request = UnderstandRequest("a", (synthetic_image(1),), "Describe the image.")
    [before] = fresh.understand([request], SETTINGS)
    assert before.usage.output_tokens == SETTINGS.max_new_tokens
    # Make <end_of_utterance> score twice the first answer token's (positive) logit: it comes first.
    inputs = inline_inputs(fresh.processor, before.prompt, list(request.images))
    with torch.inference_mode():
        logits = fresh.model(**inputs).logits[0, -1]
        first = int(logits.argmax())
        assert logits[first] > 0
        fresh.model.lm_head.weight[end_id] = 2 * fresh.model.lm_head.weight[first]
    [after] = fresh.understand([request], SETTINGS)
    assert (after.text, after.usage.output_tokens) == ("", 1)
    fresh.close()


def test_two_images_become_two_placeholders_each_with_its_own_mask_column(adapter: IdeficsAdapter) -> None:
    images = (synthetic_image(0), synthetic_image(3))
    prompt = adapter.render_prompt("Describe the image.", 2)
    assert prompt == "User:<image><image>Describe the image.<end_of_utterance>\nAssistant:"
    inputs = adapter.processor_inputs([prompt], [list(images)])
    assert adapter.count_image_tokens(inputs) == [2]
    assert tuple(inputs["pixel_values"].shape[:2]) == (1, 2)
    direct = adapter.processor(text=[["User:", *images, "Describe the image.<end_of_utterance>\nAssistant:"]])
    for key in ("input_ids", "image_attention_mask", "pixel_values"):
        assert inputs[key].tolist() == direct[key].tolist(), key
    [response] = adapter.understand([UnderstandRequest("two", images, "Describe the image.")], SETTINGS)
    assert response.usage.image_tokens == 2


def test_interleave_splits_at_image_markers() -> None:
    one, two = synthetic_image(0), synthetic_image(1)
    assert interleave("User:<image>Q", [one]) == ["User:", one, "Q"]
    assert interleave("<image><image>Q", [one, two]) == [one, two, "Q"]
    assert interleave("User:<image>", [one]) == ["User:", one]
    with pytest.raises(ConfigError, match="1 <image> markers for 2 images"):
        interleave("User:<image>Q", [one, two])
