"""LLaVA adapter on a tiny random checkpoint: contract, fidelity, batching, tiny builds, errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mllmbench.adapters.hf import checkpoint_hash, count_output_tokens, resolve_checkpoint
from mllmbench.adapters.llava import LlavaAdapter
from mllmbench.adapters.tiny.llava import IMAGE_TOKENS as TINY_IMAGE_TOKENS
from mllmbench.cli.commands.tiny import MARKER, ensure_tiny
from mllmbench.core.errors import ConfigError
from mllmbench.core.types import GenerationSettings, UnderstandRequest
from mllmbench.testing.adapter_contract import (
    check_fidelity,
    sample_requests,
    synthetic_image,
)

SETTINGS = GenerationSettings(max_new_tokens=8)


@pytest.fixture(scope="module")
def tiny_llava_dir(tiny_checkpoint: Callable[[str], Path]) -> Path:
    """The session's tiny llava checkpoint (shared: copy it before changing files)."""
    return tiny_checkpoint("llava")


@pytest.fixture(scope="module")
def llava_adapter(tiny_llava_dir: Path) -> Iterator[LlavaAdapter]:
    """The adapter loaded on the tiny checkpoint, float32 on the CPU."""
    adapter = LlavaAdapter(str(tiny_llava_dir))
    adapter.load()
    yield adapter
    adapter.close()


def test_prompt_and_token_counts_follow_llava_15(llava_adapter: LlavaAdapter) -> None:
    request = UnderstandRequest("a", (synthetic_image(0),), "What colour is the circle?")
    [response] = llava_adapter.understand([request], SETTINGS)
    assert response.prompt == "USER: <image>\nWhat colour is the circle? ASSISTANT:"
    assert response.usage.image_tokens == TINY_IMAGE_TOKENS == llava_adapter.info.visual_tokens_per_image
    text_ids = llava_adapter.tokenizer(response.prompt)["input_ids"]
    assert text_ids[0] == llava_adapter.tokenizer.bos_token_id
    # The one <image> placeholder becomes TINY_IMAGE_TOKENS positions.
    assert response.usage.input_tokens == len(text_ids) - 1 + TINY_IMAGE_TOKENS


def test_info_parameter_groups_match_the_model(llava_adapter: LlavaAdapter) -> None:
    inner = llava_adapter.model.model

    def count(module: object) -> int:
        return sum(p.numel() for p in module.parameters())  # type: ignore[attr-defined]

    params = llava_adapter.info.parameters
    assert params["vision"] == count(inner.vision_tower)
    assert params["connector"] == count(inner.multi_modal_projector)
    assert params["llm"] == count(inner.language_model) + count(llava_adapter.model.lm_head)
    assert (
        params["total"]
        == count(llava_adapter.model)
        == params["vision"] + params["connector"] + params["llm"]
    )
    paradigm = llava_adapter.info.paradigm
    assert (paradigm.vision_encoder, paradigm.llm_backbone) == ("CLIPVisionModel", "LlamaModel")
    assert str(paradigm.connector) == "mlp"


def test_fidelity_against_direct_transformers(llava_adapter: LlavaAdapter) -> None:
    for request in sample_requests(3):
        check_fidelity(llava_adapter, request, SETTINGS)


def test_eos_ends_the_count_and_padding_after_it_is_ignored(llava_adapter: LlavaAdapter) -> None:
    requests = sample_requests(8)
    [alone] = llava_adapter.understand([requests[0]], SETTINGS)
    tokenizer = llava_adapter.tokenizer
    # Make the third token sample 0 generates an EOS: it then stops early inside a batch of 8.
    inputs = llava_adapter.processor(
        text=[alone.prompt], images=list(requests[0].images), return_tensors="pt"
    )
    stop_id = int(llava_adapter.model.generate(**inputs, max_new_tokens=3, do_sample=False)[0, -1])
    generation_config = llava_adapter.model.generation_config
    original = generation_config.eos_token_id
    assert stop_id != tokenizer.pad_token_id
    try:
        generation_config.eos_token_id = [original, stop_id]
        batched = llava_adapter.understand(requests, SETTINGS)
        singles = [llava_adapter.understand([r], SETTINGS)[0] for r in requests]
    finally:
        generation_config.eos_token_id = original
    assert batched[0].usage.output_tokens <= 3
    assert [(r.text, r.usage.output_tokens) for r in batched] == [
        (r.text, r.usage.output_tokens) for r in singles
    ]
    assert any(r.usage.output_tokens == SETTINGS.max_new_tokens for r in batched), (
        "no sample ran to the limit"
    )


