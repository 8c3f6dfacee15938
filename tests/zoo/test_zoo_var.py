"""The VAR members: ``var_vq`` starts from the vqgan's weights and fine-tunes; ``var`` trains on
the given ``var_vq`` (kept frozen) and draws through the ``var`` adapter; the shipped ``var``
loads as ``zoo:var``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mllmbench.cli.main import main
from mllmbench.zoo.members import MEMBERS


@pytest.fixture(scope="module")
def var_vq_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("zoo") / "var_vq"
    args = ["zoo", "train", "var_vq", "--steps", "3", "--out", str(out), "--threads", "1", "--no-progress"]
    assert main(args) == 0
    return out


def test_var_and_its_tokenizer_are_members() -> None:
    from mllmbench.core.types import GenerationParadigm

    var, vq = MEMBERS["var"], MEMBERS["var_vq"]
    assert (var.kind, var.adapter, var.connector) == ("generate", "var", "none")
    assert var.generation == GenerationParadigm.NEXT_SCALE.value
    assert var.packaging.parts == {"vq": "var_vq"} and vq.packaging.parts == {"vq": "vqgan"}
    assert vq.kind == "tokenizer" and vq.adapter == ""
    assert var.sampling.get("guidance") is not None


def test_var_vq_starts_from_the_vqgans_weights() -> None:
    import torch
    from diffusers import VQModel

    from mllmbench.zoo.var import build_var_vq

    spec = MEMBERS["var_vq"]
    trainer, _ = build_var_vq(spec.init_seed)
    parts = spec.packaging.resolve_parts("var_vq")
    spec.packaging.attach(trainer, parts)
    vqgan = VQModel.from_pretrained(parts["vq"], torch_dtype=torch.float32)
    mine = trainer.tokenizer.vqvae.vq.state_dict()
    assert all(torch.equal(mine[k], v) for k, v in vqgan.state_dict().items())


def test_var_vq_trains_and_var_trains_on_it_and_draws(var_vq_dir: Path, tmp_path: Path) -> None:
    import torch

    from mllmbench.adapters.reference.var import VARTokenizer
    from mllmbench.adapters.var import VARAdapter
    from mllmbench.core.types import GenerateRequest, ImageGenerationSettings

    record = json.loads((var_vq_dir / "zoo.json").read_text())
    assert record["recipe"]["packaging"]["vq"]["member"] == "vqgan" and record["recipe"]["batch_size"] == 16
    tokenizer = VARTokenizer.from_pretrained(var_vq_dir)
    assert tokenizer.dtype == torch.float16 and tokenizer.vqvae.scales == (1, 2, 3, 4, 6, 8)

    out = tmp_path / "var"
    args = ["zoo", "train", "var", "--steps", "3", "--vq", str(var_vq_dir), "--out", str(out)]
    assert main([*args, "--threads", "1", "--no-progress"]) == 0
    record = json.loads((out / "zoo.json").read_text())
    assert record["recipe"]["packaging"]["vq"]["member"] == "var_vq"
    adapter = VARAdapter(str(out))
    adapter.load()
    try:
        frozen = tokenizer.vqvae.state_dict()
        assert all(
            torch.equal(v.float(), frozen[k].float()) for k, v in adapter.model.vqvae.state_dict().items()
        )
        request = GenerateRequest("g", "a large red circle in the top left, on a white background.", seed=3)
        [first] = adapter.generate_images([request], ImageGenerationSettings(guidance_scale=2.0))
        [again] = adapter.generate_images([request], ImageGenerationSettings(guidance_scale=2.0))
    finally:
        adapter.close()
    assert first.images[0].size == (64, 64) and first.usage.image_tokens == 1 + 4 + 9 + 16 + 36 + 64
    assert (first.usage.steps, first.usage.sequential_calls, first.usage.nfe) == (6, 6, 12)
    assert first.images[0].tobytes() == again.images[0].tobytes()  # same seed, same image
    assert sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) <= 3_500_000


def test_shipped_var_draws_through_the_zoo_name() -> None:
    from mllmbench.adapters.var import VARAdapter
    from mllmbench.core.types import GenerateRequest, ImageGenerationSettings
    from mllmbench.core.zoo_paths import shipped_members

    if not {"var", "var_vq"} <= set(shipped_members()):
        pytest.fail("the var and var_vq members are not shipped")
    adapter = VARAdapter("zoo:var")
    adapter.load()
    try:
        guidance = MEMBERS["var"].sampling["guidance"]
        request = GenerateRequest("g", "two small blue squares, on a white background.", seed=1)
        [response] = adapter.generate_images([request], ImageGenerationSettings(guidance_scale=guidance))
    finally:
        adapter.close()
    assert response.images[0].size == (64, 64)
    assert (
        response.usage.sequential_calls == 6 and response.usage.nfe == 6 * response.usage.guidance_multiplier
    )
