"""OmniGen adapter (diffusion inside the LLM) on a tiny random OmniGenPipeline: contract, fidelity, costs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mllmbench.adapters.omnigen import OmniGenAdapter
from mllmbench.core.types import GenerateRequest, GenerationParadigm, ImageGenerationSettings
from mllmbench.testing.adapter_contract import check_generation_contract, generation_requests, image_bytes

SETTINGS = ImageGenerationSettings(num_inference_steps=2, guidance_scale=2.0, width=32, height=32)


@pytest.fixture(scope="module")
def tiny_dir(tiny_checkpoint: Callable[[str], Path]) -> Path:
    """The session's tiny omnigen checkpoint (shared: copy it before changing files)."""
    return tiny_checkpoint("omnigen")


@pytest.fixture(scope="module")
def adapter(tiny_dir: Path) -> Iterator[OmniGenAdapter]:
    a = OmniGenAdapter(str(tiny_dir))
    a.load()
    yield a
    a.close()


def test_generation_contract(tiny_dir: Path) -> None:
    adapter = check_generation_contract(OmniGenAdapter, tiny_dir, SETTINGS, batch_tolerance=0)
    info = adapter.info
    assert info.paradigm.generation is GenerationParadigm.DIFFUSION_IN_LLM
    assert info.model_class == "OmniGenPipeline" and info.batching.startswith("one prompt per pipeline call")
    assert info.parameters["text_encoder"] == 0 and info.parameters["denoiser"] > 0
    adapter.close()


def test_images_equal_the_pipeline_called_directly(adapter: OmniGenAdapter) -> None:
    import torch
    from diffusers import OmniGenPipeline

    requests = [
        GenerateRequest("x", "a red circle on the left", 1234),
        GenerateRequest("y", "two blue squares", 9),
    ]
    responses = adapter.generate_images(requests, SETTINGS)
    pipe = OmniGenPipeline.from_pretrained(adapter.model_id, local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    for request, response in zip(requests, responses, strict=True):
        [image] = pipe(
            prompt=[request.text],
            num_inference_steps=2,
            guidance_scale=2.0,
            width=32,
            height=32,
            generator=torch.Generator().manual_seed(request.seed),
        ).images
        assert image_bytes(response.images[0]) == image_bytes(image)
        assert response.prompt.startswith("<|user|>\n") and request.text in response.prompt


def test_knobs_and_costs_are_recorded(adapter: OmniGenAdapter) -> None:
    assert adapter.resolve_settings(ImageGenerationSettings()) == {
        "num_inference_steps": 50,
        "guidance_scale": 2.5,
    }
    requests = generation_requests(1)
    [guided] = adapter.generate_images(requests, SETTINGS)
    u = guided.usage
    assert (u.steps, u.nfe, u.guidance_multiplier, u.sequential_calls) == (2, 4, 2, 2)
    assert guided.settings["scheduler"] == "FlowMatchEulerDiscreteScheduler"
    tokens = adapter.pipe.multimodal_processor.text_tokenizer(guided.prompt)["input_ids"]
    assert u.input_tokens == len(tokens) and u.image_tokens == 0
    plain_settings = ImageGenerationSettings(num_inference_steps=3, guidance_scale=1.0, width=32, height=32)
    [plain] = adapter.generate_images(requests, plain_settings)
    # OmniGen's pipeline runs the unconditional row at every step whatever the scale (it has no
    # "guidance <= 1" shortcut): counted, the cost stays 2 rows per step.
    assert (plain.usage.nfe, plain.usage.guidance_multiplier, plain.usage.sequential_calls) == (6, 2, 3)
    assert image_bytes(plain.images[0]) != image_bytes(guided.images[0])
