"""RunConfig: the one source of defaults, validated once for the CLI and the API alike."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mllmbench.cli.main import main
from mllmbench.core.config import RunConfig, default
from mllmbench.core.device import check_device
from mllmbench.core.errors import ConfigError
from mllmbench.core.types import GenerationSettings

BAD = [
    (["--limit", "-1"], "--limit must be at least 1, got -1"),
    (["--limit", "0"], "--limit must be at least 1, got 0"),
    (["--batch-size", "0"], "--batch-size must be at least 1, got 0"),
    (["--batch-size", "-3"], "--batch-size must be at least 1, got -3"),
    (["--max-new-tokens", "0"], "--max-new-tokens must be at least 1, got 0"),
    (["--seed", "-1"], "--seed must be at least 0, got -1"),
    (["--steps", "0"], "--steps must be at least 1, got 0"),
    (["--guidance", "-1"], "--guidance must be at least 0, got -1"),
    (["--guidance", "nan"], "--guidance must be a finite number"),
    (["--temperature", "0"], "--temperature must be greater than 0, got 0"),
    (["--top-k", "0"], "--top-k must be at least 1, got 0"),
    (["--image-size", "4"], "--image-size must be at least 8, got 4"),
    (["--device", "gpu"], "--device must be cpu, cuda or cuda:N, got 'gpu'"),
    (["--device", "cuda:x"], "--device must be cpu, cuda or cuda:N"),
]


@pytest.mark.parametrize(("args", "message"), BAD)
def test_bad_settings_exit_2_before_any_model_load(
    args: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    from mllmbench.adapters.llava import LlavaAdapter

    def no_load(self: object) -> None:
        raise AssertionError("the model was loaded")

    monkeypatch.setattr(LlavaAdapter, "load", no_load)
    code = main(["run", "--no-progress", "--model", str(tmp_path), "--suite", "vqa", *args])
    assert code == 2
    assert message in capsys.readouterr().err


def test_max_new_tokens_has_one_default() -> None:
    assert default("max_new_tokens") == 16 == GenerationSettings().max_new_tokens
    assert RunConfig("llava", "", ("vqa",)).max_new_tokens == 16


def test_help_shows_the_runconfig_defaults() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "mllmbench", "run", "--help"], check=True, capture_output=True, text=True
    ).stdout
    flat = " ".join(out.split())
    assert "(default: 16)" in flat and f"(default: {default('batch_size')})" in flat
    assert "(default: cpu)" in flat and "(default: float32)" in flat


def test_validation_holds_for_python_callers_too() -> None:
    with pytest.raises(ConfigError, match="--dtype must be one of"):
        RunConfig("llava", "", ("vqa",), dtype="int4")
    with pytest.raises(ConfigError, match="--fid-mode must be one of"):
        RunConfig("llava", "", ("t2i",), fid_mode="fast")
    with pytest.raises(ConfigError, match="no suite given"):
        RunConfig("llava", "", ())
    assert check_device("cuda:1") == "cuda:1" and check_device(None) == "cpu"


def test_scoring_settings_enter_the_identity_only_when_resolved() -> None:
    plain = RunConfig("llava", "m", ("vqa",))
    assert "fid_extractor" not in plain.identity()
    t2i = RunConfig("diffusion", "m", ("t2i",), fid_extractor="none", fid_mode="clean")
    assert t2i.identity()["fid_extractor"] == "none" and t2i.identity()["fid_mode"] == "clean"


def test_t2i_suite_resolves_env_defaults_into_the_config(
    monkeypatch: pytest.MonkeyPatch, shapes_dir: Path
) -> None:
    from mllmbench.engine.plan import plan

    monkeypatch.setenv("MLLMBENCH_FID_EXTRACTOR", "none")
    monkeypatch.setenv("MLLMBENCH_FID_MODE", "legacy_pytorch")
    resolved = plan(RunConfig("diffusion", "", ("t2i",)), check_model=False).config
    assert resolved.fid_extractor == "none" and resolved.fid_mode == "legacy_pytorch"
    explicit = plan(RunConfig("diffusion", "", ("t2i",), fid_mode="clean"), check_model=False).config
    assert explicit.fid_mode == "clean"
    assert explicit.identity() != resolved.identity()
