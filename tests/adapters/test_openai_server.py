"""The openai adapter against a real server: `transformers serve` on the tiny LLaVA (CPU, offline).

* At concurrency 4 the served answers equal the local ``llava`` adapter's for the same requests
  (greedy), with the same prompt and answer token counts, so the chat template is applied the same.
  Whole (non-streamed) answers are equal exactly; streamed answers lack only an incomplete UTF-8
  character at the very end, which a streaming detokenizer holds back and never sends (the tiny
  random model often ends mid-character; a local decode shows it as U+FFFD).
* ``--serve`` starts the server, runs, and stops the whole process group.
* A server killed mid-run: the run ends within its timeouts, the unfinished samples are
  recorded as failed, exit 1; restarted, the same command completes with the answers of an
  uninterrupted run.

Each test starts ``transformers serve`` on 127.0.0.1 and a free port (a few seconds on a CPU).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mllmbench.adapters.openai_compat import OpenAIAdapter
from mllmbench.adapters.openai_compat.serve import ServerProcess, answers
from mllmbench.core.types import GenerationSettings
from mllmbench.testing.adapter_contract import sample_requests

pytest.importorskip("fastapi", reason="transformers serve needs the serve extra (fastapi, uvicorn)")
pytest.importorskip("uvicorn", reason="transformers serve needs the serve extra (fastapi, uvicorn)")

pytestmark = pytest.mark.slow

TRANSFORMERS_CLI = Path(sys.executable).with_name("transformers")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve_command(checkpoint: Path, port: int) -> str:
    """`transformers serve` of `checkpoint` on 127.0.0.1:`port`, CPU, float32 (what the local run uses)."""
    return shlex.join([
        str(TRANSFORMERS_CLI), "serve", str(checkpoint), "--host", "127.0.0.1", "--port", str(port),
        "--device", "cpu", "--dtype", "float32", "--log-level", "warning",
    ])  # fmt: skip


@pytest.fixture(scope="module")
def llava_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny LLaVA built with the llava adapter's recipe into a temporary directory."""
    from mllmbench.adapters.llava import LlavaAdapter

    return LlavaAdapter.build_tiny(tmp_path_factory.mktemp("tiny") / "llava")


def _start(checkpoint: Path, port: int, log_path: Path) -> ServerProcess:
    server = ServerProcess(serve_command(checkpoint, port), log_path=log_path)
    server.start()
    server.wait_until_ready([f"http://127.0.0.1:{port}/v1"], timeout=120)
    return server


