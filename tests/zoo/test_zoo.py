"""The paradigm zoo: shipped members load through their adapters and see the image; the trainer
learns; ``zoo list --json`` fields; ``--model zoo:unknown`` exits 2 naming the members."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mllmbench.cli.main import main
from mllmbench.core.errors import ConfigError
from mllmbench.core.zoo_paths import resolve_zoo_model, shipped_members
from mllmbench.zoo.members import DEFAULT_STEPS, MEMBERS

TEST_SEED = 5151
"""Shapes seed of the small held-out set here (not the training seed, not an evaluation seed)."""
TEST_IMAGES = 150


def _held_out_vqa() -> list[tuple[object, str, list[str]]]:
    from mllmbench.suites import shapes_render, shapes_text
    from mllmbench.suites.vqa_suite import VQA_PROMPT

    items = []
    for image_id in range(1, TEST_IMAGES + 1):
        scene = shapes_render.sample_scene(TEST_SEED, image_id)
        image = shapes_render.render_scene(scene)
        rng = shapes_render.scene_rng(TEST_SEED, image_id, "vqa")
        for qa in shapes_text.make_questions(scene, rng, 3):
            items.append((image, VQA_PROMPT.format(question=qa.question), [h.answer for h in qa.human]))
    return items


def _accuracies(name: str, items: list) -> list[float]:
    from mllmbench.adapters.registry import load_adapter_class
    from mllmbench.core.types import GenerationSettings, UnderstandRequest
    from mllmbench.suites.metrics.vqa import question_accuracy

    adapter = load_adapter_class(MEMBERS[name].adapter)(f"zoo:{name}")
    adapter.load()
    scores = []
    try:
        for start in range(0, len(items), 16):
            chunk = items[start : start + 16]
            batch = [
                UnderstandRequest(str(start + i), (img,), text) for i, (img, text, _) in enumerate(chunk)
            ]
            for response, (_, _, refs) in zip(
                adapter.understand(batch, GenerationSettings(max_new_tokens=8)), chunk, strict=True
            ):
                scores.append(question_accuracy(response.text, refs))
    finally:
        adapter.close()
    return scores


@pytest.fixture(scope="module")
def held_out() -> list:
    return _held_out_vqa()


@pytest.fixture(scope="module")
def blind_scores(held_out: list) -> list[float]:
    if "blind" not in shipped_members():
        pytest.fail("the blind member is not shipped")
    return _accuracies("blind", held_out)


VISUAL = [
    name
    for name, spec in MEMBERS.items()
    if name != "blind" and spec.kind in ("understand", "unified") and name in shipped_members()
]
"""The shipped visual members (docs/zoo.md says which members are built but not shipped)."""


@pytest.mark.parametrize("name", VISUAL)
def test_shipped_member_beats_blind(name: str, held_out: list, blind_scores: list[float]) -> None:
    """Paired bootstrap over the same questions: the 95% interval of (member - blind) is above 0."""
    from mllmbench.reports.paired import paired_bootstrap

    mine = _accuracies(name, held_out)
    result = paired_bootstrap(mine, blind_scores, iterations=2000)
    assert result.ci_low > 0, (name, result)


def test_list_json_fields(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["zoo", "list", "--json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert set(rows) == set(MEMBERS)
    llava = rows["llava"]
    assert llava["adapter"] == "llava" and llava["model"] == "zoo:llava" and llava["connector"] == "mlp"
    assert llava["kind"] == "understand" and llava["generation"] == "text"
    assert llava["visual_tokens_per_image"] == 64
    assert {"vision", "connector", "llm", "total"} <= set(llava["parameters"])
    assert llava["recipe"]["steps"] == DEFAULT_STEPS and llava["recipe"]["recipe_hash"].startswith("sha256:")
    assert llava["recipe"]["cpu_seconds"] <= 30 * 60  # the budget: 30 CPU-minutes per member
    assert 0 < llava["checkpoint_bytes"] <= 5_000_000
    total = sum(row["checkpoint_bytes"] or 0 for row in rows.values())
    assert total <= 60_000_000


def test_unknown_member_exits_2_naming_members(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code = main(
        [
            "run",
            "--adapter",
            "llava",
            "--model",
            "zoo:unknown",
            "--limit",
            "1",
            "--no-report",
            "--out",
            str(tmp_path / "run"),
        ]
    )
    assert code == 2
    assert "zoo:llava" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="zoo:llava"):
        resolve_zoo_model("zoo:nope")


def test_train_50_steps_loss_falls(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "blind"
    assert (
        main(["zoo", "train", "blind", "--steps", "50", "--out", str(out), "--threads", "1", "--no-progress"])
        == 0
    )
    record = json.loads((out / "zoo.json").read_text())
    assert record["steps"] == 50
    assert record["final_loss"] < 0.6 * record["first_loss"]
    assert record["recipe_hash"].startswith("sha256:")
    assert record["matches_shipped_recipe"] in (False, None)  # 50 steps is not the shipped recipe
    assert (out / "model.safetensors").is_file()


@pytest.mark.parametrize("name", shipped_members())
def test_shipped_recipe_hash_is_what_the_code_computes(name: str) -> None:
    """Every shipped member's recorded recipe hash equals the recipe the current code builds with
    the shipped parts: code that changes what a recipe trains cannot land with stale checkpoints."""
    from mllmbench.core.zoo_paths import zoo_checkpoints_dir
    from mllmbench.zoo.members import member
    from mllmbench.zoo.train import recipe, recipe_hash

    record = json.loads((zoo_checkpoints_dir() / name / "zoo.json").read_text())
    spec = member(name)
    assert record["steps"] == spec.steps
    assert recipe_hash(recipe(spec, None, spec.packaging.resolve_parts(name))) == record["recipe_hash"]
