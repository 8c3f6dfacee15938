"""aMUSEd adapter (masked VQ tokens) on a tiny random AmusedPipeline: contract, fidelity, knobs, cost."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mllmbench.adapters.amused import AmusedAdapter
from mllmbench.adapters.tiny.amused import GRID, IMAGE_SIZE
from mllmbench.core.errors import ConfigError
from mllmbench.core.types import GenerateRequest, GenerationParadigm, ImageGenerationSettings
from mllmbench.testing.adapter_contract import check_generation_contract, generation_requests, image_bytes

SETTINGS = ImageGenerationSettings(num_inference_steps=4, guidance_scale=3.0)


@pytest.fixture(scope="module")
def tiny_dir(tiny_checkpoint: Callable[[str], Path]) -> Path:
    """The session's tiny amused checkpoint (shared: copy it before changing files)."""
    return tiny_checkpoint("amused")


@pytest.fixture(scope="module")
def adapter(tiny_dir: Path) -> Iterator[AmusedAdapter]:
    a = AmusedAdapter(str(tiny_dir))
    a.load()
    yield a
    a.close()


def test_generation_contract(tiny_dir: Path) -> None:
    # One prompt per pipeline call, so an image drawn alone equals the same image in a batch exactly.
    adapter = check_generation_contract(AmusedAdapter, tiny_dir, SETTINGS, batch_tolerance=0)
    info = adapter.info
    assert info.paradigm.generation is GenerationParadigm.MASKED_TOKENS
    assert info.model_class == "AmusedPipeline" and info.paradigm.vision_encoder == "VQModel"
    assert info.paradigm.llm_backbone == "CLIPTextModelWithProjection"
    assert set(info.parameters) == {"text_encoder", "denoiser", "vae", "total"}
    assert info.parameters["total"] == sum(v for k, v in info.parameters.items() if k != "total")
    assert info.batching.startswith("one prompt per pipeline call")
    adapter.close()


def test_images_equal_the_pipeline_called_directly(adapter: AmusedAdapter) -> None:
    """Fidelity: the adapter's image is what diffusers' AmusedPipeline draws with the same knobs and seed."""
    import torch
    from diffusers import AmusedPipeline

    requests = [
        GenerateRequest("x", "a red circle on the left", 1234),
        GenerateRequest("y", "two blue squares", 7),
    ]
    responses = adapter.generate_images(requests, SETTINGS)
    pipe = AmusedPipeline.from_pretrained(adapter.model_id, local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    for request, response in zip(requests, responses, strict=True):
        direct = pipe(
            prompt=[request.text],
            num_inference_steps=4,
            guidance_scale=3.0,
            generator=torch.Generator().manual_seed(request.seed),
        ).images[0]
        assert image_bytes(response.images[0]) == image_bytes(direct)
        assert response.prompt == request.text and response.rewritten_prompt is None


def test_knobs_and_costs_are_recorded(adapter: AmusedAdapter) -> None:
    [default] = adapter.generate_images(generation_requests(1), ImageGenerationSettings())
    s = default.settings
    # Amused's own defaults, read from the pipeline's signature.
    assert s["num_inference_steps"] == 12 and s["guidance_scale"] == 10.0
    assert s["scheduler"] == "AmusedScheduler" and s["masking_schedule"] == "cosine"
    assert s["remask_temperature"] == [2.0, 0.0]
    assert s["temperature"] is None and s["top_k"] is None
    assert (s["width"], s["height"]) == (IMAGE_SIZE, IMAGE_SIZE)
    u = default.usage
    assert (u.steps, u.nfe, u.guidance_multiplier, u.sequential_calls) == (12, 24, 2, 12)
    assert u.image_tokens == GRID * GRID and u.batch_size == 1
    [plain] = adapter.generate_images(
        generation_requests(1), ImageGenerationSettings(num_inference_steps=3, guidance_scale=1.0)
    )
    assert (plain.usage.nfe, plain.usage.guidance_multiplier, plain.usage.sequential_calls) == (3, 1, 3)
    assert image_bytes(plain.images[0]) != image_bytes(default.images[0])
    [big] = adapter.generate_images(
        generation_requests(1), ImageGenerationSettings(num_inference_steps=2, width=48, height=64)
    )
    assert big.images[0].size == (48, 64) and big.usage.image_tokens == 24 * 32


def test_a_pipeline_of_another_kind_is_refused(tiny_checkpoint: Callable[[str], Path]) -> None:
    with pytest.raises(ConfigError, match="loads as StableDiffusionPipeline; the amused adapter needs"):
        AmusedAdapter(str(tiny_checkpoint("diffusion"))).load()
