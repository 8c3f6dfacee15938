"""Idefics2 adapter on a tiny random checkpoint: contract, chat template, resampler tokens, batching."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mllmbench.adapters.idefics2 import Idefics2Adapter
from mllmbench.adapters.tiny.idefics2 import LATENTS as TINY_LATENTS
from mllmbench.core.types import GenerationSettings, UnderstandRequest
from mllmbench.testing.adapter_contract import (
    check_batching,
    check_fidelity,
    sample_requests,
    synthetic_image,
)

SETTINGS = GenerationSettings(max_new_tokens=8)


@pytest.fixture(scope="module")
def tiny_idefics2_dir(tiny_checkpoint: Callable[[str], Path]) -> Path:
    """The session's tiny idefics2 checkpoint (shared: copy it before changing files)."""
    return tiny_checkpoint("idefics2")


@pytest.fixture(scope="module")
def idefics2_adapter(tiny_idefics2_dir: Path) -> Iterator[Idefics2Adapter]:
    """The adapter loaded on the tiny checkpoint, float32 on the CPU."""
    adapter = Idefics2Adapter(str(tiny_idefics2_dir))
    adapter.load()
    yield adapter
    adapter.close()


def test_prompt_follows_the_idefics2_chat_template(idefics2_adapter: Idefics2Adapter) -> None:
    request = UnderstandRequest("a", (synthetic_image(0),), "What colour is the circle?")
    [response] = idefics2_adapter.understand([request], SETTINGS)
    assert response.prompt == "User:<image>What colour is the circle?<end_of_utterance>\nAssistant:"
    inputs = idefics2_adapter.processor_inputs([response.prompt], [list(request.images)])
    tokens = idefics2_adapter.tokenizer.convert_ids_to_tokens(inputs["input_ids"][0])
    image_block = ["<fake_token_around_image>", *["<image>"] * TINY_LATENTS, "<fake_token_around_image>"]
    assert tokens[:3] == ["<s>", "User", ":"] and tokens[3 : 3 + len(image_block)] == image_block
    assert tokens[-4:] == ["<end_of_utterance>", "Ċ", "Assistant", ":"]
    assert response.usage.input_tokens == len(tokens)
    assert response.usage.image_tokens == TINY_LATENTS


def test_visual_tokens_are_the_resampler_latents_at_any_image_size(idefics2_adapter: Idefics2Adapter) -> None:
    from PIL import Image

    n_latents = idefics2_adapter.model.config.perceiver_config.resampler_n_latents
    assert idefics2_adapter.info.visual_tokens_per_image == n_latents == TINY_LATENTS
    requests = [
        UnderstandRequest(f"s{i}", (Image.new("RGB", size, (200, 10, 10)),), "Describe the image.")
        for i, size in enumerate([(10, 10), (300, 40), (640, 480)])
    ]
    assert {r.usage.image_tokens for r in idefics2_adapter.understand(requests, SETTINGS)} == {n_latents}


def test_info_parameter_groups_match_the_model(idefics2_adapter: Idefics2Adapter) -> None:
    inner = idefics2_adapter.model.model

    def count(module: object) -> int:
        return sum(p.numel() for p in module.parameters())  # type: ignore[attr-defined]

    params = idefics2_adapter.info.parameters
    assert params["vision"] == count(inner.vision_model)
    assert params["connector"] == count(inner.connector)
    assert params["llm"] == count(inner.text_model) + count(idefics2_adapter.model.lm_head)
    assert (
        params["total"]
        == count(idefics2_adapter.model)
        == params["vision"] + params["connector"] + params["llm"]
    )
    paradigm = idefics2_adapter.info.paradigm
    assert (paradigm.vision_encoder, paradigm.llm_backbone) == ("Idefics2VisionTransformer", "MistralModel")
    assert str(paradigm.connector) == "resampler"


def test_generation_stops_at_end_of_utterance(idefics2_adapter: Idefics2Adapter) -> None:
    tokenizer = idefics2_adapter.tokenizer
    eos = idefics2_adapter.model.generation_config.eos_token_id
    assert set(eos) == {tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids("<end_of_utterance>")}


def test_fidelity_against_direct_transformers(idefics2_adapter: Idefics2Adapter) -> None:
    for request in sample_requests(3):
        check_fidelity(idefics2_adapter, request, SETTINGS)


def test_batch_of_eight_equals_one_at_a_time(idefics2_adapter: Idefics2Adapter) -> None:
    requests = sample_requests(8)
    # The images keep their aspect ratio, so the batch pads them and masks the padding.
    inputs = idefics2_adapter.processor_inputs(["<image>x"] * 8, [list(r.images) for r in requests])
    assert not inputs["pixel_attention_mask"].all()
    check_batching(idefics2_adapter, requests, SETTINGS)


def test_two_images_in_one_prompt_batch_with_single_images(idefics2_adapter: Idefics2Adapter) -> None:
    pairs = sample_requests(3, images_per_request=2)
    mixed = [pairs[0], *sample_requests(2), pairs[2]]
    batched = check_batching(idefics2_adapter, mixed, SETTINGS)
    assert batched[0].prompt.startswith("User:<image><image>")
    assert [r.usage.image_tokens for r in batched] == [
        2 * TINY_LATENTS,
        TINY_LATENTS,
        TINY_LATENTS,
        2 * TINY_LATENTS,
    ]
