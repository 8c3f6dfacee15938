"""The ``auto`` adapter: any AutoModelForImageTextToText checkpoint.

* On the tiny qwen2_vl, idefics3, mllama (and, with ``--prompt-format``, paligemma) checkpoints
  built by those families' recipes, its answers, prompts, token counts, connector and parameter
  groups equal the family adapter's.
* On tiny checkpoints of eight model types with no family adapter (`auto_models.MODEL_TYPES`):
  provenance and paradigm from the config, sane responses, batch 1 = batch N, answers that
  depend on the image, and the same answer as transformers called directly.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mllmbench.adapters.auto import AutoAdapter
from mllmbench.adapters.auto_paradigms import CONNECTORS
from mllmbench.adapters.registry import load_adapter_class
from mllmbench.adapters.tiny import auto_models
from mllmbench.cli.main import main
from mllmbench.core import registry
from mllmbench.core.errors import ConfigError
from mllmbench.core.types import GenerationSettings
from mllmbench.testing.adapter_contract import (
    check_batching,
    check_fidelity,
    check_responses,
    sample_requests,
)
from mllmbench.testing.tiny_contract import check_output_depends_on_image

SETTINGS = GenerationSettings(max_new_tokens=8)


def _comparable(responses):  # type: ignore[no-untyped-def]
    return [(r.text, r.prompt, r.usage.input_tokens, r.usage.output_tokens) for r in responses]


@pytest.mark.parametrize(
    ("family", "prompt_format"),
    [("qwen2_vl", None), ("idefics3", None), ("mllama", None), ("paligemma", "{images}{text}")],
)
def test_answers_and_paradigm_equal_the_family_adapter(tiny_checkpoint, family: str, prompt_format) -> None:  # type: ignore[no-untyped-def]
    checkpoint = tiny_checkpoint(family)
    requests = sample_requests(4)
    family_adapter = load_adapter_class(family)(str(checkpoint))
    auto = AutoAdapter(str(checkpoint), prompt_format=prompt_format)
    family_adapter.load()
    auto.load()
    try:
        assert _comparable(auto.understand(requests, SETTINGS)) == _comparable(
            family_adapter.understand(requests, SETTINGS)
        )
        want, got = family_adapter.info, auto.info
        assert got.paradigm.connector is want.paradigm.connector
        assert got.paradigm.family == family == auto.model_type
        assert got.parameters == want.parameters
        assert (got.paradigm.vision_encoder, got.paradigm.llm_backbone) == (
            want.paradigm.vision_encoder,
            want.paradigm.llm_backbone,
        )
        assert got.checkpoint_hash == want.checkpoint_hash
    finally:
        family_adapter.close()
        auto.close()


@pytest.fixture(scope="module")
def auto_dir(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("auto-models")
    built: dict[str, Path] = {}

    def get(model_type: str) -> Path:
        if model_type not in built:
            built[model_type] = auto_models.build(model_type, root / model_type)
        return built[model_type]

    return get


def test_at_least_six_model_types_have_no_family_adapter() -> None:
    families = set(registry.names(registry.ADAPTER_GROUP))
    assert len([t for t in auto_models.MODEL_TYPES if t not in families]) >= 6


@pytest.mark.parametrize("model_type", auto_models.MODEL_TYPES)
def test_model_type_without_a_family_adapter(auto_dir, model_type: str) -> None:  # type: ignore[no-untyped-def]
    assert model_type not in registry.names(registry.ADAPTER_GROUP)
    checkpoint = auto_dir(model_type)
    adapter = AutoAdapter(str(checkpoint))
    adapter.load()
    try:
        info = adapter.info
        assert info.name == "auto" and info.checkpoint == str(checkpoint)
        assert info.paradigm.family == model_type and info.paradigm.connector is CONNECTORS[model_type]
        assert info.paradigm.vision_encoder and info.paradigm.llm_backbone
        params = dict(info.parameters)
        total = params.pop("total")
        assert all(params.get(g, 0) > 0 for g in ("vision", "connector", "llm")), info.parameters
        assert sum(params.values()) == total == sum(p.numel() for p in adapter.model.parameters())
        assert info.visual_tokens_per_image and info.visual_tokens_per_image > 0
        assert info.checkpoint_hash and info.checkpoint_hash.startswith("sha256:")
        assert info.chat_template and info.model_class.endswith("ForConditionalGeneration")
        json.dumps(info.to_dict())

        requests = sample_requests(3)
        check_responses(requests, adapter.understand(requests, SETTINGS), SETTINGS)
        check_batching(adapter, sample_requests(4), SETTINGS)
        check_output_depends_on_image(adapter, SETTINGS)
        check_fidelity(adapter, sample_requests(1)[0], SETTINGS, direct_inputs=_direct_inputs(adapter))
    finally:
        adapter.close()


def _direct_inputs(adapter: AutoAdapter):  # type: ignore[no-untyped-def]
    """transformers' own path for one prompt (the adapter's BOS rule applied by hand)."""

    def inputs(processor, prompt, images):  # type: ignore[no-untyped-def]
        bos = processor.tokenizer.bos_token
        return processor(
            text=[prompt],
            images=[images] if adapter.model_type not in ("qwen3_vl", "llava_onevision") else images,
            return_tensors="pt",
            add_special_tokens=not (bos and prompt.startswith(bos)),
        )

    return inputs


def test_no_chat_template_needs_a_prompt_format(tiny_checkpoint) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match="--prompt-format"):
        AutoAdapter(str(tiny_checkpoint("paligemma"))).load()
    with pytest.raises(ConfigError, match=r"\{text\}"):
        AutoAdapter("x", prompt_format="no placeholder")


def test_run_command_with_auto(auto_dir, shapes_dir: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "run"
    argv = ["run", "--adapter", "auto", "--model", str(auto_dir("gemma3")), "--suite", "vqa", "--limit", "3",
            "--data", str(shapes_dir), "--out", str(out), "--no-report", "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    run = json.loads((out / "run.json").read_text())
    assert run["adapter"]["name"] == "auto"
    assert run["adapter"]["paradigm"]["family"] == "gemma3"
    assert run["adapter"]["paradigm"]["connector"] == "mlp"
    lines = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert len(lines) == 3 and all(r["error"] is None for r in lines)


def test_prompt_format_is_part_of_the_run_identity(tiny_checkpoint, shapes_dir: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "run"
    argv = ["run", "--adapter", "auto", "--model", str(tiny_checkpoint("paligemma")), "--suite", "vqa",
            "--limit", "2", "--data", str(shapes_dir), "--out", str(out), "--no-report", "--no-progress",
            "--prompt-format", "{images}{text}"]  # fmt: skip
    assert main(argv) == 0
    run = json.loads((out / "run.json").read_text())
    assert run["config"]["prompt_format"] == "{images}{text}"
    assert run["adapter"]["chat_template"] == "{images}{text}"
    # another format is another run: refused in the same directory
    assert main([*argv[:-1], "Q: {text} A:{images}"]) == 2
