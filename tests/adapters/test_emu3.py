"""Emu3 (one decoder over text and VQ tokens) on the tiny checkpoint: understanding and generation."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mllmbench.adapters.emu3 import Emu3Adapter
from mllmbench.adapters.tiny.emu3 import CODEBOOK, GRID, IMAGE_TOKENS
from mllmbench.adapters.tiny.vision_towers import IMAGE_SIZE
from mllmbench.core.types import (
    Capability,
    Connector,
    GenerateRequest,
    GenerationParadigm,
    GenerationSettings,
    ImageGenerationSettings,
)
from mllmbench.testing.adapter_contract import (
    check_batching,
    check_fidelity,
    check_generation_contract,
    check_understanding_contract,
    generation_requests,
    image_bytes,
    sample_requests,
)

UNDERSTAND = GenerationSettings(max_new_tokens=6)
DRAW = ImageGenerationSettings(guidance_scale=3.0)
STEPS = GRID * (GRID + 1) + 3
"""Tokens one tiny image takes to generate: the grid, an end-of-line per row, then EOF, EOI, EOS."""


@pytest.fixture(scope="module")
def tiny_dir(tiny_checkpoint: Callable[[str], Path]) -> Path:
    """The session's tiny emu3 checkpoint (shared: copy it before changing files)."""
    return tiny_checkpoint("emu3")


@pytest.fixture(scope="module")
def adapter(tiny_dir: Path) -> Iterator[Emu3Adapter]:
    a = Emu3Adapter(str(tiny_dir))
    a.load()
    yield a
    a.close()


