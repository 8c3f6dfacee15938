"""PaliGemma adapter on a tiny random checkpoint: contract, prefix prompt, fidelity, batching."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mllmbench.adapters.paligemma import PaliGemmaAdapter
from mllmbench.adapters.tiny.paligemma import IMAGE_TOKENS as TINY_IMAGE_TOKENS
from mllmbench.core.types import GenerationSettings, UnderstandRequest
from mllmbench.testing.adapter_contract import (
    check_fidelity,
    sample_requests,
    synthetic_image,
)

SETTINGS = GenerationSettings(max_new_tokens=8)


@pytest.fixture(scope="module")
def tiny_dir(tiny_checkpoint: Callable[[str], Path]) -> Path:
    """The session's tiny paligemma checkpoint (shared: copy it before changing files)."""
    return tiny_checkpoint("paligemma")


@pytest.fixture(scope="module")
def adapter(tiny_dir: Path) -> Iterator[PaliGemmaAdapter]:
    """The adapter loaded on the tiny checkpoint, float32 on the CPU."""
    loaded = PaliGemmaAdapter(str(tiny_dir))
    loaded.load()
    yield loaded
    loaded.close()


def test_prompt_is_the_suite_text_after_the_image_tokens(adapter: PaliGemmaAdapter) -> None:
    request = UnderstandRequest("a", (synthetic_image(0),), "What colour is the circle?")
    [response] = adapter.understand([request], SETTINGS)
    assert response.prompt == "<image>What colour is the circle?"
    assert adapter.info.chat_template is None
    tokenizer = adapter.tokenizer
    text_ids = tokenizer("What colour is the circle?", add_special_tokens=False)["input_ids"]
    # The processor builds <image> x 16, <bos>, the text, "\n" (PaliGemma's prefix).
    inputs = adapter.processor_inputs([response.prompt], [list(request.images)])
    expected = (
        [tokenizer.convert_tokens_to_ids("<image>")] * TINY_IMAGE_TOKENS
        + [tokenizer.bos_token_id]
        + text_ids
        + tokenizer("\n", add_special_tokens=False)["input_ids"]
    )
    assert inputs["input_ids"][0].tolist() == expected
    assert "labels" not in inputs
    assert inputs["token_type_ids"][0].tolist() == [0] * len(expected), "the whole prompt is the prefix"
    assert response.usage.image_tokens == TINY_IMAGE_TOKENS == adapter.info.visual_tokens_per_image
    assert response.usage.input_tokens == len(expected)


def test_every_image_size_gives_the_same_token_count(adapter: PaliGemmaAdapter) -> None:
    from PIL import Image

    requests = [
        UnderstandRequest(f"{w}x{h}", (Image.new("RGB", (w, h), (40, 60, 220)),), "Describe the image.")
        for w, h in ((336, 336), (100, 30), (10, 10))
    ]
    responses = adapter.understand(requests, GenerationSettings(max_new_tokens=1))
    assert [r.usage.image_tokens for r in responses] == [TINY_IMAGE_TOKENS] * 3


def test_two_images_in_one_prefix(adapter: PaliGemmaAdapter) -> None:
    request = UnderstandRequest("two", (synthetic_image(0), synthetic_image(1)), "Describe the image.")
    response = check_fidelity(adapter, request, SETTINGS)
    assert response.prompt == "<image><image>Describe the image."
    assert response.usage.image_tokens == 2 * TINY_IMAGE_TOKENS


def test_info_parameter_groups_match_the_model(adapter: PaliGemmaAdapter) -> None:
    inner = adapter.model.model

    def count(module: object) -> int:
        return sum(p.numel() for p in module.parameters())  # type: ignore[attr-defined]

    params = adapter.info.parameters
    assert params["vision"] == count(inner.vision_tower)
    assert params["connector"] == count(inner.multi_modal_projector)
    # The output head is tied to the input embeddings: counted once, with the LLM.
    assert adapter.model.lm_head.weight is inner.language_model.embed_tokens.weight
    assert params["llm"] == count(inner.language_model)
    assert params["total"] == count(adapter.model) == params["vision"] + params["connector"] + params["llm"]
    paradigm = adapter.info.paradigm
    assert (paradigm.vision_encoder, paradigm.llm_backbone) == ("SiglipVisionModel", "GemmaModel")
    assert str(paradigm.connector) == "mlp"


def test_fidelity_against_direct_transformers(adapter: PaliGemmaAdapter) -> None:
    # The direct path is PaliGemma's documented call: processor outputs (labels included) to generate.
    for request in sample_requests(3):
        check_fidelity(adapter, request, SETTINGS)