@pytest.fixture(scope="module")
def server(llava_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A running `transformers serve` of the tiny LLaVA; yields its base URL."""
    port = _free_port()
    process = _start(llava_dir, port, tmp_path_factory.mktemp("serve") / "serve.log")
    yield f"http://127.0.0.1:{port}/v1"
    process.stop()


@pytest.fixture(scope="module")
def local_answers(llava_dir: Path):  # type: ignore[no-untyped-def]
    from mllmbench.adapters.llava import LlavaAdapter

    adapter = LlavaAdapter(str(llava_dir))
    adapter.load()
    try:
        return adapter.understand(sample_requests(8), GenerationSettings(max_new_tokens=12))
    finally:
        adapter.close()


def _served(base_url: str, model: str, *, stream: bool):  # type: ignore[no-untyped-def]
    adapter = OpenAIAdapter(model, base_urls=[base_url], concurrency=4, stream=stream)
    adapter.load()
    try:
        return adapter.understand(sample_requests(8), GenerationSettings(max_new_tokens=12)), adapter.info
    finally:
        adapter.close()


def test_whole_answers_at_concurrency_4_equal_the_local_llava_adapter(
    server: str, llava_dir: Path, local_answers
) -> None:  # type: ignore[no-untyped-def]
    served, info = _served(server, str(llava_dir), stream=False)
    assert [r.text for r in served] == [r.text for r in local_answers]
    # same prompt tokens: the server's chat template rendered the same prompt, images expanded alike
    assert [r.usage.input_tokens for r in served] == [r.usage.input_tokens for r in local_answers]
    assert [r.usage.output_tokens for r in served] == [r.usage.output_tokens for r in local_answers]
    assert info.checkpoint == str(llava_dir) and info.device == f"server: {server}"


def test_streamed_answers_equal_the_local_ones_and_carry_token_timings(
    server: str, llava_dir: Path, local_answers
) -> None:  # type: ignore[no-untyped-def]
    served, _ = _served(server, str(llava_dir), stream=True)
    for got, want in zip(served, local_answers, strict=True):
        # the only difference a streaming detokenizer makes: an incomplete last character is not
        # sent (then the whitespace before it is the end, stripped like every answer)
        held_back = want.text.rstrip("\ufffd").strip()
        assert got.text == want.text or (want.text.endswith("\ufffd") and got.text == held_back)
        assert got.usage.output_tokens == want.usage.output_tokens
        assert got.usage.input_tokens == want.usage.input_tokens
        profile = got.usage.profile
        assert profile is not None and 1 <= len(profile.token_seconds) <= got.usage.output_tokens
        assert list(profile.token_seconds) == sorted(profile.token_seconds)
        assert profile.prefill_seconds == profile.token_seconds[0] > 0


def _run_cli(args: list[str], *, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "mllmbench", "run", *args, "--no-report", "--no-progress"],
        capture_output=True, text=True, timeout=timeout, env=env, check=False,
    )  # fmt: skip


def _outputs(out: Path) -> dict[str, tuple[str | None, str | None]]:
    lines = map(json.loads, (out / "samples.jsonl").read_text().splitlines())
    return {r["sample_id"]: (r["output"], r["error"]) for r in lines}


def test_serve_starts_the_server_runs_and_stops_it(llava_dir: Path, shapes_dir: Path, tmp_path: Path) -> None:
    port = _free_port()
    url = f"http://127.0.0.1:{port}/v1"
    out = tmp_path / "run"
    res = _run_cli([
        "--adapter", "openai", "--model", str(llava_dir), "--base-url", url, "--serve",
        serve_command(llava_dir, port), "--suite", "vqa", "--limit", "3", "--data", str(shapes_dir),
        "--out", str(out),
    ])  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    assert all(error is None and output is not None for output, error in _outputs(out).values())
    assert not answers(url)  # stopped with the run
    leftover = subprocess.run(["pgrep", "-f", f"--port {port}"], capture_output=True, text=True, check=False)
    assert leftover.stdout.strip() == ""


def test_ctrl_c_stops_the_served_server(llava_dir: Path, shapes_dir: Path, tmp_path: Path) -> None:
    port = _free_port()
    url = f"http://127.0.0.1:{port}/v1"
    out = tmp_path / "run"
    argv = ["--adapter", "openai", "--model", str(llava_dir), "--base-url", url, "--serve",
            serve_command(llava_dir, port), "--suite", "vqa", "--limit", "200", "--batch-size", "2",
            "--max-new-tokens", "32", "--data", str(shapes_dir), "--out", str(out)]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    run = subprocess.Popen(
        [sys.executable, "-m", "mllmbench", "run", *argv, "--no-report", "--no-progress"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        log = out / "samples.jsonl"
        deadline = time.monotonic() + 120
        while not (log.exists() and log.read_text().count("\n") >= 2) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert answers(url), "the --serve server never answered"
        run.send_signal(signal.SIGINT)  # what Ctrl-C sends (the server has a process group of its own)
        stderr = run.communicate(timeout=60)[1]
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 130, stderr[-3000:]
    assert not answers(url)
    leftover = subprocess.run(["pgrep", "-f", f"--port {port}"], capture_output=True, text=True, check=False)
    assert leftover.stdout.strip() == ""


def test_killed_server_fails_the_unfinished_samples_and_a_restart_completes_the_run(
    llava_dir: Path, shapes_dir: Path, tmp_path: Path, server: str
) -> None:
    common = ["--adapter", "openai", "--model", str(llava_dir), "--suite", "vqa", "--limit", "24",
              "--batch-size", "2", "--concurrency", "2", "--max-new-tokens", "32", "--request-timeout", "5",
              "--max-retries", "1", "--data", str(shapes_dir)]  # fmt: skip
    reference = tmp_path / "reference"
    res = _run_cli([*common, "--base-url", server, "--out", str(reference)])
    assert res.returncode == 0, res.stderr[-3000:]

    port = _free_port()
    url = f"http://127.0.0.1:{port}/v1"
    victim = _start(llava_dir, port, tmp_path / "victim.log")
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    run = subprocess.Popen(
        [sys.executable, "-m", "mllmbench", "run", *common, "--base-url", url, "--out", str(out),
         "--no-report", "--no-progress"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        log = out / "samples.jsonl"
        deadline = time.monotonic() + 120
        while not (log.exists() and len(log.read_text().splitlines()) >= 2) and time.monotonic() < deadline:
            time.sleep(0.01)
        victim.stop()  # mid-run: later batches find no server
        killed_at = time.monotonic()
        stderr = run.communicate(timeout=120)[1]
    finally:
        if run.poll() is None:
            run.kill()
    # connection refused is retried once (backoff under a second), then the sample fails
    assert time.monotonic() - killed_at < 60
    assert run.returncode == 1, stderr[-3000:]
    first = _outputs(out)
    failed = [k for k, (_, error) in first.items() if error is not None]
    assert failed and len(first) == 24
    assert all(first[k][0] is None for k in failed)  # no placeholder answer
    assert json.loads((out / "run.json").read_text())["suites"]["vqa"]["n_errors"] == len(failed)

    restarted = _start(llava_dir, port, tmp_path / "restarted.log")
    try:
        res = _run_cli([*common, "--base-url", url, "--out", str(out)])
    finally:
        restarted.stop()
    assert res.returncode == 0, res.stderr[-3000:]
    assert _outputs(out) == _outputs(reference)


def test_transformers_cli_is_installed() -> None:
    assert TRANSFORMERS_CLI.exists() or shutil.which("transformers")
