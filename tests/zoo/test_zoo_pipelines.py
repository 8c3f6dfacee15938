"""The zoo members that put a trained stage in front of, or behind, another member without copying
it: ``diffusion_gpt`` (the zoo LLM rewrites prompts for ``diffusion``) and ``seed`` (a diffusion
decoder renders ``early_fusion``'s codes)."""

from __future__ import annotations

import dataclasses
import json
import random
from pathlib import Path

import pytest

from mllmbench.cli.main import main
from mllmbench.core.zoo_paths import shipped_members, zoo_checkpoints_dir


def test_rewrite_examples_ask_for_the_drawers_form() -> None:
    """Every example's answer is the scene's t2i prompt; the description names the same shapes,
    in reading order or shuffled."""
    from mllmbench.suites import shapes_captions, shapes_render
    from mllmbench.zoo import data
    from mllmbench.zoo.diffusion_gpt import INSTRUCTION, description
    from mllmbench.zoo.token_packaging import GEN_IMAGE_OFFSET

    shuffled = 0
    for image_id in range(1, 201):
        scene = shapes_render.sample_scene(data.TRAIN_SEED, GEN_IMAGE_OFFSET + image_id)
        text = description(scene, random.Random(image_id))
        target = shapes_captions.t2i_prompt(scene)
        shuffled += text != target
        clauses = sorted(
            text.removesuffix(", on a white background.").replace(" and ", ", ").lower().split(", ")
        )
        assert clauses == sorted(
            target.removesuffix(", on a white background.").replace(" and ", ", ").lower().split(", ")
        )
    assert 60 <= shuffled <= 120  # about half of the (mostly multi-shape) scenes
    assert "{prompt}" in INSTRUCTION


def test_diffusion_gpt_names_its_drawer_instead_of_copying_it(tmp_path: Path) -> None:
    from mllmbench.adapters.llm_diffusion import CONFIG_FILE, LLMDiffusionAdapter
    from mllmbench.core.types import GenerateRequest, ImageGenerationSettings

    out = tmp_path / "dgpt"
    args = ["zoo", "train", "diffusion_gpt", "--steps", "2", "--out", str(out), "--threads", "1"]
    assert main([*args, "--no-progress"]) == 0
    config = json.loads((out / CONFIG_FILE).read_text())
    assert config["diffusion"] == "zoo:diffusion" and config["llm"] == "llm"
    assert not (out / "diffusion").exists()
    recipe = json.loads((out / "zoo.json").read_text())["recipe"]["packaging"]
    assert recipe["diffusion"]["member"] == "diffusion" and recipe["diffusion"]["files_sha256"].startswith(
        "sha256:"
    )
    adapter = LLMDiffusionAdapter(str(out))
    adapter.load()
    try:
        request = GenerateRequest("g", "A small blue square in the center, on a white background.", seed=4)
        [response] = adapter.generate_images([request], ImageGenerationSettings(num_inference_steps=2))
    finally:
        adapter.close()
    assert response.images[0].size == (64, 64)
    assert response.usage.sequential_calls > response.usage.steps  # the rewrite's calls come first


def test_diffusion_gpt_takes_another_drawer_by_path(tmp_path: Path) -> None:
    """A drawer given with --diffusion is named by its absolute path."""
    from mllmbench.adapters.llm_diffusion import CONFIG_FILE
    from mllmbench.zoo.diffusion_gpt import PromptRewriter

    drawer = tmp_path / "drawer"
    drawer.mkdir()
    (drawer / "model_index.json").write_text("{}")
    packaging = PromptRewriter()
    parts = packaging.resolve_parts("diffusion_gpt", {"diffusion": drawer})
    packaging.stage(tmp_path / "out", parts)
    assert json.loads((tmp_path / "out" / CONFIG_FILE).read_text())["diffusion"] == str(drawer.resolve())


