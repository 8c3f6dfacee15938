"""Diffusion baseline adapter on a tiny random Stable Diffusion pipeline: contract, fidelity, knobs, NFE."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mllmbench.adapters.diffusion import DiffusionAdapter
from mllmbench.adapters.tiny.diffusion import IMAGE_SIZE as TINY_IMAGE_SIZE
from mllmbench.cli.commands.tiny import MARKER, ensure_tiny
from mllmbench.core.errors import ConfigError
from mllmbench.core.types import GenerateRequest, ImageGenerationSettings
from mllmbench.testing.adapter_contract import generation_requests, image_bytes

SETTINGS = ImageGenerationSettings(num_inference_steps=3, guidance_scale=4.0)
BATCH_TOLERANCE = 2
"""Largest RGB difference allowed between an image drawn alone and in a batch (float rounding)."""


@pytest.fixture(scope="module")
def tiny_sd(tiny_checkpoint: Callable[[str], Path]) -> Path:
    """The session's tiny diffusion checkpoint (shared: copy it before changing files)."""
    return tiny_checkpoint("diffusion")


@pytest.fixture(scope="module")
def adapter(tiny_sd: Path) -> Iterator[DiffusionAdapter]:
    """The adapter loaded on the tiny pipeline, float32 on the CPU."""
    a = DiffusionAdapter(str(tiny_sd))
    a.load()
    yield a
    a.close()


def test_images_equal_the_pipeline_called_directly(adapter: DiffusionAdapter) -> None:
    """Fidelity: the adapter's image is what diffusers draws with the same knobs and generator."""
    import torch
    from diffusers import StableDiffusionPipeline

    request = GenerateRequest("x", "a red circle on the left", 1234)
    [response] = adapter.generate_images([request], SETTINGS)
    pipe = StableDiffusionPipeline.from_pretrained(adapter.model_id, local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    direct = pipe(
        prompt=[request.text],
        num_inference_steps=3,
        guidance_scale=4.0,
        generator=[torch.Generator().manual_seed(1234)],
    ).images[0]
    assert image_bytes(response.images[0]) == image_bytes(direct)
    assert response.prompt == request.text and response.rewritten_prompt is None


def test_knobs_are_resolved_and_recorded(adapter: DiffusionAdapter) -> None:
    # Unset knobs take Stable Diffusion's own defaults, read from the pipeline's signature.
    assert adapter.resolve_settings(ImageGenerationSettings()) == {
        "num_inference_steps": 50,
        "guidance_scale": 7.5,
    }
    [drawn] = adapter.generate_images(generation_requests(1), ImageGenerationSettings(num_inference_steps=2))
    assert drawn.settings["num_inference_steps"] == 2 and drawn.settings["guidance_scale"] == 7.5
    assert drawn.settings["scheduler"] == "DDIMScheduler" and drawn.settings["negative_prompt"] == ""
    assert (drawn.settings["width"], drawn.settings["height"]) == (TINY_IMAGE_SIZE, TINY_IMAGE_SIZE)
    assert drawn.settings["temperature"] is None and drawn.settings["top_k"] is None
    assert drawn.usage.nfe == 4 and drawn.usage.guidance_multiplier == 2
    [big] = adapter.generate_images(
        generation_requests(1), ImageGenerationSettings(num_inference_steps=2, width=48, height=64)
    )
    assert big.images[0].size == (48, 64) and big.settings["width"] == 48


def test_nfe_is_counted_with_and_without_guidance(adapter: DiffusionAdapter) -> None:
    requests = generation_requests(2)
    guided = adapter.generate_images(
        requests, ImageGenerationSettings(num_inference_steps=3, guidance_scale=4.0)
    )
    plain = adapter.generate_images(
        requests, ImageGenerationSettings(num_inference_steps=3, guidance_scale=1.0)
    )
    assert [r.usage.nfe for r in guided] == [6, 6] and guided[0].usage.guidance_multiplier == 2
    assert [r.usage.nfe for r in plain] == [3, 3] and plain[0].usage.guidance_multiplier == 1
    # One denoiser call per step either way: the guided halves share a call.
    assert [r.usage.sequential_calls for r in guided + plain] == [3, 3, 3, 3]
    assert image_bytes(guided[0].images[0]) != image_bytes(plain[0].images[0])
    assert guided[0].usage.stage_seconds["draw"] == guided[0].usage.batch_seconds
    # Prompt tokens as the CLIP tokenizer reads them: one per character plus BOS and EOS.
    assert guided[0].usage.input_tokens == len(requests[0].text.replace(" ", "")) + 2


def test_tiny_cli_and_missing_hub_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLLMBENCH_CACHE", str(tmp_path / "cache"))
    out = subprocess.run(
        [sys.executable, "-m", "mllmbench", "tiny", "diffusion", "--out", str(tmp_path / "t")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(out.stdout.strip()) == tmp_path / "t"
    assert (tmp_path / "t" / "model_index.json").is_file() and (tmp_path / "t" / MARKER).is_file()
    assert ensure_tiny("diffusion", tmp_path / "t") == tmp_path / "t"
    with pytest.raises(ConfigError, match="model_index.json"):
        DiffusionAdapter(str(tmp_path)).load()


def test_uncached_hub_id_is_a_missing_resource() -> None:
    from mllmbench.core.errors import MissingResourceError

    with pytest.raises(MissingResourceError, match="someorg/not-cached-model"):
        DiffusionAdapter("someorg/not-cached-model").load()
