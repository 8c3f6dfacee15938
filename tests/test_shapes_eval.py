"""Validation of the offline Shapes judge and the shapes_eval scores (see docs/shapes-eval.md)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mllmbench.suites import shapes
from mllmbench.suites.metrics import geneval_rules
from mllmbench.suites.metrics.shapes_eval import Item, score_items, summary_dict
from mllmbench.suites.metrics.shapes_judge import CHECKPOINT_DIR
from mllmbench.suites.shapes_geneval import shape_box
from mllmbench.suites.shapes_render import sample_scene

N_IMAGES = 72


@pytest.fixture(scope="module")
def judge():
    from mllmbench.suites.metrics.shapes_judge.decide import ShapesJudge

    return ShapesJudge()


def _generated(tmp_path_factory, seed: int) -> tuple[Path, list[dict]]:
    root = tmp_path_factory.mktemp(f"shapes{seed}")
    shapes.generate_shapes(root, images=N_IMAGES, seed=seed)
    doc = json.loads((root / shapes.T2I_PROMPTS).read_text())
    return root, doc["annotations"]


def _items(root: Path, annotations: list[dict], shift: int = 0) -> list[Item]:
    n = len(annotations)
    return [
        Item(
            str(a["image_id"]),
            str(root / "images" / shapes.image_file_name(a["image_id"])),
            annotations[(i + shift) % n],
        )
        for i, a in enumerate(annotations)
    ]


def test_every_prompt_has_metadata_and_tags_are_balanced(tmp_path_factory):
    _, annotations = _generated(tmp_path_factory, 0)
    counts = Counter(a["tag"] for a in annotations)
    assert set(counts) == set(geneval_rules.TAGS)
    assert max(counts.values()) - min(counts.values()) <= 2  # greedy: one-shape scenes carry 3 tags only
    for a in annotations:
        geneval_rules.check_metadata(a, f"image {a['image_id']}")


@pytest.mark.parametrize("seed", [0, 5])
def test_metadata_holds_on_the_ground_truth(seed, tmp_path_factory):
    """The rules applied to the true shapes (boxes, colours) accept every prompt of its own image."""
    _, annotations = _generated(tmp_path_factory, seed)
    for a in annotations:
        scene = sample_scene(seed, a["image_id"])
        dets: dict[str, list] = {}
        for s in scene.shapes:
            dets.setdefault(s.shape, []).append(
                geneval_rules.Detection(box=shape_box(s), score=1.0, color=s.color)
            )
        assert geneval_rules.evaluate(dets, a, geneval_rules.judge_colors) == (True, ""), a


def test_checkpoint_is_small_fp16_with_its_recipe():
    size = (CHECKPOINT_DIR / "model.safetensors").stat().st_size
    assert size < 2 * 2**20
    recipe = json.loads((CHECKPOINT_DIR / "recipe.json").read_text())
    assert recipe["dtype"] == "float16" and recipe["threads"] == 1
    assert recipe["recipe"]["train_seed"] not in (0, 5, 11)


@pytest.mark.parametrize("seed", [0, 5, 11])
def test_real_images_score_high_on_own_prompts_and_low_on_shuffled(seed, judge, tmp_path_factory):
    root, annotations = _generated(tmp_path_factory, seed)
    own = summary_dict(score_items(_items(root, annotations), judge))
    shuffled = summary_dict(score_items(_items(root, annotations, shift=N_IMAGES // 2 + 1), judge))
    assert own["overall"] >= 95, own
    assert shuffled["overall"] <= 30, shuffled
    assert not own["failed"]


def test_blank_and_noise_images_score_near_zero(judge, tmp_path_factory):
    root, annotations = _generated(tmp_path_factory, 0)
    out = tmp_path_factory.mktemp("blank")
    rng = np.random.default_rng(0)
    items = []
    for a in annotations:
        blank, noise = out / f"{a['image_id']}_blank.png", out / f"{a['image_id']}_noise.png"
        Image.new("RGB", (128, 128), "white").save(blank)
        Image.fromarray(rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)).save(noise)
        items += [Item(f"{a['image_id']}b", str(blank), a), Item(f"{a['image_id']}n", str(noise), a)]
    summary = summary_dict(score_items(items, judge))
    assert summary["overall"] <= 5, summary


def test_bad_items_are_named_and_the_rest_scored(judge, tmp_path_factory):
    root, annotations = _generated(tmp_path_factory, 0)
    items = _items(root, annotations[:6])
    (root / "bad.png").write_bytes(b"not a png")
    no_tag = {k: v for k, v in annotations[2].items() if k != "tag"}
    items[0] = Item(items[0].item_id, str(root / "missing.png"), items[0].metadata)
    items[1] = Item(items[1].item_id, str(root / "bad.png"), items[1].metadata)
    items[2] = Item(items[2].item_id, items[2].path, no_tag)
    summary = summary_dict(score_items(items, judge))
    assert set(summary["failed"]) == {items[0].item_id, items[1].item_id, items[2].item_id}
    assert "missing.png" in summary["failed"][items[0].item_id]
    assert "bad.png" in summary["failed"][items[1].item_id]
    assert "no 'tag'" in summary["failed"][items[2].item_id]
    assert summary["images"] == 3


def test_training_is_deterministic_and_loads_like_a_transformers_model(tmp_path):
    import torch

    from mllmbench.suites.metrics.shapes_judge.model import ShapesJudgeConfig, ShapesJudgeModel
    from mllmbench.suites.metrics.shapes_judge.train import Recipe, train_judge

    recipe = Recipe(steps=3, heldout_images=8)
    reports = [train_judge(tmp_path / name, recipe) for name in ("a", "b")]
    assert reports[0]["final_loss"] == reports[1]["final_loss"]
    a, b = (ShapesJudgeModel.from_pretrained(tmp_path / name) for name in ("a", "b"))
    assert isinstance(a.config, ShapesJudgeConfig)
    for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert torch.equal(x, y), name
    shipped = ShapesJudgeModel.from_pretrained(CHECKPOINT_DIR)
    assert shipped.dtype == torch.float16 and shipped.config.shape_labels[0] == "empty"


def test_score_shapes_eval_command_names_bad_items(tmp_path, capsys):
    from mllmbench.cli.main import main

    root = tmp_path / "shapes"
    shapes.generate_shapes(root, images=8, seed=2)
    prompts = root / shapes.T2I_PROMPTS
    doc = json.loads(prompts.read_text())
    del doc["annotations"][1]["tag"]
    prompts.write_text(json.dumps(doc))
    (root / "images" / shapes.image_file_name(3)).unlink()
    rc = main(["score", "shapes-eval", "--prompts", str(prompts), "--images", str(root / "images"), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 1 and out["images"] == 6
    assert set(out["failed"]) == {
        f"image 2 ({shapes.image_file_name(2)})",
        f"image 3 ({shapes.image_file_name(3)})",
    }
    assert "no 'tag'" in out["failed"][f"image 2 ({shapes.image_file_name(2)})"]
    assert "not found" in out["failed"][f"image 3 ({shapes.image_file_name(3)})"]
    assert out["overall"] >= 80 and set(out["tasks"]) <= set(geneval_rules.TAGS)
