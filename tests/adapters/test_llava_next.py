"""LLaVA-NeXT adapter on a tiny random checkpoint: contract, any-resolution token counts, fidelity, batching."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mllmbench.adapters.hf import checkpoint_hash
from mllmbench.adapters.llava_next import LlavaNextAdapter
from mllmbench.adapters.tiny.llava_next import BASE_TOKENS as TINY_BASE_TOKENS
from mllmbench.cli.commands.tiny import MARKER
from mllmbench.core.types import GenerationSettings, UnderstandRequest
from mllmbench.testing.adapter_contract import (
    check_batching,
    check_fidelity,
    sample_requests,
    synthetic_image,
)

SETTINGS = GenerationSettings(max_new_tokens=8)

# Image tokens of the tiny checkpoint (32 px tiles, 8 px patches: 4x4 patches per tile; grids
# 1x2, 2x1, 2x2), worked out by hand from the LLaVA-NeXT recipe: the base view gives 16 tokens;
# the best grid's patches, cut back to the image's aspect ratio, give rows x cols tokens plus
# one newline per row.
ANYRES_TOKENS = {
    (336, 336): 16 + 8 * 8 + 8,  # square: 2x2 grid, 8x8 patches, nothing cut, 8 newlines
    (64, 32): 16 + 4 * 8 + 4,  # wide 2:1: 1x2 grid, 4 rows of 8
    (32, 64): 16 + 8 * 4 + 8,  # tall 1:2: 2x1 grid, 8 rows of 4 (more newlines than wide)
    (100, 30): 16 + 2 * 8 + 2,  # 10:3 in a 1x2 grid: 30 * 8/100 = 2.4 -> 2 of 4 rows kept
}


@pytest.fixture(scope="module")
def tiny_dir(tiny_checkpoint: Callable[[str], Path]) -> Path:
    """The session's tiny llava_next checkpoint (shared: copy it before changing files)."""
    return tiny_checkpoint("llava_next")


@pytest.fixture(scope="module")
def adapter(tiny_dir: Path) -> Iterator[LlavaNextAdapter]:
    """The adapter loaded on the tiny checkpoint, float32 on the CPU."""
    loaded = LlavaNextAdapter(str(tiny_dir))
    loaded.load()
    yield loaded
    loaded.close()


def test_prompt_follows_the_llava_v16_mistral_template(adapter: LlavaNextAdapter) -> None:
    request = UnderstandRequest("a", (synthetic_image(0),), "What colour is the circle?")
    [response] = adapter.understand([request], SETTINGS)
    assert response.prompt == "[INST] <image>\nWhat colour is the circle? [/INST]"
    text_ids = adapter.tokenizer(response.prompt)["input_ids"]
    assert text_ids[0] == adapter.tokenizer.bos_token_id
    # The one <image> placeholder becomes image_tokens positions.
    assert response.usage.input_tokens == len(text_ids) - 1 + response.usage.image_tokens


@pytest.mark.parametrize(("size", "expected"), sorted(ANYRES_TOKENS.items()))
def test_image_tokens_follow_the_any_resolution_grid(
    adapter: LlavaNextAdapter, size: tuple[int, int], expected: int
) -> None:
    from PIL import Image

    request = UnderstandRequest("a", (Image.new("RGB", size, (200, 40, 40)),), "Describe the image.")
    [response] = adapter.understand([request], GenerationSettings(max_new_tokens=1))
    assert response.usage.image_tokens == expected


def test_two_images_in_one_prompt(adapter: LlavaNextAdapter) -> None:
    from PIL import Image

    images = (Image.new("RGB", (64, 32), (200, 40, 40)), Image.new("RGB", (32, 64), (40, 40, 200)))
    response = check_fidelity(adapter, UnderstandRequest("two", images, "Describe the image."), SETTINGS)
    assert response.prompt == "[INST] <image>\n<image>\nDescribe the image. [/INST]"
    assert response.usage.image_tokens == ANYRES_TOKENS[(64, 32)] + ANYRES_TOKENS[(32, 64)]


def test_visual_tokens_per_image_is_the_probe_images_count(adapter: LlavaNextAdapter) -> None:
    assert adapter.probe_image_size == (336, 336)
    assert adapter.info.visual_tokens_per_image == ANYRES_TOKENS[(336, 336)]
    assert adapter.model.config.image_seq_length == TINY_BASE_TOKENS


def test_info_parameter_groups_match_the_model(adapter: LlavaNextAdapter) -> None:
    inner = adapter.model.model

    def count(module: object) -> int:
        return sum(p.numel() for p in module.parameters())  # type: ignore[attr-defined]

    params = adapter.info.parameters
    assert params["vision"] == count(inner.vision_tower)
    assert params["connector"] == count(inner.multi_modal_projector) + inner.image_newline.numel()
    assert params["llm"] == count(inner.language_model) + count(adapter.model.lm_head)
    assert "other" not in params
    assert params["total"] == count(adapter.model) == params["vision"] + params["connector"] + params["llm"]
    paradigm = adapter.info.paradigm
    assert (paradigm.vision_encoder, paradigm.llm_backbone) == ("CLIPVisionModel", "MistralModel")
    assert str(paradigm.connector) == "mlp"


def test_fidelity_against_direct_transformers(adapter: LlavaNextAdapter) -> None:
    for request in sample_requests(3):
        check_fidelity(adapter, request, SETTINGS)


def test_batch_of_eight_equals_one_at_a_time(adapter: LlavaNextAdapter) -> None:
    requests = sample_requests(8)
    batched = check_batching(adapter, requests, SETTINGS)
    # Different image sizes give different tile counts and token counts inside one batch.
    assert len({r.usage.image_tokens for r in batched}) > 1


def test_tiny_command_is_deterministic(
    tmp_path: Path, tiny_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from mllmbench.cli.main import main

    again, other = tmp_path / "again", tmp_path / "other"
    assert main(["tiny", "llava_next", "--out", str(again)]) == 0
    assert capsys.readouterr().out.strip() == str(again)
    assert json.loads((again / MARKER).read_text()) == {"family": "llava_next", "seed": 0}
    for name in ("model.safetensors", "tokenizer.json", "config.json", "processor_config.json"):
        assert (again / name).read_bytes() == (tiny_dir / name).read_bytes(), name
    LlavaNextAdapter.build_tiny(other, seed=1)
    assert checkpoint_hash(again) == checkpoint_hash(tiny_dir) != checkpoint_hash(other)
