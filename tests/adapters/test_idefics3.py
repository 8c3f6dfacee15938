"""Idefics3 adapter on a tiny random checkpoint: contract, chat template, pixel-shuffle tokens, splitting."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from mllmbench.adapters.idefics3 import Idefics3Adapter
from mllmbench.adapters.tiny.idefics3 import IMAGE_TOKENS as TINY_IMAGE_TOKENS
from mllmbench.core.types import GenerationSettings, UnderstandRequest
from mllmbench.testing.adapter_contract import (
    check_batching,
    check_fidelity,
    sample_requests,
    synthetic_image,
)

SETTINGS = GenerationSettings(max_new_tokens=8)


def direct_inputs(processor: Any, prompt: str, images: list[Any]) -> Mapping[str, Any]:
    """transformers called directly: the rendered template already holds the BOS token."""
    return processor(text=[prompt], images=images, return_tensors="pt", add_special_tokens=False)  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def tiny_idefics3_dir(tiny_checkpoint: Callable[[str], Path]) -> Path:
    """The session's tiny idefics3 checkpoint (shared: copy it before changing files)."""
    return tiny_checkpoint("idefics3")


@pytest.fixture(scope="module")
def idefics3_adapter(tiny_idefics3_dir: Path) -> Iterator[Idefics3Adapter]:
    """The adapter loaded on the tiny checkpoint, float32 on the CPU."""
    adapter = Idefics3Adapter(str(tiny_idefics3_dir))
    adapter.load()
    yield adapter
    adapter.close()


@pytest.fixture(scope="module")
def splitting_adapter(
    tiny_idefics3_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Idefics3Adapter]:
    """The same weights with image splitting on (as in the real Idefics3 checkpoints)."""
    copy = Path(shutil.copytree(tiny_idefics3_dir, tmp_path_factory.mktemp("split") / "ckpt"))
    config_file = copy / "processor_config.json"
    config = json.loads(config_file.read_text())
    config["image_processor"]["do_image_splitting"] = True
    config_file.write_text(json.dumps(config))
    adapter = Idefics3Adapter(str(copy))
    adapter.load()
    yield adapter
    adapter.close()


def test_prompt_follows_the_idefics3_chat_template(idefics3_adapter: Idefics3Adapter) -> None:
    request = UnderstandRequest("a", (synthetic_image(0),), "What colour is the circle?")
    [response] = idefics3_adapter.understand([request], SETTINGS)
    assert (
        response.prompt
        == "<|begin_of_text|>User:<image>What colour is the circle?<end_of_utterance>\nAssistant:"
    )
    inputs = idefics3_adapter.processor_inputs([response.prompt], [list(request.images)])
    tokens = idefics3_adapter.tokenizer.convert_ids_to_tokens(inputs["input_ids"][0])
    image_block = [
        "<fake_token_around_image>",
        "<global-img>",
        *["<image>"] * TINY_IMAGE_TOKENS,
        "<fake_token_around_image>",
    ]
    assert (
        tokens[:3] == ["<|begin_of_text|>", "User", ":"] and tokens[3 : 3 + len(image_block)] == image_block
    )
    assert tokens[-4:] == ["<end_of_utterance>", "Ċ", "Assistant", ":"]
    assert response.usage.input_tokens == len(tokens)
    assert response.usage.image_tokens == TINY_IMAGE_TOKENS == idefics3_adapter.info.visual_tokens_per_image


def test_one_bos_whether_or_not_the_template_writes_it(idefics3_adapter: Idefics3Adapter) -> None:
    tokenizer, image = idefics3_adapter.tokenizer, [[synthetic_image(0)]]
    prompt = idefics3_adapter.render_prompt("Hi?", 1)
    for text in (prompt, prompt.removeprefix(tokenizer.bos_token)):
        ids = idefics3_adapter.processor_inputs([text], image)["input_ids"][0].tolist()
        assert ids[0] == tokenizer.bos_token_id and ids.count(tokenizer.bos_token_id) == 1, text
    # What a plain processor call on the rendered template would have given.
    doubled = idefics3_adapter.processor(text=[prompt], images=image[0], return_tensors="pt")
    assert doubled["input_ids"][0, :2].tolist() == [tokenizer.bos_token_id] * 2


def test_pixel_shuffle_token_count(idefics3_adapter: Idefics3Adapter) -> None:
    config = idefics3_adapter.model.config
    patches = (config.vision_config.image_size // config.vision_config.patch_size) ** 2
    assert patches // config.scale_factor**2 == TINY_IMAGE_TOKENS == idefics3_adapter.processor.image_seq_len
    projection = idefics3_adapter.model.model.connector.modality_projection.proj
    assert projection.in_features == config.vision_config.hidden_size * config.scale_factor**2


def test_info_parameter_groups_match_the_model(idefics3_adapter: Idefics3Adapter) -> None:
    inner = idefics3_adapter.model.model

    def count(module: object) -> int:
        return sum(p.numel() for p in module.parameters())  # type: ignore[attr-defined]

    params = idefics3_adapter.info.parameters
    assert params["vision"] == count(inner.vision_model)
    assert params["connector"] == count(inner.connector)
    assert params["llm"] == count(inner.text_model) + count(idefics3_adapter.model.lm_head)
    assert (
        params["total"]
        == count(idefics3_adapter.model)
        == params["vision"] + params["connector"] + params["llm"]
    )
    paradigm = idefics3_adapter.info.paradigm
    assert (paradigm.vision_encoder, paradigm.llm_backbone) == ("Idefics3VisionTransformer", "LlamaModel")
    assert str(paradigm.connector) == "resampler"


def test_fidelity_against_direct_transformers(idefics3_adapter: Idefics3Adapter) -> None:
    for request in sample_requests(3):
        check_fidelity(idefics3_adapter, request, SETTINGS, direct_inputs=direct_inputs)


def test_image_splitting_adds_row_col_tiles(splitting_adapter: Idefics3Adapter) -> None:
    from PIL import Image

    # Longest edge -> 64, then tiles of 32: 100x30 -> 64x19 -> 1x2 tiles; 60x60 -> 2x2 tiles.
    wide, square = Image.new("RGB", (100, 30), (10, 200, 10)), Image.new("RGB", (60, 60), (10, 10, 200))
    requests = [UnderstandRequest("w", (wide,), "Describe the image."), *sample_requests(2)]
    requests.append(UnderstandRequest("q", (square,), "What colour is the circle?"))
    batched = check_batching(splitting_adapter, requests, SETTINGS)
    assert batched[0].usage.image_tokens == (1 * 2 + 1) * TINY_IMAGE_TOKENS
    assert batched[-1].usage.image_tokens == (2 * 2 + 1) * TINY_IMAGE_TOKENS
    inputs = splitting_adapter.processor_inputs([batched[0].prompt], [[wide]])
    tokens = splitting_adapter.tokenizer.convert_ids_to_tokens(inputs["input_ids"][0])
    assert [t for t in tokens if t.startswith("<row_") or t == "<global-img>"] == [
        "<row_1_col_1>",
        "<row_1_col_2>",
        "<global-img>",
    ]
    # The 336x336 probe is upscaled to 64x64: 2x2 tiles and the global view.
    assert splitting_adapter.info.visual_tokens_per_image == 5 * TINY_IMAGE_TOKENS
    check_fidelity(splitting_adapter, requests[0], SETTINGS, direct_inputs=direct_inputs)
