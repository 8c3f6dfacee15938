"""Chameleon adapter on a tiny random checkpoint: contract, fidelity, batching, VQ image tokens."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mllmbench.adapters.chameleon import (
    CHAMELEON_PROMPT_TEMPLATE,
    ChameleonAdapter,
)
from mllmbench.adapters.tiny.chameleon import CODEBOOK_SIZE as TINY_CODEBOOK_SIZE
from mllmbench.adapters.tiny.chameleon import IMAGE_TOKENS as TINY_IMAGE_TOKENS
from mllmbench.adapters.tiny.chameleon import image_code_token
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
    """The session's tiny chameleon checkpoint (shared: copy it before changing files)."""
    return tiny_checkpoint("chameleon")


@pytest.fixture(scope="module")
def adapter(tiny_dir: Path) -> Iterator[ChameleonAdapter]:
    """The adapter loaded on the tiny checkpoint, float32 on the CPU."""
    loaded = ChameleonAdapter(str(tiny_dir))
    loaded.load()
    yield loaded
    loaded.close()


def test_prompt_and_image_tokens_follow_the_transformers_example(adapter: ChameleonAdapter) -> None:
    question = "What colour is the circle?"
    [response] = adapter.understand([UnderstandRequest("a", (synthetic_image(0),), question)], SETTINGS)
    assert response.prompt == f"{question}<image>"
    expanded = f"{question}<racm3:break>{'<image>' * TINY_IMAGE_TOKENS}<eoss><reserved08706>"
    ids = adapter.tokenizer(expanded)["input_ids"]
    assert ids[0] == adapter.tokenizer.bos_token_id
    inputs = adapter.processor_inputs([response.prompt], [[synthetic_image(0)]])
    assert inputs["input_ids"][0].tolist() == ids
    assert response.usage.image_tokens == TINY_IMAGE_TOKENS == adapter.info.visual_tokens_per_image
    assert response.usage.input_tokens == len(ids)
    assert response.usage.profile is not None and response.usage.profile.vision_seconds


def test_images_become_code_tokens_of_the_vocabulary(adapter: ChameleonAdapter) -> None:
    import torch

    model, tokenizer = adapter.model, adapter.tokenizer
    assert [image_code_token(c) for c in (0, 7, 12, 63)] == ["IMGIMGAZ", "IMGIMGHZ", "IMGIMGBCZ", "IMGIMGGDZ"]
    codes = []
    for index in range(4):
        pixels = adapter.processor.image_processor(synthetic_image(index), return_tensors="pt")[
            "pixel_values"
        ]
        with torch.inference_mode():
            vq = model.model.vqmodel.encode(pixels).image_tokens.flatten().tolist()
            token_ids = model.model.get_image_tokens(pixels)[0].tolist()
        assert len(token_ids) == TINY_IMAGE_TOKENS and all(0 <= c < TINY_CODEBOOK_SIZE for c in vq)
        # Each VQ code is the vocabulary token named after it.
        assert tokenizer.convert_ids_to_tokens(token_ids) == [image_code_token(c) for c in vq]
        codes.append(tuple(vq))
    assert len(set(codes)) == 4, "different images gave the same code grid"


def test_info_parameter_groups_match_the_model(adapter: ChameleonAdapter) -> None:
    model = adapter.model
    inner = model.model

    def count(*modules: Any) -> int:
        return sum(p.numel() for module in modules for p in module.parameters())

    params = adapter.info.parameters
    assert params["vision"] == count(inner.vqmodel)
    assert params["connector"] == 0
    assert params["llm"] == count(inner.embed_tokens, inner.layers, inner.norm, model.lm_head)
    assert params["total"] == count(model) == params["vision"] + params["llm"]
    paradigm = adapter.info.paradigm
    assert (paradigm.vision_encoder, paradigm.llm_backbone) == ("ChameleonVQVAE", "ChameleonDecoderLayer")
    assert str(paradigm.connector) == "early_fusion"
    assert adapter.info.chat_template == CHAMELEON_PROMPT_TEMPLATE


def test_fidelity_against_direct_transformers(adapter: ChameleonAdapter) -> None:
    for request in sample_requests(3):
        check_fidelity(adapter, request, SETTINGS)


def test_batch_of_eight_equals_one_at_a_time(adapter: ChameleonAdapter) -> None:
    requests = sample_requests(8)
    assert len({r.text for r in requests}) == 8 and len({r.images[0].size for r in requests}) > 1
    responses = check_batching(adapter, requests, SETTINGS)
    # Image-code tokens are masked out of the logits: the answers are text.
    assert not any("IMGIMG" in r.text for r in responses)


def test_two_images_in_one_prompt(adapter: ChameleonAdapter) -> None:
    images = (synthetic_image(0), synthetic_image(5))
    [response] = adapter.understand([UnderstandRequest("two", images, "Describe the image.")], SETTINGS)
    assert response.prompt == "Describe the image.<image><image>"
    assert response.usage.image_tokens == 2 * TINY_IMAGE_TOKENS
