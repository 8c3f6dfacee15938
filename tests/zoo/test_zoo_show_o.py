"""The unified ``show_o`` member: listed as Show-o, trained on conversations plus MaskGIT rows over
the ``vqgan`` codes (frozen, shipped inside), and the shipped checkpoint answers and draws through
``zoo:show_o``. (Its FD against untrained weights is in test_zoo_generators.py, its VQA against
``blind`` in test_zoo.py: both pick up every shipped unified member.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mllmbench.cli.main import main
from mllmbench.zoo.members import MEMBERS


def test_member_is_listed_as_unified_masked_tokens() -> None:
    spec = MEMBERS["show_o"]
    assert (spec.adapter, spec.connector, spec.kind, spec.generation) == (
        "show_o",
        "early_fusion",
        "unified",
        "masked_tokens",
    )
    assert spec.packaging.parts == {"vq": "vqgan"} and "guidance" in spec.sampling


@pytest.fixture(scope="module")
def encoder_and_model():  # noqa: ANN201
    spec = MEMBERS["show_o"]
    model, processor = spec.build(spec.init_seed)
    spec.packaging.attach(model, spec.packaging.resolve_parts("show_o"))
    return spec.packaging.encoder(spec, model, processor), model


def test_training_rows_are_conversations_and_masked_t2i_rows(encoder_and_model) -> None:  # noqa: ANN001
    from mllmbench.zoo import data
    from mllmbench.zoo.token_packaging import GEN_ROWS

    encoder, model = encoder_and_model
    cfg = model.config
    conversations, t2i = encoder.batch(0)
    # The conversation's first turn is what the adapter sends at evaluation time.
    adapter = encoder.adapter
    turns = data.conversation(data.TRAIN_SEED, 1)
    prompt = adapter.render_prompt(turns[0].prompt, 1)
    first = adapter.processor_inputs([prompt], [[data.scene_image(data.TRAIN_SEED, 1)]])["input_ids"][0]
    assert conversations["input_ids"][0, : len(first)].tolist() == first.tolist()
    assert int((conversations["input_ids"] == cfg.image_token_id).sum(1)[0]) == cfg.image_seq_length
    assert conversations["pixel_values"].shape[0] == conversations["input_ids"].shape[0]
    # t2i rows: labels exactly at the [MASK] positions, holding code ids; between 1 and 64 masked.
    ids, labels = t2i["input_ids"], t2i["labels"]
    assert ids.shape[0] == GEN_ROWS
    masked = ids == cfg.mask_token_id
    assert torch_equal(masked, labels != data.IGNORE)
    per_row = masked.sum(1)
    assert int(per_row.min()) >= 1 and int(per_row.max()) <= cfg.image_seq_length
    assert len(set(per_row.tolist())) > 1  # cosine-schedule rates differ between rows
    targets = labels[masked]
    assert bool(((targets >= cfg.image_code_offset) & (targets < cfg.mask_token_id)).all())
    assert bool((ids[:, 0] == cfg.t2i_token_id).all())


def torch_equal(a, b) -> bool:  # noqa: ANN001
    import torch

    return bool(torch.equal(a, b))


def test_two_steps_train_keep_the_tokenizer_frozen_and_run_both_ways(tmp_path: Path) -> None:
    import torch
    from diffusers import VQModel

    from mllmbench.adapters.show_o import ShowOAdapter
    from mllmbench.core.types import (
        GenerateRequest,
        GenerationSettings,
        ImageGenerationSettings,
        UnderstandRequest,
    )
    from mllmbench.zoo import data

    out = tmp_path / "show_o"
    assert (
        main(["zoo", "train", "show_o", "--steps", "2", "--out", str(out), "--threads", "1", "--no-progress"])
        == 0
    )
    record = json.loads((out / "zoo.json").read_text())
    assert record["recipe"]["packaging"]["vq"]["member"] == "vqgan"
    assert sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) <= 5_000_000  # a member ships <= 5 MB
    adapter = ShowOAdapter(str(out))
    adapter.load()
    try:
        shipped_vq = VQModel.from_pretrained(MEMBERS["show_o"].packaging.resolve_parts("show_o")["vq"])
        for name, value in shipped_vq.state_dict().items():
            assert torch.equal(adapter.model.vqvae.state_dict()[name].half(), value.half()), name
        image = data.scene_image(data.TRAIN_SEED, 3)
        [answer] = adapter.understand(
            [UnderstandRequest("q", (image,), "How many shapes are there?")],
            GenerationSettings(max_new_tokens=4),
        )
        assert answer.usage.image_tokens == 64
        [drawn] = adapter.generate_images(
            [GenerateRequest("g", "a red circle", 3)], ImageGenerationSettings()
        )
        assert drawn.images[0].size == (64, 64) and drawn.usage.image_tokens == 64
    finally:
        adapter.close()


def test_shipped_member_loads_through_zoo_name() -> None:
    from mllmbench.adapters.show_o import ShowOAdapter
    from mllmbench.core.zoo_paths import shipped_members

    assert "show_o" in shipped_members()
    adapter = ShowOAdapter("zoo:show_o")
    adapter.load()
    try:
        assert adapter.info.paradigm.generation.value == "masked_tokens"
        assert adapter.info.checkpoint_hash and adapter.info.visual_tokens_per_image == 64
    finally:
        adapter.close()
