"""The token members of the zoo: the VQ tokenizer (``vq``) and the unified Emu3 member (``early_fusion``).

The tokenizer's training forward picks the codes the library's ``Emu3VQVAE.encode`` picks; a short
run learns and reloads with ``from_pretrained``; the unified member trains on a given tokenizer,
keeps it frozen, and answers and draws through the ``emu3`` adapter; micro-batches give the loss
of one batch; ``zoo:ar_vq`` is the unified member.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mllmbench.cli.main import main


@pytest.fixture(scope="module")
def vq_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("zoo") / "vq"
    args = ["zoo", "train", "vq", "--steps", "40", "--out", str(out), "--threads", "1", "--no-progress"]
    assert main(args) == 0
    return out


def test_training_forward_picks_the_library_codes() -> None:
    import torch

    from mllmbench.zoo import vq_tokenizer as vt

    trainer, processor = vt.build_vq(0)
    trainer.eval()
    pixels = processor([vt.data.scene_image(7, i) for i in (1, 2, 3)], return_tensors="pt")
    with torch.no_grad():
        mine = trainer(pixels["pixel_values"]).codes
        library = trainer.vq.encode(pixels["pixel_values"], pixels["image_sizes"]).image_tokens
    assert mine.shape == (3, vt.GRID, vt.GRID)
    assert torch.equal(mine, torch.stack(library))


def test_vq_learns_and_reloads(vq_dir: Path) -> None:
    import torch
    from transformers import Emu3VQVAE

    from mllmbench.zoo import vq_tokenizer

    record = json.loads((vq_dir / "zoo.json").read_text())
    assert record["steps"] == 40 and record["recipe"]["batch_size"] == 16
    assert record["final_loss"] < 0.3 * record["first_loss"]
    vq = Emu3VQVAE.from_pretrained(vq_dir)
    assert vq.dtype == torch.float16 and vq.config.codebook_size == vq_tokenizer.CODEBOOK_SIZE == 1024


def test_early_fusion_trains_on_the_given_tokenizer_and_runs_both_ways(vq_dir: Path, tmp_path: Path) -> None:
    import torch
    from transformers import Emu3VQVAE

    from mllmbench.adapters.emu3 import Emu3Adapter
    from mllmbench.core.types import (
        GenerateRequest,
        GenerationSettings,
        ImageGenerationSettings,
        UnderstandRequest,
    )
    from mllmbench.zoo import data

    out = tmp_path / "early_fusion"
    args = ["zoo", "train", "early_fusion", "--steps", "2", "--vq", str(vq_dir), "--out", str(out)]
    assert main([*args, "--threads", "1", "--no-progress"]) == 0
    record = json.loads((out / "zoo.json").read_text())
    assert record["aliases"] == ["ar_vq"]
    assert (
        record["recipe"]["packaging"]["vq"]["recipe_hash"]
        == json.loads((vq_dir / "zoo.json").read_text())["recipe_hash"]
    )
    adapter = Emu3Adapter(str(out))
    adapter.load()
    try:
        tokenizer = Emu3VQVAE.from_pretrained(vq_dir).state_dict()
        inside = adapter.model.model.vqmodel.state_dict()
        assert all(torch.equal(tokenizer[k], inside[k].to(tokenizer[k].dtype)) for k in tokenizer)  # frozen
        image = data.scene_image(3, 1)
        [answer] = adapter.understand(
            [UnderstandRequest("q", (image,), "How many shapes are there?")],
            GenerationSettings(max_new_tokens=3),
        )
        assert answer.usage.input_tokens > 72  # the 8x8 grid and its 8 end-of-line tokens are in the prompt
        [drawn] = adapter.generate_images(
            [GenerateRequest("g", "a red circle", seed=1)], ImageGenerationSettings()
        )
        assert drawn.images[0].size == (64, 64)
        assert drawn.usage.steps == 8 * 9 + 3
    finally:
        adapter.close()


def test_micro_batches_give_the_one_batch_loss() -> None:
    import torch

    from mllmbench.zoo import builders, data
    from mllmbench.zoo.train import batch_loss

    model, tokenizer = builders.build_blind(0)
    model.eval()
    items = [
        data.Encoded(ids, [data.IGNORE, *ids[1:]], {}, 0)
        for ids in ([5, 6, 7, 8, 9, 10, 11], [12, 13, 14], [15, 16, 17, 18])
    ]
    pad = int(tokenizer.pad_token_id)
    with torch.no_grad():
        whole = batch_loss(model, data.collate(items, pad))
        parts = batch_loss(model, [data.collate(items[:1], pad), data.collate(items[1:], pad)])
    assert torch.allclose(whole, parts, atol=1e-5)


def test_alias_names_the_unified_member() -> None:
    from mllmbench.core.zoo_paths import resolve_zoo_model, shipped_members
    from mllmbench.zoo.members import member

    assert member("ar_vq").name == "early_fusion"
    assert member("ar_vq").kind == "unified" and member("ar_vq").generation == "autoregressive_vq"
    assert "early_fusion" in shipped_members()
    assert resolve_zoo_model("zoo:ar_vq") == resolve_zoo_model("zoo:early_fusion")


@pytest.fixture(scope="module")
def vqgan_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("zoo") / "vqgan"
    args = ["zoo", "train", "vqgan", "--steps", "30", "--out", str(out), "--threads", "1", "--no-progress"]
    assert main(args) == 0
    return out


def test_vqgan_learns_and_its_codes_are_the_quantizers(vqgan_dir: Path) -> None:
    import torch
    from diffusers import VQModel

    from mllmbench.zoo import vqgan

    record = json.loads((vqgan_dir / "zoo.json").read_text())
    assert record["final_loss"] < 0.3 * record["first_loss"]
    vq = VQModel.from_pretrained(vqgan_dir, torch_dtype=torch.float32).eval()
    trainer = vqgan._trainer_class()(vq, 0).eval()
    pixels = vqgan.scene_pixels(vqgan.image_processor(), 7, [1, 2])
    with torch.no_grad():
        assert torch.equal(trainer(pixels).codes, vqgan.encode_codes(vq, pixels))
        decoded = vq.decode(
            vqgan.encode_codes(vq, pixels), force_not_quantize=True, shape=(2, 8, 8, 16)
        ).sample
    assert decoded.shape == pixels.shape  # the pipeline's decode path: code ids looked up in the codebook


def test_maskgit_trains_on_the_given_tokenizer_and_draws_through_amused(
    vqgan_dir: Path, tmp_path: Path
) -> None:
    from mllmbench.adapters.amused import AmusedAdapter
    from mllmbench.core.types import GenerateRequest, ImageGenerationSettings

    out = tmp_path / "maskgit"
    args = ["zoo", "train", "maskgit", "--steps", "3", "--vq", str(vqgan_dir), "--out", str(out)]
    assert main([*args, "--threads", "1", "--no-progress"]) == 0
    record = json.loads((out / "zoo.json").read_text())
    assert record["recipe"]["packaging"]["vq"]["member"] == "vqgan"
    adapter = AmusedAdapter(str(out))
    adapter.load()
    try:
        request = GenerateRequest("g", "a large red circle in the top left, on a white background.", seed=3)
        [first] = adapter.generate_images([request], ImageGenerationSettings())
        [again] = adapter.generate_images([request], ImageGenerationSettings())
    finally:
        adapter.close()
    assert first.images[0].size == (64, 64) and first.usage.image_tokens == 64
    assert first.usage.sequential_calls == first.usage.steps == 12
    assert first.images[0].tobytes() == again.images[0].tobytes()  # same seed, same image
    assert sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) <= 5_000_000  # a member ships <= 5 MB


def test_vae_and_diffusion_train_and_draw_through_the_diffusion_adapter(tmp_path: Path) -> None:
    import torch
    from diffusers import AutoencoderKL

    from mllmbench.adapters.diffusion import DiffusionAdapter
    from mllmbench.core.types import GenerateRequest, ImageGenerationSettings
    from mllmbench.zoo import latent_diffusion

    vae_dir, out = tmp_path / "vae", tmp_path / "diffusion"
    assert (
        main(
            ["zoo", "train", "vae", "--steps", "20", "--out", str(vae_dir), "--threads", "1", "--no-progress"]
        )
        == 0
    )
    vae = AutoencoderKL.from_pretrained(vae_dir, torch_dtype=torch.float32)
    scale = vae.config.scaling_factor
    assert scale == pytest.approx(
        latent_diffusion.latent_scale(vae, latent_diffusion.build_vae(0)[1]), rel=1e-2
    )
    args = ["zoo", "train", "diffusion", "--steps", "2", "--vq", str(vae_dir), "--out", str(out)]
    assert main([*args, "--threads", "1", "--no-progress"]) == 0
    assert sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) <= 5_000_000
    adapter = DiffusionAdapter(str(out))
    adapter.load()
    try:
        assert adapter.pipe.vae.config.scaling_factor == pytest.approx(scale)
        request = GenerateRequest("g", "a small blue square in the center, on a white background.", seed=5)
        settings = ImageGenerationSettings(num_inference_steps=3)
        [first] = adapter.generate_images([request], settings)
        [again] = adapter.generate_images([request], settings)
    finally:
        adapter.close()
    assert first.images[0].size == (64, 64)
    assert first.usage.sequential_calls == 3 and first.usage.nfe == 6  # guidance: both halves in one call
    assert first.images[0].tobytes() == again.images[0].tobytes()


def test_report_runs_each_member_on_the_suites_its_kind_can_run() -> None:
    from mllmbench.zoo.members import MEMBERS
    from mllmbench.zoo.report import member_suites

    suites = ["vqa", "caption", "t2i"]
    assert member_suites(MEMBERS["llava"], suites) == ["vqa", "caption"]
    assert member_suites(MEMBERS["maskgit"], suites) == ["t2i"]
    assert member_suites(MEMBERS["early_fusion"], suites) == suites  # unified: both tables of one run
    assert member_suites(MEMBERS["vq"], suites) == []  # a tokenizer runs only inside other members


def test_generation_table_reads_the_t2i_metrics(tmp_path: Path) -> None:
    from mllmbench.zoo.report import format_generation_table, generation_table

    suite = {
        "n_done": 2,
        "n_errors": 1,
        "metrics": {
            "shapes_eval": {"value": 50.0},
            "shapes_eval/colors": {"value": 100.0},
            "fd_shapes_judge": {"value": 12.5},
            "images_per_second": {"value": 3.0},
            "sequential_calls": {"value": 12.0},
            "nfe": {"value": 24.0},
        },
    }
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "run.json").write_text(json.dumps({"suites": {"t2i": suite}}))
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "run.json").write_text(json.dumps({"suites": {"vqa": {}}}))
    [row] = generation_table({"a": tmp_path / "a", "b": tmp_path / "b"})
    assert row["member"] == "a" and row["shapes_eval"] == 50.0 and row["per_tag"] == {"colors": 100.0}
    assert row["failed"] == 1 and row["image_tokens"] is None and row["kid_shapes_judge"] is None
    assert "50.0%" in format_generation_table([row])


def test_members_sampling_settings_are_run_settings() -> None:
    from mllmbench.core.config import RunConfig
    from mllmbench.zoo.members import MEMBERS

    for spec in MEMBERS.values():
        config = RunConfig(
            adapter=spec.adapter or "text_llm", model=f"zoo:{spec.name}", suites=("t2i",), **spec.sampling
        )
        assert all(getattr(config, key) == value for key, value in spec.sampling.items())
    assert MEMBERS["maskgit"].sampling and MEMBERS["early_fusion"].sampling


def test_paired_table_leaves_out_members_without_vqa(tmp_path: Path) -> None:
    from mllmbench.zoo.report import paired_table

    def run(name: str, rows: list[dict]) -> Path:
        (tmp_path / name).mkdir()
        (tmp_path / name / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        return tmp_path / name

    vqa = [
        {
            "suite": "vqa",
            "error": None,
            "sample_id": str(i),
            "scores": {"vqa_accuracy": float(i % 2)},
            "meta": {},
        }
        for i in range(20)
    ]
    t2i = [{"suite": "t2i", "error": None, "sample_id": "1", "scores": {}, "meta": {}}]
    rows = paired_table(
        {"blind": run("blind", vqa), "llava": run("llava", vqa), "maskgit": run("maskgit", t2i)}
    )
    assert [row["member"] for row in rows] == ["blind", "llava"]
