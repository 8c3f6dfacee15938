"""A third-party package adds an adapter through an entry point, with no change to mllm-bench.

The example package ``examples/mllmbench-hello-adapter`` is pip-installed into a temporary
directory (``--target``, never into the environment) and made visible only to subprocesses
through ``PYTHONPATH``, where `importlib.metadata` finds its ``dist-info`` and entry point.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mllmbench.core import registry

pytestmark = pytest.mark.slow

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "mllmbench-hello-adapter"
DISTRIBUTION = "mllmbench-hello-adapter"


@pytest.fixture(scope="module")
def plugin_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding the installed example package (module + dist-info), for PYTHONPATH."""
    root = tmp_path_factory.mktemp("plugin")
    source = Path(shutil.copytree(EXAMPLE, root / "src"))  # pip builds in-tree: keep the repo clean
    target = root / "site"
    done = subprocess.run(
        [
            *(sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"),
            *("--no-deps", "--no-build-isolation", "--no-index", "--target", str(target), str(source)),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert (target / "mllmbench_hello" / "adapter.py").exists()
    assert any(target.glob("mllmbench_hello_adapter-*.dist-info/entry_points.txt"))
    return target


def _mllm_bench(
    args: list[str], plugin_path: Path | None, timeout: int = 300
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    if plugin_path is not None:
        env["PYTHONPATH"] = str(plugin_path)
    return subprocess.run(
        [sys.executable, "-m", "mllmbench", *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def test_nothing_leaks_into_this_environment(plugin_path: Path) -> None:
    assert "hello_llava" not in registry.names(registry.ADAPTER_GROUP)
    done = _mllm_bench(["list", "adapters"], None)
    assert done.returncode == 0, done.stderr
    assert "hello_llava" not in done.stdout and "llava" in done.stdout


def test_the_plugin_is_listed_with_its_package(plugin_path: Path) -> None:
    done = _mllm_bench(["list", "adapters"], plugin_path)
    assert done.returncode == 0, done.stderr
    [row] = [line.split() for line in done.stdout.splitlines() if line.startswith("hello_llava ")]
    assert row[1:5] == ["mlp", "none", "understand", DISTRIBUTION], row
    assert " ".join(row[5:]) == "Example plugin: LLaVA with a friendly prompt wrapper"


def test_the_plugin_passes_the_adapter_contract(plugin_path: Path, tiny_llava: Path) -> None:
    script = f"""
import json
from pathlib import Path
from mllmbench.core.types import GenerationSettings
from mllmbench.adapters.llava import LlavaAdapter
from mllmbench.testing.adapter_contract import check_fidelity, check_understanding_contract, sample_requests
from mllmbench_hello.adapter import HelloLlavaAdapter
assert issubclass(HelloLlavaAdapter, LlavaAdapter)
adapter = check_understanding_contract(HelloLlavaAdapter, Path({str(tiny_llava)!r}))
request = sample_requests(1)[0]
response = check_fidelity(adapter, request, GenerationSettings(max_new_tokens=6))
print(json.dumps(response.prompt))
"""
    env = dict(os.environ, PYTHONPATH=str(plugin_path))
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    prompt = json.loads(done.stdout.strip().splitlines()[-1])
    assert (
        prompt == "USER: <image>\nHello! Look at the picture carefully. What colour is the circle? ASSISTANT:"
    )


def test_the_plugin_runs_a_suite(
    plugin_path: Path, tiny_llava: Path, shapes_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    args = ["run", "--adapter", "hello_llava", "--model", str(tiny_llava), "--suite", "vqa", "--limit", "2"]
    done = _mllm_bench([*args, "--out", str(out), "--no-report", "--no-progress"], plugin_path)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert len(lines) == 2 and all(line["error"] is None for line in lines)
    for line in lines:
        assert line["prompt"].startswith("USER: <image>\nHello! Look at the picture carefully. ")
        assert line["text"] in line["prompt"]
    run = json.loads((out / "run.json").read_text())
    assert run["adapter"]["name"] == run["adapter"]["paradigm"]["family"] == "hello_llava"
    assert run["suites"]["vqa"]["n_done"] == 2