def test_understanding_contract_fidelity_and_batching(tiny_dir: Path) -> None:
    adapter = check_understanding_contract(Emu3Adapter, tiny_dir, settings=UNDERSTAND)
    info = adapter.info
    assert info.paradigm.connector is Connector.EARLY_FUSION
    assert info.paradigm.generation is GenerationParadigm.AUTOREGRESSIVE_VQ
    assert info.capabilities == Capability.UNDERSTAND | Capability.GENERATE
    assert info.visual_tokens_per_image == IMAGE_TOKENS and info.parameters["connector"] == 0
    assert info.paradigm.vision_encoder == "Emu3VQVAE"
    for request in sample_requests(2):
        check_fidelity(adapter, request, UNDERSTAND)
    check_batching(adapter, sample_requests(4), UNDERSTAND)
    [request] = sample_requests(1)
    [answer] = adapter.understand([request], UNDERSTAND)
    assert answer.prompt.startswith("USER: <image>") and answer.prompt.endswith(" ASSISTANT:")
    # The image's code grid (its resized size / 8) plus one end-of-line token per row.
    inputs = adapter.processor_inputs([answer.prompt], [list(request.images)])
    rows, columns = (int(v) // 8 for v in inputs["image_sizes"][0])
    assert answer.usage.image_tokens == rows * (columns + 1)
    adapter.close()


def test_generation_contract(tiny_dir: Path) -> None:
    adapter = check_generation_contract(Emu3Adapter, tiny_dir, DRAW)
    adapter.close()


def test_image_equals_transformers_called_directly(adapter: Emu3Adapter) -> None:
    """Fidelity: the documented transformers recipe (processor image mode, constrained sampling with
    unbatched CFG, VQ decode, postprocess) with the same seed draws the same pixels."""
    import torch

    model, processor = adapter.model, adapter.processor
    tokenizer = processor.tokenizer
    request = GenerateRequest("x", "a red circle on the left", 77)
    [response] = adapter.generate_images(
        [request], ImageGenerationSettings(guidance_scale=2.0, temperature=0.9)
    )
    inputs = processor(
        text=[request.text], return_for_image_generation=True, image_area=IMAGE_SIZE**2, return_tensors="pt"
    )
    uncond = processor(
        text=[""], return_for_image_generation=True, image_area=IMAGE_SIZE**2, return_tensors="pt"
    )
    height, width = inputs.pop("image_sizes")[0]
    uncond.pop("image_sizes")
    assert response.prompt == tokenizer.decode(inputs["input_ids"][0])
    visual = model.vocabulary_mapping.image_tokens

    def allowed(batch_id, input_ids):  # noqa: ANN001, ANN202 -- as in transformers' Emu3 docs
        position = torch.nonzero(input_ids == tokenizer.image_wrapper_token_id, as_tuple=True)[0][0]
        offset = input_ids.shape[0] - position
        if offset % (width + 1) == 0:
            return (model.vocabulary_mapping.eol_token_id,)
        if offset == (width + 1) * height + 1:
            return (tokenizer.eof_token_id,)
        if offset == (width + 1) * height + 2:
            return (tokenizer.eoi_token_id,)
        if offset == (width + 1) * height + 3:
            return (tokenizer.eos_token_id,)
        if offset > (width + 1) * height + 3:
            return (tokenizer.pad_token_id,)
        return visual

    config = copy.deepcopy(model.generation_config)
    torch.manual_seed(77)
    with torch.inference_mode():
        out = model.generate(
            **inputs,
            generation_config=config,
            max_new_tokens=(width + 1) * height + 3,
            prefix_allowed_tokens_fn=allowed,
            do_sample=True,
            top_k=2048,
            temperature=0.9,
            guidance_scale=2.0,
            eos_token_id=tokenizer.eos_token_id,
            negative_prompt_ids=uncond["input_ids"],
            negative_prompt_attention_mask=uncond["attention_mask"],
        )
        new = out[:, inputs["input_ids"].shape[1] :]
        pixels = model.decode_image_tokens(image_tokens=new, height=height, width=width)
    codes = model.vocabulary_mapping.convert_bpe2img(new[:, :-3].view(-1, height, width + 1))
    assert int(codes.min()) >= 0 and int(codes.max()) < CODEBOOK
    direct = processor.postprocess(list(pixels.float()), return_tensors="PIL.Image.Image")["pixel_values"][0]
    assert image_bytes(response.images[0]) == image_bytes(direct.convert("RGB"))


def test_knobs_and_costs_are_recorded(adapter: Emu3Adapter) -> None:
    requests = generation_requests(1)
    [default] = adapter.generate_images(requests, ImageGenerationSettings())
    s, u = default.settings, default.usage
    assert s["guidance_scale"] == 3.0 and s["temperature"] == 1.0 and s["top_k"] == 2048
    assert s["num_inference_steps"] is None and (s["width"], s["height"]) == (IMAGE_SIZE, IMAGE_SIZE)
    assert s["code_grid"] == [GRID, GRID]
    # Unbatched guidance: the unconditional forward runs after the conditional one at every step.
    assert (u.steps, u.guidance_multiplier, u.nfe, u.sequential_calls) == (STEPS, 2, 2 * STEPS, 2 * STEPS)
    assert u.image_tokens == GRID * GRID and set(u.stage_seconds) == {"generate", "decode"}
    [plain] = adapter.generate_images(requests, ImageGenerationSettings(guidance_scale=1.0))
    assert (plain.usage.guidance_multiplier, plain.usage.nfe, plain.usage.sequential_calls) == (
        1,
        STEPS,
        STEPS,
    )
    [greedy] = adapter.generate_images(requests, ImageGenerationSettings(top_k=1))
    reseeded = GenerateRequest(requests[0].sample_id, requests[0].text, requests[0].seed + 1)
    [greedy_again] = adapter.generate_images([reseeded], ImageGenerationSettings(top_k=1))
    # top_k=1 keeps only the best code at each step: the seed no longer matters.
    assert image_bytes(greedy.images[0]) == image_bytes(greedy_again.images[0])
    assert len({image_bytes(r.images[0]) for r in (default, plain, greedy)}) == 3
    [wide] = adapter.generate_images(requests, ImageGenerationSettings(width=32, height=16))
    assert wide.images[0].size == (32, 16) and wide.usage.image_tokens == 4 * 2


def test_loaded_generation_config_is_left_alone(adapter: Emu3Adapter) -> None:
    before = adapter.model.generation_config.to_dict()
    adapter.generate_images(generation_requests(1), ImageGenerationSettings(guidance_scale=2.0, top_k=3))
    assert adapter.model.generation_config.to_dict() == before
