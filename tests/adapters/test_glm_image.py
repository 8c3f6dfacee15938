"""GLM-Image adapter (LLM tokens + diffusion decoder) on a tiny random GlmImagePipeline:
contract, fidelity against the pipeline called directly, knobs and counted costs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mllmbench.adapters.glm_image import GlmImageAdapter
from mllmbench.adapters.tiny.glm_image import VISION_VOCAB
from mllmbench.core.types import GenerateRequest, GenerationParadigm, ImageGenerationSettings
from mllmbench.testing.adapter_contract import check_generation_contract, generation_requests, image_bytes

SETTINGS = ImageGenerationSettings(num_inference_steps=2, guidance_scale=1.5, width=32, height=32)


@pytest.fixture(scope="module")
def tiny_dir(tiny_checkpoint: Callable[[str], Path]) -> Path:
    """The session's tiny glm_image checkpoint (shared: copy it before changing files)."""
    return tiny_checkpoint("glm_image")


@pytest.fixture(scope="module")
def adapter(tiny_dir: Path) -> Iterator[GlmImageAdapter]:
    a = GlmImageAdapter(str(tiny_dir))
    a.load()
    yield a
    a.close()


def test_generation_contract(tiny_dir: Path) -> None:
    # One prompt per pipeline call, so an image drawn alone equals the same image in a batch exactly.
    adapter = check_generation_contract(GlmImageAdapter, tiny_dir, SETTINGS, batch_tolerance=0)
    info = adapter.info
    assert info.paradigm.generation is GenerationParadigm.LLM_TOKENS_DIFFUSION_DECODER
    assert info.model_class == "GlmImagePipeline" and info.paradigm.vision_encoder == "AutoencoderKL"
    assert info.batching.startswith("one prompt per pipeline call")
    assert isinstance(adapter, GlmImageAdapter)
    ar = sum(p.numel() for p in adapter.pipe.vision_language_encoder.parameters())
    assert info.parameters["other"] == ar and info.parameters["denoiser"] > 0
    assert info.parameters["total"] == sum(v for k, v in info.parameters.items() if k != "total")
    adapter.close()


def test_images_equal_the_pipeline_called_directly(adapter: GlmImageAdapter) -> None:
    """Fidelity: the adapter's image is what diffusers' GlmImagePipeline draws with the same knobs and seed."""
    import torch
    from diffusers import GlmImagePipeline

    requests = [
        GenerateRequest("x", "a red circle on the left", 1234),
        GenerateRequest("y", "two blue squares", 7),
    ]
    responses = adapter.generate_images(requests, SETTINGS)
    pipe = GlmImagePipeline.from_pretrained(adapter.model_id, local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    for request, response in zip(requests, responses, strict=True):
        [image] = pipe(
            prompt=[request.text],
            num_inference_steps=2,
            guidance_scale=1.5,
            width=32,
            height=32,
            generator=torch.Generator().manual_seed(request.seed),
        ).images
        assert image_bytes(response.images[0]) == image_bytes(image)
    assert image_bytes(responses[0].images[0]) != image_bytes(responses[1].images[0])


def test_the_ar_tokens_decide_the_image(adapter: GlmImageAdapter) -> None:
    """The DiT renders the AR's tokens: the same latent noise with other prior tokens gives another image."""
    import torch

    pipe = adapter.pipe
    [request] = generation_requests(1)
    [response] = adapter.generate_images([request], SETTINGS)
    prior, _, _ = pipe.generate_prior_tokens(
        prompt=request.text, height=32, width=32, generator=torch.Generator().manual_seed(request.seed)
    )
    assert prior.shape == (1, 4) and int(prior.max()) < VISION_VOCAB  # 1x1 target grid, upsampled 2x

    def draw(tokens: torch.Tensor) -> bytes:
        [image] = pipe(
            prompt=[request.text],
            num_inference_steps=2,
            guidance_scale=1.5,
            width=32,
            height=32,
            prior_token_ids=tokens,
            generator=torch.Generator().manual_seed(request.seed),
        ).images
        return image_bytes(image)

    assert draw(prior) == image_bytes(response.images[0])
    assert draw((prior + 1) % VISION_VOCAB) != image_bytes(response.images[0])


def test_knobs_and_costs_are_recorded(adapter: GlmImageAdapter) -> None:
    processor = adapter.pipe.processor
    assert adapter.resolve_settings(ImageGenerationSettings()) == {
        "num_inference_steps": 50,
        "guidance_scale": 1.5,
        "width": 768,
        "height": 1152,
    }
    [request] = generation_requests(1)
    [guided] = adapter.generate_images([request], SETTINGS)
    u = guided.usage
    # The processor asks for a 1x1 target grid and GLM-Image's 16x16 preview grid at 32x32; the
    # AR emits both grids and the end slot (max_new_tokens), one forward call each.
    token_h, token_w, prev_h, prev_w = processor._get_target_shape(height=32, width=32)
    ar_tokens = token_h * token_w + prev_h * prev_w + 1
    assert (token_h, token_w, prev_h, prev_w) == (1, 1, 16, 16) and u.image_tokens == ar_tokens
    # Guidance runs the DiT's conditional and unconditional passes as two calls per step.
    assert (u.steps, u.nfe, u.guidance_multiplier) == (2, 4, 2)
    assert u.sequential_calls == ar_tokens + 4
    assert set(u.stage_seconds) == {"tokens", "render"} and u.stage_seconds["tokens"] > 0
    assert u.stage_seconds["tokens"] + u.stage_seconds["render"] == pytest.approx(u.batch_seconds)
    ids = adapter.ar_input_ids(request.text, 32, 32)
    assert u.input_tokens == len(ids) and guided.prompt == processor.tokenizer.decode(ids)
    assert guided.prompt.endswith("<sop>1 1<eop><sop>16 16<eop><|dit_token_16384|>")
    assert request.text in guided.prompt
    assert guided.settings["ar_sampling"]["do_sample"] is True and guided.settings["seed"] == request.seed
    plain_settings = ImageGenerationSettings(num_inference_steps=3, guidance_scale=1.0, width=32, height=32)
    [plain] = adapter.generate_images([request], plain_settings)
    assert (plain.usage.nfe, plain.usage.guidance_multiplier) == (3, 1)
    assert plain.usage.sequential_calls == ar_tokens + 3
