"""Qwen2-VL and Qwen2.5-VL adapters on tiny random checkpoints: contract, dynamic-resolution counts,
fidelity (M-RoPE inputs included), batching."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mllmbench.adapters.qwen2_vl import Qwen2VLAdapter, Qwen25VLAdapter
from mllmbench.core.types import GenerationSettings, UnderstandRequest
from mllmbench.testing.adapter_contract import (
    check_fidelity,
    sample_requests,
    synthetic_image,
)

SETTINGS = GenerationSettings(max_new_tokens=8)

# Visual tokens per (width, height) for the tiny processor (8 px patches merged 2x2, so sides are
# multiples of 16; 256 to 4096 pixels), worked out by hand from Qwen2-VL's smart_resize.
DYNAMIC_TOKENS = {
    (336, 336): 4 * 4,  # over budget: scaled to 64x64
    (48, 32): 3 * 2,  # already multiples of 16
    (100, 30): 6 * 2,  # rounded to 96x32
    (10, 10): 1,  # under budget: scaled up to 16x16
    (300, 150): 5 * 2,  # over budget: beta = sqrt(45000 / 4096), floored to 80x32
}

FAMILIES: dict[str, type[Qwen2VLAdapter]] = {"qwen2_vl": Qwen2VLAdapter, "qwen2_5_vl": Qwen25VLAdapter}


@pytest.fixture(scope="module", params=sorted(FAMILIES))
def family(request: pytest.FixtureRequest) -> type[Qwen2VLAdapter]:
    """Each Qwen family's adapter class in turn."""
    return FAMILIES[request.param]


@pytest.fixture(scope="module")
def tiny_dir(family: type[Qwen2VLAdapter], tiny_checkpoint: Callable[[str], Path]) -> Path:
    """The session's tiny checkpoint of the family (shared: copy it before changing files)."""
    return tiny_checkpoint(family.name)


@pytest.fixture(scope="module")
def adapter(family: type[Qwen2VLAdapter], tiny_dir: Path) -> Iterator[Qwen2VLAdapter]:
    """The adapter loaded on the tiny checkpoint, float32 on the CPU."""
    loaded = family(str(tiny_dir))
    loaded.load()
    yield loaded
    loaded.close()


def test_prompt_follows_the_qwen_chat_template(adapter: Qwen2VLAdapter) -> None:
    request = UnderstandRequest("a", (synthetic_image(0),), "What colour is the circle?")
    [response] = adapter.understand([request], SETTINGS)
    assert response.prompt == (
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
        "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>What colour is the circle?<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    text_ids = adapter.tokenizer(response.prompt)["input_ids"]
    pad_id = adapter.tokenizer.convert_tokens_to_ids("<|image_pad|>")
    assert text_ids.count(pad_id) == 1 and adapter.tokenizer.bos_token is None
    # The one <|image_pad|> becomes image_tokens positions; the vision markers stay single tokens.
    assert response.usage.input_tokens == len(text_ids) - 1 + response.usage.image_tokens


def test_image_tokens_follow_the_dynamic_resolution(adapter: Qwen2VLAdapter) -> None:
    from PIL import Image

    sizes = sorted(DYNAMIC_TOKENS)
    requests = [
        UnderstandRequest(f"{w}x{h}", (Image.new("RGB", (w, h), (30, 160, 40)),), "Describe the image.")
        for w, h in sizes
    ]
    responses = adapter.understand(requests, GenerationSettings(max_new_tokens=1))
    assert [r.usage.image_tokens for r in responses] == [DYNAMIC_TOKENS[s] for s in sizes]
    assert adapter.info.visual_tokens_per_image == DYNAMIC_TOKENS[adapter.probe_image_size]


def test_two_images_in_one_prompt(adapter: Qwen2VLAdapter) -> None:
    from PIL import Image

    images = (Image.new("RGB", (48, 32), (200, 40, 40)), Image.new("RGB", (100, 30), (40, 40, 200)))
    response = check_fidelity(adapter, UnderstandRequest("two", images, "Describe the image."), SETTINGS)
    block = "<|vision_start|><|image_pad|><|vision_end|>"
    assert f"<|im_start|>user\n{block}{block}Describe the image.<|im_end|>" in response.prompt
    assert response.usage.image_tokens == DYNAMIC_TOKENS[(48, 32)] + DYNAMIC_TOKENS[(100, 30)]


def test_processor_is_the_real_one_with_its_video_processor(adapter: Qwen2VLAdapter) -> None:
    processor = adapter.processor
    assert (
        type(processor).__name__
        == {"qwen2_vl": "Qwen2VLProcessor", "qwen2_5_vl": "Qwen2_5_VLProcessor"}[adapter.name]
    )
    assert type(processor.video_processor).__name__ == "Qwen2VLVideoProcessor"
    assert processor.video_processor.patch_size == processor.image_processor.patch_size == 8
    inputs = adapter.processor_inputs([adapter.render_prompt("?", 1)], [[synthetic_image(1)]])
    # M-RoPE needs mm_token_type_ids: 1 exactly at the image positions.
    marked = inputs["mm_token_type_ids"].bool()
    assert (marked == (inputs["input_ids"] == adapter.image_token_id())).all() and marked.any()


def test_info_parameter_groups_match_the_model(adapter: Qwen2VLAdapter) -> None:
    inner = adapter.model.model

    def count(module: object) -> int:
        return sum(p.numel() for p in module.parameters())  # type: ignore[attr-defined]

    params = adapter.info.parameters
    assert params["connector"] == count(inner.visual.merger) > 0
    assert params["vision"] == count(inner.visual) - count(inner.visual.merger)
    assert params["llm"] == count(inner.language_model) + count(adapter.model.lm_head)
    assert "other" not in params
    assert params["total"] == count(adapter.model) == params["vision"] + params["connector"] + params["llm"]
    paradigm = adapter.info.paradigm
    assert paradigm.vision_encoder == type(inner.visual).__name__
    assert paradigm.llm_backbone == type(inner.language_model).__name__
    assert str(paradigm.connector) == "mlp"


def test_fidelity_against_direct_transformers(adapter: Qwen2VLAdapter) -> None:
    for request in sample_requests(3):
        check_fidelity(adapter, request, SETTINGS)
