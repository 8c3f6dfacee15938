"""The zoo's ``expert`` member (VideoChat-Text: the zoo llava captions, the zoo LLM answers).

One 20-step training run (the shipped llava as captioner) feeds every test: the pipeline layout
and recipe, answers through ``mllm-bench run --adapter expert_pipeline --model zoo:expert``, the
``zoo list`` entry, and the token equality of the first training turn with the adapter's real
stage-2 prompt. Nothing here is shipped: the lead trains the member with the full recipe.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from mllmbench.cli.main import main
from mllmbench.core.zoo_paths import zoo_checkpoints_dir
from mllmbench.zoo.members import member

STEPS = 20
SHIPPED_LLAVA = zoo_checkpoints_dir() / "llava"


@pytest.fixture(scope="module")
def zoo_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A zoo checkpoints folder holding only ``expert``, trained for `STEPS` steps."""
    if not (SHIPPED_LLAVA / "zoo.json").is_file():
        pytest.fail("the llava member is not shipped; the expert member needs it as captioner")
    root = tmp_path_factory.mktemp("zoo")
    args = ["zoo", "train", "expert", "--steps", str(STEPS), "--out", str(root / "expert")]
    assert main([*args, "--threads", "1", "--no-progress"]) == 0
    return root


@pytest.fixture()
def as_shipped(zoo_root: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`zoo_root` stands in for the shipped checkpoints (``zoo:expert`` resolves into it)."""
    import mllmbench.core.zoo_paths
    import mllmbench.zoo.catalog

    for module in (mllmbench.core.zoo_paths, mllmbench.zoo.catalog):
        monkeypatch.setattr(module, "zoo_checkpoints_dir", lambda: zoo_root)
    return zoo_root


def _load_pipeline(directory: Path) -> Any:
    from mllmbench.adapters.registry import load_adapter_class

    adapter = load_adapter_class("expert_pipeline")(str(directory))
    adapter.load()
    return adapter


def test_layout_and_recipe(zoo_root: Path) -> None:
    from mllmbench.adapters.expert_config import PipelineConfig
    from mllmbench.suites.caption_suite import CAPTION_PROMPT

    out = zoo_root / "expert"
    config = PipelineConfig.read(out)
    assert (config.captioner_adapter, config.captioner_model, config.llm) == ("llava", "captioner", "llm")
    assert config.caption_prompt == CAPTION_PROMPT
    shipped = sorted(p.relative_to(SHIPPED_LLAVA) for p in SHIPPED_LLAVA.rglob("*") if p.is_file())
    copied = sorted(p.relative_to(out / "captioner") for p in (out / "captioner").rglob("*") if p.is_file())
    assert copied == shipped
    for rel in shipped:
        assert (out / "captioner" / rel).read_bytes() == (SHIPPED_LLAVA / rel).read_bytes(), rel
    llm_config = json.loads((out / "llm" / "config.json").read_text())
    assert llm_config["architectures"] == ["LlamaForCausalLM"] and llm_config["dtype"] == "float16"
    record = json.loads((out / "zoo.json").read_text())
    assert record["steps"] == STEPS and record["recipe"]["adapter"] == "expert_pipeline"
    captioner = record["recipe"]["packaging"]["captioner"]
    assert captioner["recipe_hash"] == json.loads((SHIPPED_LLAVA / "zoo.json").read_text())["recipe_hash"]
    assert record["parts"] == {"captioner": str(SHIPPED_LLAVA)}
    last_step_loss = record["loss_curve"][-1][1]  # final_loss averages all 20 steps here
    assert last_step_loss < 0.8 * record["first_loss"], record["loss_curve"]


def test_recipe_hash_covers_the_captioner(tmp_path: Path) -> None:
    """Same captioner files -> same hash wherever they are; another recipe or other bytes -> another."""
    from mllmbench.zoo.train import recipe, recipe_hash

    spec = member("expert")

    def hash_with(directory: Path) -> str:
        return recipe_hash(recipe(spec, STEPS, {"captioner": directory}))

    same = shutil.copytree(SHIPPED_LLAVA, tmp_path / "same")
    other_recipe = shutil.copytree(SHIPPED_LLAVA, tmp_path / "other_recipe")
    record = json.loads((other_recipe / "zoo.json").read_text())
    record["recipe_hash"] = "sha256:" + "0" * 64
    (other_recipe / "zoo.json").write_text(json.dumps(record))
    other_bytes = shutil.copytree(SHIPPED_LLAVA, tmp_path / "other_bytes")
    with (other_bytes / "config.json").open("a") as fh:
        fh.write("\n")
    shipped = hash_with(SHIPPED_LLAVA)
    assert hash_with(same) == shipped
    assert hash_with(other_recipe) != shipped
    assert hash_with(other_bytes) != shipped


def _first_turns(count: int) -> list[int]:
    """Training image ids whose first turn is a VQA question, then one whose first turn is the caption."""
    from mllmbench.suites.caption_suite import CAPTION_PROMPT
    from mllmbench.zoo import data

    vqa, caption = [], []
    for image_id in range(1, 100):
        first = data.conversation(data.TRAIN_SEED, image_id)[0].prompt
        (caption if first == CAPTION_PROMPT else vqa).append(image_id)
    return vqa[:count] + caption[:1]


def test_first_training_turn_equals_the_stage2_prompt(zoo_root: Path) -> None:
    """Training tokens of the first turn == the tokens the pipeline's LLM reads at evaluation,
    given the caption the captioner wrote: same `user_message`, chat template and tokenizer call."""
    from mllmbench.core.types import GenerationSettings, UnderstandRequest
    from mllmbench.zoo import data
    from mllmbench.zoo.packaging import encode_with_caption

    spec = member("expert")
    model, tokenizer = spec.build(0)
    training = spec.packaging.encoder(spec, model, tokenizer).pipeline
    adapter = _load_pipeline(zoo_root / "expert")
    try:
        for image_id in _first_turns(3):
            turns = data.conversation(data.TRAIN_SEED, image_id)
            request = UnderstandRequest(
                str(image_id), (data.scene_image(data.TRAIN_SEED, image_id),), turns[0].prompt
            )
            [response] = adapter.understand([request], GenerationSettings(max_new_tokens=4))
            [caption] = response.captions
            assert caption and f"Image 1: {caption}\n{turns[0].prompt}" in response.prompt
            user_text, _ = adapter.user_message([caption], turns[0].prompt)
            assert adapter.llm.render_prompt(user_text, 0) == response.prompt
            stage2 = adapter.llm.prepare([UnderstandRequest("s", (), user_text)])
            eval_ids = stage2.inputs["input_ids"][0].tolist()
            assert len(eval_ids) == response.usage.input_tokens
            encoded = encode_with_caption(training, turns, caption, tokenizer.eos_token)
            assert encoded.input_ids[: encoded.first_len] == eval_ids, image_id
            assert (
                tokenizer.decode(encoded.input_ids[: encoded.first_len])
                == tokenizer.bos_token + response.prompt
            )
    finally:
        adapter.close()


def test_run_zoo_expert_answers_with_the_llava_captions(as_shipped: Path, tmp_path: Path) -> None:
    """``--model zoo:expert --adapter expert_pipeline`` runs; stage 2 reads the shipped llava's captions."""
    from PIL import Image

    from mllmbench.adapters.registry import load_adapter_class
    from mllmbench.core.types import GenerationSettings, UnderstandRequest
    from mllmbench.suites.caption_suite import CAPTION_PROMPT

    out = tmp_path / "run"
    args = ["run", "--adapter", "expert_pipeline", "--model", "zoo:expert", "--suite", "vqa"]
    assert main([*args, "--limit", "4", "--no-report", "--no-progress", "--out", str(out)]) == 0
    rows = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert len(rows) == 4 and all(row["error"] is None for row in rows)
    llava = load_adapter_class("llava")(str(SHIPPED_LLAVA))
    llava.load()
    try:
        requests = [
            UnderstandRequest(r["sample_id"], (Image.open(r["image"]),), CAPTION_PROMPT) for r in rows
        ]
        captions = llava.understand(requests, GenerationSettings(max_new_tokens=40))
    finally:
        llava.close()
    for row, caption in zip(rows, captions, strict=True):
        assert caption.text and row["prompt"].startswith(f"USER: Image 1: {caption.text}\n"), row["prompt"]
        assert row["tokens"]["image"] > 0


def test_zoo_list_entry(as_shipped: Path) -> None:
    """Parameters: the captioner's groups plus ``expert_llm``; visual tokens as the adapter reports them."""
    from mllmbench.zoo.catalog import member_entry

    entry = member_entry(member("expert"))
    assert entry["shipped"] and entry["model"] == "zoo:expert" and entry["connector"] == "expert"
    params = entry["parameters"]
    assert {"vision", "connector", "llm", "expert_llm", "total"} <= set(params)
    assert params["total"] == sum(v for k, v in params.items() if k != "total")
    adapter = _load_pipeline(as_shipped / "expert")
    try:
        assert entry["visual_tokens_per_image"] == adapter.info.visual_tokens_per_image > 0
    finally:
        adapter.close()
    assert entry["recipe"]["steps"] == STEPS
    assert (
        0 < entry["checkpoint_bytes"] <= 5_000_000
    )  # the cap per checkpoint, captioner copy included


def test_parts_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["zoo", "train", "blind", "--steps", "1", "--captioner", str(SHIPPED_LLAVA)]) == 2
    assert "takes no captioner" in capsys.readouterr().err
    missing = tmp_path / "nothing"
    assert main(["zoo", "train", "expert", "--steps", "1", "--captioner", str(missing)]) == 2
    assert f"{missing} has no config.json" in capsys.readouterr().err