def test_loads_offline_in_a_fresh_process(
    tiny_llava_dir: Path, llava_adapter: LlavaAdapter, tmp_path: Path
) -> None:
    request = UnderstandRequest("a", (synthetic_image(2),), "Describe the image.")
    [expected] = llava_adapter.understand([request], SETTINGS)
    script = f"""
import json, sys
from mllmbench.core.types import GenerationSettings, UnderstandRequest
from mllmbench.adapters.llava import LlavaAdapter
from mllmbench.core.errors import MissingResourceError
from mllmbench.testing.adapter_contract import synthetic_image
adapter = LlavaAdapter({str(tiny_llava_dir)!r})
adapter.load()
request = UnderstandRequest("a", (synthetic_image(2),), "Describe the image.")
[response] = adapter.understand([request], GenerationSettings(max_new_tokens={SETTINGS.max_new_tokens}))
try:
    LlavaAdapter("no-such-org/no-such-model").load()
    hub = "loaded"
except MissingResourceError as exc:
    hub = "missing: " + str(exc)
print(json.dumps({{"text": response.text, "hash": adapter.info.checkpoint_hash, "hub": hub}}))
"""
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf-home"))
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["text"] == expected.text
    assert result["hash"] == llava_adapter.info.checkpoint_hash
    assert result["hub"].startswith("missing: ") and "no-such-org/no-such-model" in result["hub"]


def test_missing_path_is_a_config_error_before_torch_is_imported(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    script = f"""
import sys
from mllmbench.adapters.llava import LlavaAdapter
from mllmbench.cli.commands import tiny
from mllmbench.core.errors import ConfigError
from mllmbench.testing import adapter_contract
assert "torch" not in sys.modules and "transformers" not in sys.modules, "heavy import at module level"
try:
    LlavaAdapter({str(missing)!r}).load()
except ConfigError as exc:
    assert {str(missing)!r} in str(exc), exc
else:
    raise SystemExit("no ConfigError")
assert "torch" not in sys.modules, "torch imported before the path check"
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr + done.stdout


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"dtype": "float64"}, "dtype must be one of"),
        ({"device": "tpu"}, "device must be cpu, cuda or cuda:N"),
    ],
)
def test_bad_dtype_or_device_is_a_config_error(
    tiny_llava_dir: Path, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        LlavaAdapter(str(tiny_llava_dir), **kwargs).load()


def test_checkpoint_without_chat_template_is_a_config_error(tiny_llava_dir: Path, tmp_path: Path) -> None:
    import shutil

    copy = Path(shutil.copytree(tiny_llava_dir, tmp_path / "no-template"))
    (copy / "chat_template.jinja").unlink()
    with pytest.raises(ConfigError, match="no chat template"):
        LlavaAdapter(str(copy)).load()


def test_resolve_checkpoint(tmp_path: Path) -> None:
    assert resolve_checkpoint(str(tmp_path)) == tmp_path
    assert resolve_checkpoint("llava-hf/llava-1.5-7b-hf") is None
    (tmp_path / "weights.bin").write_bytes(b"x")
    for bad in (str(tmp_path / "missing"), "./missing", "a/b/c", str(tmp_path / "weights.bin")):
        with pytest.raises(ConfigError, match="model path"):
            resolve_checkpoint(bad)


def test_checkpoint_hash_reads_names_and_bytes(tmp_path: Path) -> None:
    assert checkpoint_hash(tmp_path) is None
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "a.safetensors").write_bytes(b"one")
    first = checkpoint_hash(tmp_path)
    (tmp_path / "config.json").write_text('{"changed": 1}')
    assert checkpoint_hash(tmp_path) == first
    (tmp_path / "a.safetensors").write_bytes(b"two")
    assert checkpoint_hash(tmp_path) != first


def test_count_output_tokens() -> None:
    assert count_output_tokens([5, 6, 2, 0, 0], {2}) == 3
    assert count_output_tokens([2, 0, 0], {2, 7}) == 1
    assert count_output_tokens([5, 6, 7], {2}) == 3
    assert count_output_tokens([5, 7, 2], {2, 7}) == 2


def test_ensure_tiny_builds_once_and_rebuilds_incomplete_dirs(tmp_path: Path) -> None:
    out = tmp_path / "llava"
    assert ensure_tiny("llava", out) == out
    marker = out / MARKER
    assert json.loads(marker.read_text()) == {"family": "llava", "seed": 0}
    weights = out / "model.safetensors"
    stamp = weights.stat().st_mtime_ns
    ensure_tiny("llava", out)
    assert weights.stat().st_mtime_ns == stamp, "a complete directory was rebuilt"
    marker.unlink()
    weights.write_bytes(b"half-written")
    ensure_tiny("llava", out)
    assert marker.exists() and weights.read_bytes() != b"half-written"
    LlavaAdapter(str(out)).load()


def test_tiny_command_prints_the_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from mllmbench.cli.main import main

    out = tmp_path / "cli"
    assert main(["tiny", "llava", "--out", str(out), "--seed", "3"]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    assert json.loads((out / MARKER).read_text()) == {"family": "llava", "seed": 3}
    assert main(["tiny", "no-such-family", "--out", str(out)]) == 2