@pytest.mark.skipif("diffusion_gpt" not in shipped_members(), reason="diffusion_gpt is not shipped")
def test_shipped_rewriter_keeps_held_out_prompts_and_reorders_shuffled_ones() -> None:
    """The trained LLM returns most held-out prompts (already in the drawer's form) unchanged and
    puts a share of shuffled descriptions back in reading order (on 300 held-out scenes: 255 of
    300 kept, 81 of 217 reordered exactly; docs/zoo.md). Floors well under those rates."""
    from mllmbench.adapters.llm_diffusion import LLMDiffusionAdapter
    from mllmbench.core.types import GenerateRequest
    from mllmbench.suites import shapes_captions, shapes_render
    from mllmbench.zoo.data import HELDOUT_SEED

    scenes = [shapes_render.sample_scene(HELDOUT_SEED, i) for i in range(1, 41)]
    prompts = [shapes_captions.t2i_prompt(scene) for scene in scenes]
    shuffled = []
    for scene in scenes:
        if len(scene.shapes) > 1:
            order = list(scene.shapes)
            rng = random.Random(scene.image_id)
            while order == list(scene.shapes):
                rng.shuffle(order)
            shuffled.append(shapes_captions.t2i_prompt(dataclasses.replace(scene, shapes=tuple(order))))
    targets = [shapes_captions.t2i_prompt(scene) for scene in scenes if len(scene.shapes) > 1]
    adapter = LLMDiffusionAdapter("zoo:diffusion_gpt")
    adapter.load()
    try:
        kept, _, _ = adapter.rewrite([GenerateRequest(str(i), p, seed=i) for i, p in enumerate(prompts)], 0)
        back, _, _ = adapter.rewrite([GenerateRequest(str(i), p, seed=i) for i, p in enumerate(shuffled)], 0)
    finally:
        adapter.close()
    n_kept = sum(row[1] == prompt for row, prompt in zip(kept, prompts, strict=True))
    n_back = sum(row[1] == target for row, target in zip(back, targets, strict=True))
    assert n_kept >= 28, n_kept
    assert n_back >= 4, (n_back, len(targets))


def test_seed_decoder_trains_on_the_llms_own_codes_and_draws(tmp_path: Path) -> None:
    """Two steps train; the checkpoint names early_fusion and vae, and the llm_token_decoder
    adapter draws from it (codes from early_fusion, pixels from the decoder)."""
    import torch
    from transformers import Emu3ForConditionalGeneration

    from mllmbench.adapters.llm_token_decoder import CONFIG_FILE, LLMTokenDecoderAdapter
    from mllmbench.core.types import GenerateRequest, ImageGenerationSettings
    from mllmbench.zoo.members import MEMBERS

    spec = MEMBERS["seed"]
    model, _ = spec.build(0)
    spec.packaging.attach(model, spec.packaging.resolve_parts("seed"))
    llm = Emu3ForConditionalGeneration.from_pretrained(
        zoo_checkpoints_dir() / "early_fusion", dtype=torch.float32
    )
    for name, tensor in llm.model.vqmodel.state_dict().items():
        assert torch.equal(model.vq.state_dict()[name], tensor), name  # the LLM's own tokenizer
    out = tmp_path / "seed"
    args = ["zoo", "train", "seed", "--steps", "2", "--out", str(out), "--threads", "1", "--no-progress"]
    assert main(args) == 0
    config = json.loads((out / CONFIG_FILE).read_text())
    assert (config["llm"], config["vae"]) == ("zoo:early_fusion", "zoo:vae")
    assert sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) <= 5_000_000
    adapter = LLMTokenDecoderAdapter(str(out))
    adapter.load()
    try:
        request = GenerateRequest("g", "A large red circle in the center, on a white background.", seed=2)
        settings = ImageGenerationSettings(num_inference_steps=2, guidance_scale=1.0)
        [first] = adapter.generate_images([request], settings)
        [again] = adapter.generate_images([request], settings)
    finally:
        adapter.close()
    assert first.images[0].size == (64, 64) and first.usage.image_tokens == 64
    assert (
        first.usage.steps == 8 * 9 + 3 + 2
    )  # rows with their end-of-line tokens, the trailer, 2 denoising steps
    assert first.images[0].tobytes() == again.images[0].tobytes()
