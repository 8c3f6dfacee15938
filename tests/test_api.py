"""The Python API: CLI defaults, the same numbers as the CLI, nothing written into the cwd."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import mllmbench
from mllmbench.cli.main import main
from mllmbench.core.errors import ConfigError
from mllmbench.core.paths import cache_root


def _metrics(run: dict) -> dict:
    return {
        s: {m: (v["value"], v["n"], v["ci_low"], v["ci_high"]) for m, v in r["metrics"].items()}
        for s, r in run["suites"].items()
    }


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory: pytest.TempPathFactory, shapes_dir: Path) -> Path:
    out = tmp_path_factory.mktemp("cli") / "run"
    assert (
        main(
            [
                "run",
                "--no-progress",
                "--no-report",
                "--suite",
                "vqa,caption",
                "--limit",
                "6",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    return out


def test_evaluate_returns_exactly_the_cli_numbers(
    cli_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = mllmbench.evaluate(suites=("vqa", "caption"), limit=6)  # the CLI's defaults: zoo:llava
    cli = json.loads((cli_run / "run.json").read_text())
    assert _metrics(result.to_dict()) == _metrics(cli) and _metrics(cli)["vqa"]
    assert result.run_id == cli["run_id"]  # same settings: default model, max_new_tokens 16 ...
    vqa = result.suites["vqa"]
    assert vqa.metrics["vqa_accuracy"].value == cli["suites"]["vqa"]["metrics"]["vqa_accuracy"]["value"]
    assert vqa.metrics["vqa_accuracy"].n == 6 and vqa.metrics["vqa_accuracy"].ci_low is not None
    assert result.config["max_new_tokens"] == 16
    # nothing in the working directory; the run sits under the user cache
    assert list(tmp_path.iterdir()) == []
    assert result.run_dir is not None and result.run_dir.parent == cache_root() / "runs"
    again = mllmbench.load_run(result.run_dir)
    assert again == result and again.suites["caption"].metrics["CIDEr"].n == 6


def test_bad_keyword_and_bad_value_raise_config_error_naming_them() -> None:
    with pytest.raises(ConfigError, match="batch_sise"):
        mllmbench.evaluate("llava", batch_sise=4)
    with pytest.raises(ConfigError, match="--batch-size must be at least 1, got 0"):
        mllmbench.evaluate("llava", batch_size=0)
    with pytest.raises(ConfigError, match="--limit must be at least 1, got -1"):
        mllmbench.evaluate("llava", limit=-1)


def test_import_is_light_and_api_is_lazy() -> None:
    code = (
        "import sys, mllmbench\n"
        "assert 'mllmbench.api' not in sys.modules\n"
        "assert callable(mllmbench.evaluate) and callable(mllmbench.load_run)\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ})
