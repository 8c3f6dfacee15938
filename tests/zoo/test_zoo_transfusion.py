"""The zoo's ``transfusion`` member: listed, its training rows are what the adapter runs, its
training forward combines both losses, and the shipped checkpoint loads through ``zoo:transfusion``.

(Whether the shipped member draws Shapes better than its untrained weights, and beats ``blind`` on
held-out VQA, is tested for every shipped member by test_zoo_generators.py and test_zoo.py.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mllmbench.core.zoo_paths import shipped_members, zoo_checkpoints_dir
from mllmbench.zoo.members import MEMBERS


def test_member_is_listed_as_a_unified_diffusion_in_llm_member() -> None:
    from mllmbench.zoo.transfusion import TransfusionPackaging

    spec = MEMBERS["transfusion"]
    assert (spec.kind, spec.generation, spec.connector, spec.adapter) == (
        "unified",
        "diffusion_in_llm",
        "mlp",
        "transfusion",
    )
    assert isinstance(spec.packaging, TransfusionPackaging) and spec.sampling.get("guidance")


@pytest.fixture(scope="module")
def built() -> tuple[Any, Any, Any]:
    spec = MEMBERS["transfusion"]
    model, processor = spec.build(spec.init_seed)
    spec.packaging.attach(model, spec.packaging.resolve_parts("transfusion"))
    return spec, model, spec.packaging.encoder(spec, model, processor)


def test_training_rows_are_the_adapters_prompts(built: tuple[Any, Any, Any]) -> None:
    from mllmbench.zoo import data

    spec, model, encoder = built
    batch = encoder.batch(0)
    conv, gen = batch["conversations"], batch["generation"]
    config = model.model.config
    n = config.image_seq_length
    assert n == 64 and config.patch_dim == 16
    # the first turn is token for token what the adapter sends at evaluation time
    turns = data.conversation(data.TRAIN_SEED, 1)
    adapter = encoder.adapter
    first = adapter.processor_inputs(
        [adapter.render_prompt(turns[0].prompt, 1)], [[data.scene_image(data.TRAIN_SEED, 1)]]
    )
    length = first["input_ids"].shape[1]
    assert conv["input_ids"][0, :length].tolist() == first["input_ids"][0].tolist()
    assert bool((conv["pixel_values"][0] == first["pixel_values"][0]).all())
    # generation rows: prompt, <boi>, 64 patches, <eoi>, no text labels
    for row, mask in zip(gen["input_ids"], gen["attention_mask"], strict=True):
        ids = row[mask.bool()].tolist()
        start = ids.index(config.boi_token_id)
        assert (
            ids[start + 1 : start + 1 + n] == [config.image_token_id] * n
            and ids[start + 1 + n] == config.eoi_token_id
        )
    assert gen["pixel_values"].shape == (gen["input_ids"].shape[0], 3, 64, 64)


def test_training_loss_is_text_plus_weighted_flow(built: tuple[Any, Any, Any]) -> None:
    import torch

    from mllmbench.zoo.transfusion import DIFFUSION_WEIGHT

    _, model, encoder = built
    batch = encoder.batch(1)
    out = model(**batch)
    assert torch.isfinite(out.loss) and out.lm > 0 and out.flow > 0
    assert float(out.loss.detach()) == pytest.approx(out.lm + DIFFUSION_WEIGHT * out.flow, rel=1e-5)
    out.loss.backward()
    assert model.model.patch_in.weight.grad is not None and model.model.lm_head.weight.grad is not None
    assert all(p.grad is None for p in model.model.vae.parameters())  # the vae member stays frozen


@pytest.mark.skipif("transfusion" not in shipped_members(), reason="transfusion is not shipped")
def test_shipped_checkpoint_loads_answers_and_draws() -> None:
    from mllmbench.adapters.transfusion import TransfusionAdapter
    from mllmbench.core.types import (
        GenerateRequest,
        GenerationSettings,
        ImageGenerationSettings,
        UnderstandRequest,
    )
    from mllmbench.suites.vqa_suite import VQA_PROMPT
    from mllmbench.zoo import data

    directory = Path(zoo_checkpoints_dir()) / "transfusion"
    assert sum(p.stat().st_size for p in directory.rglob("*") if p.is_file()) <= 3_600_000
    adapter = TransfusionAdapter("zoo:transfusion")
    adapter.load()
    try:
        image = data.scene_image(data.HELDOUT_SEED, 1)
        [answer] = adapter.understand(
            [UnderstandRequest("q", (image,), VQA_PROMPT.format(question="How many shapes are there?"))],
            GenerationSettings(max_new_tokens=4),
        )
        settings = ImageGenerationSettings(
            num_inference_steps=4, guidance_scale=MEMBERS["transfusion"].sampling["guidance"]
        )
        [drawn] = adapter.generate_images(
            [GenerateRequest("g", "a red circle in the center", seed=1)], settings
        )
    finally:
        adapter.close()
    assert answer.text and answer.usage.image_tokens == 64
    assert drawn.images[0].size == (64, 64) and drawn.usage.nfe == 8
