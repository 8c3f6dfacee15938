"""Transfusion reference model and adapter: the mask, patches, save/load, and what a drawing records."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from mllmbench.adapters.reference.transfusion import (
    TransfusionForConditionalGeneration,
    patchify,
    transfusion_attention_mask,
    unpatchify,
)
from mllmbench.adapters.transfusion import TransfusionAdapter
from mllmbench.core.types import GenerateRequest, ImageGenerationSettings

BOS, A, B, BOI, IMG, EOI, PAD = 1, 10, 11, 4, 5, 6, 0


def _allowed(ids: list[list[int]], mask: list[list[int]] | None = None) -> torch.Tensor:
    attention = torch.tensor(mask) if mask is not None else None
    m = transfusion_attention_mask(torch.tensor(ids), attention, IMG, BOI, torch.float32)
    return m[:, 0] == 0


def test_mask_is_causal_over_text_and_bidirectional_within_one_image() -> None:
    ids = [[BOS, A, BOI, IMG, IMG, IMG, EOI, B]]
    allowed = _allowed(ids)[0]
    image = [3, 4, 5]
    for i in image:  # every patch sees every patch of its image, later ones included
        assert all(bool(allowed[i, j]) for j in image)
        assert bool(allowed[i, 0]) and bool(allowed[i, 2]) and not bool(allowed[i, 6])
    for i in (0, 1, 2, 6, 7):  # text (and the markers) stays causal
        assert allowed[i].tolist() == [j <= i for j in range(8)]


def test_mask_keeps_two_images_apart_and_never_attends_padding() -> None:
    ids = [[PAD, BOI, IMG, IMG, EOI, BOI, IMG, IMG, EOI]]
    allowed = _allowed(ids, [[0, 1, 1, 1, 1, 1, 1, 1, 1]])[0]
    assert bool(allowed[2, 3]) and not bool(allowed[2, 6])  # first image does not see the second
    assert bool(allowed[6, 7]) and bool(allowed[6, 2])  # the second sees the first causally
    assert not bool(allowed[:, 0].any())  # the padded position is never attended to


def test_patchify_round_trip_and_patch_layout() -> None:
    latents = torch.randn(2, 4, 8, 8)
    patches = patchify(latents, 2)
    assert patches.shape == (2, 16, 16)
    assert torch.equal(unpatchify(patches, 2, 4), latents)
    # patch 1 is the second 2x2 block of the first row of patches, channel-major
    assert torch.equal(patches[0, 1], latents[0, :, 0:2, 2:4].reshape(-1))


@pytest.fixture(scope="module")
def tiny_dir(tiny_checkpoint: Callable[[str], Path]) -> Path:
    return tiny_checkpoint("transfusion")


def _inputs(model: TransfusionForConditionalGeneration) -> dict[str, torch.Tensor]:
    config = model.config
    n = config.image_seq_length
    ids = [1, 20, 21, config.boi_token_id, *([config.image_token_id] * n), config.eoi_token_id, 22]
    patches = torch.randn(1, n, config.patch_dim, generator=torch.Generator().manual_seed(0))
    return {"input_ids": torch.tensor([ids]), "image_patches": patches, "timesteps": torch.tensor([500.0])}


def test_save_and_load_keep_the_model(tiny_dir: Path, tmp_path: Path) -> None:
    model = TransfusionForConditionalGeneration.from_pretrained(tiny_dir).eval()
    model.save_pretrained(tmp_path / "again")
    again = TransfusionForConditionalGeneration.from_pretrained(tmp_path / "again").eval()
    assert again.config.vae_config == model.config.vae_config
    assert again.config.image_token_id == model.config.image_token_id
    inputs = _inputs(model)
    with torch.no_grad():
        a, b = model(**inputs), again(**inputs)
    assert torch.equal(a.logits, b.logits) and torch.equal(a.patch_output, b.patch_output)


def test_patches_see_later_patches_but_earlier_text_does_not(tiny_dir: Path) -> None:
    model = TransfusionForConditionalGeneration.from_pretrained(tiny_dir).eval()
    inputs = _inputs(model)
    changed = dict(inputs, image_patches=inputs["image_patches"].clone())
    changed["image_patches"][0, -1] += 1.0  # only the last patch differs
    with torch.no_grad():
        a, b = model(**inputs), model(**changed)
    assert not torch.allclose(a.patch_output[0, 0], b.patch_output[0, 0])  # bidirectional in the image
    assert torch.equal(a.logits[0, :3], b.logits[0, :3])  # the prompt before the image is causal


def test_drawing_records_steps_guidance_and_is_seeded(tiny_dir: Path) -> None:
    adapter = TransfusionAdapter(str(tiny_dir))
    adapter.load()
    try:
        requests = [
            GenerateRequest("a", "a red circle", seed=3),
            GenerateRequest("b", "a red circle", seed=4),
        ]
        guided = adapter.generate_images(
            requests, ImageGenerationSettings(num_inference_steps=4, guidance_scale=2.5)
        )
        again = adapter.generate_images(
            requests[:1], ImageGenerationSettings(num_inference_steps=4, guidance_scale=2.5)
        )
        plain = adapter.generate_images(
            requests[:1], ImageGenerationSettings(num_inference_steps=3, guidance_scale=1.0)
        )
    finally:
        adapter.close()
    first = guided[0]
    assert first.settings["num_inference_steps"] == 4 and first.settings["guidance_scale"] == 2.5
    assert first.settings["seed"] == 3 and first.settings["scheduler"] == "FlowMatchEulerDiscreteScheduler"
    assert (first.usage.steps, first.usage.nfe, first.usage.sequential_calls) == (4, 8, 4)
    assert first.usage.guidance_multiplier == 2
    assert (plain[0].usage.steps, plain[0].usage.nfe, plain[0].usage.guidance_multiplier) == (3, 3, 1)
    assert first.images[0].tobytes() == again[0].images[0].tobytes()
    assert first.images[0].tobytes() != guided[1].images[0].tobytes()
