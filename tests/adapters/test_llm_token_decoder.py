"""SEED-style LLM tokens + diffusion decoder on the tiny Emu3 and tiny decoder: both stages, costs,
config errors."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mllmbench.adapters.emu3 import Emu3Adapter
from mllmbench.adapters.llm_token_decoder import CONFIG_FILE, LLMTokenDecoderAdapter
from mllmbench.adapters.tiny.llm_token_decoder import DECODER_STEPS
from mllmbench.core.errors import ConfigError
from mllmbench.core.types import GenerateRequest, ImageGenerationSettings

SETTINGS = ImageGenerationSettings(guidance_scale=2.0)


@pytest.fixture(scope="module")
def tiny_dir(tiny_checkpoint: Callable[[str], Path]) -> Path:
    """The session's tiny checkpoint (shared: copy it before changing files)."""
    return tiny_checkpoint("llm_token_decoder")


@pytest.fixture(scope="module")
def adapter(tiny_dir: Path) -> Iterator[LLMTokenDecoderAdapter]:
    a = LLMTokenDecoderAdapter(str(tiny_dir))
    a.load()
    yield a
    a.close()


def test_the_decoder_renders_the_codes_the_llm_samples(
    adapter: LLMTokenDecoderAdapter, tiny_dir: Path
) -> None:
    """Stage 1 is Emu3's own sampling (same codes as the emu3 adapter for the seed); the decoder's
    image depends on those codes, and the costs add both stages."""
    request = GenerateRequest("0", "a red circle", seed=3)
    response = adapter.generate_images([request], SETTINGS)[0]
    emu3 = Emu3Adapter(str(tiny_dir / "llm"))
    emu3.load()
    knobs = emu3.image_generation_knobs(SETTINGS)
    grid = emu3.sample_codes(request, knobs, emu3._image_generation_config(knobs))  # noqa: SLF001
    emu3.close()
    usage = response.usage
    assert response.settings["code_grid"] == [grid.height, grid.width]
    assert usage.image_tokens == grid.height * grid.width
    assert usage.steps == grid.steps + DECODER_STEPS
    assert usage.sequential_calls == grid.calls + DECODER_STEPS
    assert usage.nfe == 2 * grid.steps + 2 * DECODER_STEPS and usage.guidance_multiplier == 2
    assert set(usage.stage_seconds) == {"tokens", "render"}
    # Rendering other codes with the same noise gives another image: the codes condition the decoder.
    import torch

    maps = [
        adapter.decoder.conditioning(grid.codes),
        adapter.decoder.conditioning(torch.zeros_like(grid.codes)),
    ]
    assert maps[0].shape[-1] == adapter.decoder.unet.config.sample_size
    assert not torch.equal(maps[0], maps[1])


def test_same_seed_same_image_other_seed_other_image(adapter: LLMTokenDecoderAdapter) -> None:
    requests = [GenerateRequest("a", "a blue square", seed=5), GenerateRequest("b", "a blue square", seed=6)]
    first = adapter.generate_images(requests, SETTINGS)
    again = adapter.generate_images(requests[:1], SETTINGS)
    assert first[0].images[0].tobytes() == again[0].images[0].tobytes()
    assert first[0].images[0].tobytes() != first[1].images[0].tobytes()
    assert first[0].settings["seed"] == 5 and first[0].settings["num_inference_steps"] == DECODER_STEPS


def test_each_code_conditions_the_latent_positions_under_it() -> None:
    import torch

    from mllmbench.adapters.llm_token_decoder import code_map

    features = torch.arange(2 * 4 * 3, dtype=torch.float32).reshape(2, 4, 3)  # a 2x2 grid, 3 channels
    maps = code_map(features, 4)
    assert maps.shape == (2, 3, 4, 4)
    assert torch.equal(maps[1, :, 0, 2], features[1, 1])  # code (0, 1) covers rows 0-1, columns 2-3
    assert torch.equal(maps[1, :, 3, 3], features[1, 3])
    with pytest.raises(ValueError, match="square grid"):
        code_map(torch.zeros(1, 3, 2), 4)


def test_num_inference_steps_sets_the_decoder_steps(adapter: LLMTokenDecoderAdapter) -> None:
    settings = ImageGenerationSettings(guidance_scale=1.0, num_inference_steps=2)
    response = adapter.generate_images([GenerateRequest("0", "a star", seed=1)], settings)[0]
    assert response.settings["num_inference_steps"] == 2
    # Unguided LLM: one call per token; the decoder keeps its own guidance (two branches, one call).
    assert response.usage.sequential_calls == response.usage.steps
    assert response.usage.nfe == (response.usage.steps - 2) + 2 * 2


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"decoder_steps": 0}, "decoder_steps must be a positive integer"),
        ({"decoder_guidance_scale": 0.5}, "decoder_guidance_scale must be a number >= 1"),
        ({"llm": ""}, "llm must be a non-empty string"),
        ({"extra": 1}, "unknown keys"),
        ({"vae": "missing"}, "vae 'missing' is not a directory"),
    ],
)
def test_config_errors_name_the_file_and_key(
    tiny_dir: Path, tmp_path: Path, change: dict, message: str
) -> None:
    copy = tmp_path / "ckpt"
    shutil.copytree(tiny_dir, copy)
    config = json.loads((copy / CONFIG_FILE).read_text())
    (copy / CONFIG_FILE).write_text(json.dumps({**config, **change}))
    with pytest.raises(ConfigError, match=message) as caught:
        LLMTokenDecoderAdapter(str(copy)).load()
    assert str(copy / CONFIG_FILE) in str(caught.value)


def test_a_directory_without_the_config_file_says_what_it_needs(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=f"{CONFIG_FILE} not found"):
        LLMTokenDecoderAdapter(str(tmp_path)).load()