def test_zoo_llm_template_keeps_blind_prompts() -> None:
    """The zoo LLM's template renders list content as LLaVA-1.5's does, and string content alike."""
    from transformers import AutoTokenizer

    from mllmbench.adapters.tiny.chat_templates import LLAVA_15_CHAT_TEMPLATE
    from mllmbench.zoo.builders import ZOO_LLM_CHAT_TEMPLATE

    tokenizer = AutoTokenizer.from_pretrained(zoo_checkpoints_dir() / "blind")

    def render(template: str, messages: list[dict[str, Any]]) -> str:
        return str(
            tokenizer.apply_chat_template(
                messages, chat_template=template, add_generation_prompt=True, tokenize=False
            )
        )

    text = "Image 1: a red circle\nHow many circles are there?"
    user = {"role": "user", "content": [{"type": "text", "text": text}]}
    conversation = [
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": text}]},
        {"role": "assistant", "content": [{"type": "text", "text": "1"}]},
        user,
    ]
    for messages in (conversation, [user]):
        assert render(ZOO_LLM_CHAT_TEMPLATE, messages) == render(LLAVA_15_CHAT_TEMPLATE, messages)
    as_string = [{"role": "user", "content": text}]
    assert render(ZOO_LLM_CHAT_TEMPLATE, as_string) == render(LLAVA_15_CHAT_TEMPLATE, [user])
    assert render(ZOO_LLM_CHAT_TEMPLATE, as_string) == f"USER: {text} ASSISTANT:"
