"""The openai adapter's failure handling against a scripted local HTTP server, and resume of
failed samples (for the openai adapter and for a local adapter alike).

The fake server (127.0.0.1, a free port) answers ``GET /v1/models`` and plays a script of
statuses for ``POST /v1/chat/completions``: 429 and 500 until the script says ``ok``, then a
valid streamed answer. Every request it saw is counted, so retries are counted exactly.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from mllmbench.adapters.openai_compat import OpenAIAdapter
from mllmbench.adapters.openai_compat import requests as oai
from mllmbench.cli.main import main
from mllmbench.core import registry
from mllmbench.core.types import GenerationSettings
from mllmbench.testing.adapter_contract import sample_requests

MODEL = "fake-model"
ANSWER_CHUNKS = ("The ", "circle", " is red")


class FakeServer(ThreadingHTTPServer):
    """Plays `script` (one status per chat request, ``ok`` answers; past its end: ``ok``)."""

    daemon_threads = True

    def __init__(self, script: list[str]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.script = list(script)
        self.chat_requests: list[dict] = []
        self.lock = threading.Lock()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class _Handler(BaseHTTPRequestHandler):
    server: FakeServer

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - silence the test log
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        body = json.dumps({"object": "list", "data": [{"id": MODEL, "object": "model", "owned_by": "test"}]})
        self._send(200, body.encode(), "application/json")

    def do_POST(self) -> None:  # noqa: N802
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with self.server.lock:
            self.server.chat_requests.append(request)
            step = self.server.script.pop(0) if self.server.script else "ok"
        if step != "ok":
            self._send(
                int(step), json.dumps({"error": {"message": f"injected {step}"}}).encode(), "application/json"
            )
            return
        events = [{"choices": [{"index": 0, "delta": {"role": "assistant"}}]}]
        events += [{"choices": [{"index": 0, "delta": {"content": c}}]} for c in ANSWER_CHUNKS]
        events.append({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        events.append(
            {"choices": [], "usage": {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14}}
        )
        frame = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": MODEL}
        payload = "".join(f"data: {json.dumps({**frame, **e})}\n\n" for e in events) + "data: [DONE]\n\n"
        self._send(200, payload.encode(), "text/event-stream")

    def _send(self, status: int, body: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def fake_server(request: pytest.FixtureRequest) -> Iterator[FakeServer]:
    server = FakeServer(getattr(request, "param", []))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(oai, "BACKOFF_SECONDS", 0.01)
    monkeypatch.setattr(oai, "BACKOFF_MAX_SECONDS", 0.05)


def _adapter(server: FakeServer, **kwargs: object) -> OpenAIAdapter:
    adapter = OpenAIAdapter(MODEL, base_urls=[server.base_url], request_timeout=5.0, **kwargs)  # type: ignore[arg-type]
    adapter.load()
    return adapter


@pytest.mark.parametrize("fake_server", [["429", "500", "503", "ok"]], indirect=True)
def test_injected_429_and_500_are_retried(fake_server: FakeServer) -> None:
    adapter = _adapter(fake_server, max_retries=3, concurrency=1)
    try:
        [response] = adapter.understand(sample_requests(1), GenerationSettings(max_new_tokens=8, seed=3))
    finally:
        adapter.close()
    assert response.text == "The circle is red"
    assert len(fake_server.chat_requests) == 4  # three injected failures, then the answer
    sent = fake_server.chat_requests[-1]
    assert (
        sent["stream"] is True
        and sent["temperature"] == 0.0
        and sent["max_tokens"] == 8
        and sent["seed"] == 3
    )
    image, text = sent["messages"][0]["content"]
    assert image["image_url"]["url"].startswith("data:image/png;base64,")
    assert text == {"type": "text", "text": sample_requests(1)[0].text}
    usage = response.usage
    assert (usage.input_tokens, usage.output_tokens) == (11, 3)
    assert usage.profile is not None and len(usage.profile.token_seconds) == len(ANSWER_CHUNKS)
    assert usage.profile.prefill_seconds == usage.profile.token_seconds[0]


@pytest.mark.parametrize("fake_server", [["500"] * 10], indirect=True)
def test_a_request_failing_every_retry_raises_and_is_not_resent(fake_server: FakeServer) -> None:
    adapter = _adapter(fake_server, max_retries=2, concurrency=2)
    try:
        with pytest.raises(oai.RequestFailed, match="no answer after 3 attempt"):
            adapter.understand(sample_requests(2), GenerationSettings(max_new_tokens=4))
        assert len(fake_server.chat_requests) == 6  # 2 requests x 3 attempts
        # the runner's one-by-one isolation gets the stored outcomes without new requests
        with pytest.raises(oai.RequestFailed):
            adapter.understand(sample_requests(2)[:1], GenerationSettings(max_new_tokens=4))
        assert len(fake_server.chat_requests) == 6
    finally:
        adapter.close()


@pytest.mark.parametrize("fake_server", [["400"]], indirect=True)
def test_a_bad_request_is_not_retried(fake_server: FakeServer) -> None:
    adapter = _adapter(fake_server, max_retries=3)
    try:
        with pytest.raises(oai.RequestFailed, match="refused the request"):
            adapter.understand(sample_requests(1), GenerationSettings(max_new_tokens=4))
    finally:
        adapter.close()
    assert len(fake_server.chat_requests) == 1


def test_requests_spread_over_several_servers() -> None:
    servers = [FakeServer([]), FakeServer([])]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    adapter = OpenAIAdapter(MODEL, base_urls=[s.base_url for s in servers], concurrency=4)
    try:
        adapter.load()
        responses = adapter.understand(sample_requests(6), GenerationSettings(max_new_tokens=4))
        assert adapter.info.device == "server: " + ", ".join(s.base_url for s in servers)
    finally:
        adapter.close()
        for server in servers:
            server.shutdown()
            server.server_close()
    assert [r.text for r in responses] == ["The circle is red"] * 6
    assert [len(s.chat_requests) for s in servers] == [3, 3]


def test_unknown_model_and_missing_key_are_config_errors(fake_server: FakeServer, monkeypatch) -> None:
    from mllmbench.core.errors import ConfigError

    with pytest.raises(ConfigError, match="does not serve model 'other'"):
        OpenAIAdapter("other", base_urls=[fake_server.base_url]).load()
    monkeypatch.delenv("MY_KEY", raising=False)
    with pytest.raises(ConfigError, match="MY_KEY"):
        OpenAIAdapter(MODEL, base_urls=[fake_server.base_url], api_key_env="MY_KEY").load()
    with pytest.raises(ConfigError, match="--base-url"):
        OpenAIAdapter(MODEL).load()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _lines(out: Path) -> dict[str, dict]:
    return {r["sample_id"]: r for r in map(json.loads, (out / "samples.jsonl").read_text().splitlines())}


@pytest.mark.parametrize("fake_server", [["500"] * 4], indirect=True)
def test_failed_requests_are_errors_with_exit_1_and_a_rerun_retries_them(
    fake_server: FakeServer, shapes_dir: Path, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "run"
    argv = ["run", "--adapter", "openai", "--model", MODEL, "--base-url", fake_server.base_url, "--suite", "vqa",
            "--limit", "3", "--batch-size", "3", "--concurrency", "1", "--max-retries", "1",
            "--data", str(shapes_dir), "--out", str(out), "--no-report", "--no-progress"]  # fmt: skip
    assert main(argv) == 1
    lines = _lines(out)
    failed = [r for r in lines.values() if r["error"] is not None]
    assert len(failed) == 2 and all(r["answer"] is None and r["scores"] == {} for r in failed)
    assert all("injected 500" in r["error"] for r in failed)
    assert "2 sample(s) failed" in capsys.readouterr().err
    assert json.loads((out / "run.json").read_text())["suites"]["vqa"]["n_errors"] == 2
    before = len(fake_server.chat_requests)
    assert main(argv) == 0  # the script is spent: the failed samples are sent again and succeed
    assert len(fake_server.chat_requests) - before == 2  # only the failed two
    assert all(r["error"] is None and r["output"] == "The circle is red" for r in _lines(out).values())
    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "ok" and "api_key" not in json.dumps(run).lower().replace("api_key_env", "")
    assert run["config"]["base_urls"] == [fake_server.base_url]
    assert run["adapter"]["checkpoint"] == MODEL


def test_local_adapter_rerun_retries_failed_samples(
    tiny_llava: Path, shapes_dir: Path, tmp_path: Path, monkeypatch
) -> None:
    marker = tmp_path / "fail"
    marker.write_text("1001")
    monkeypatch.setenv("MLLMBENCH_TEST_FAIL_MARKER", str(marker))
    registry.register(registry.ADAPTER_GROUP, "fail_once_llava", f"{__name__}:FailOnceLlava")
    common = ["--model", str(tiny_llava), "--suite", "vqa", "--limit", "4", "--batch-size", "2",
              "--data", str(shapes_dir), "--no-report", "--no-progress"]  # fmt: skip
    try:
        out = tmp_path / "run"
        assert main(["run", "--adapter", "fail_once_llava", *common, "--out", str(out)]) == 1
        assert _lines(out)["1001"]["error"] is not None
        marker.write_text("")  # the cause is gone: the same command retries the failed sample
        assert main(["run", "--adapter", "fail_once_llava", *common, "--out", str(out)]) == 0
        ref = tmp_path / "ref"
        assert main(["run", "--adapter", "fail_once_llava", *common, "--out", str(ref)]) == 0
    finally:
        registry.unregister(registry.ADAPTER_GROUP, "fail_once_llava")
    resumed, clean = _lines(out), _lines(ref)
    assert resumed.keys() == clean.keys()
    assert all(resumed[k]["error"] is None and resumed[k]["output"] == clean[k]["output"] for k in clean)


def _make_fail_once() -> type:
    import os

    from mllmbench.adapters.llava import LlavaAdapter

    class FailOnceLlava(LlavaAdapter):
        """LLaVA that fails the sample ids listed in the marker file."""

        name = "fail_once_llava"

        def understand(self, batch, settings):  # type: ignore[no-untyped-def]
            bad = Path(os.environ["MLLMBENCH_TEST_FAIL_MARKER"]).read_text().split()
            if any(r.sample_id in bad for r in batch):
                raise RuntimeError("simulated failure")
            return super().understand(batch, settings)

    return FailOnceLlava


FailOnceLlava = _make_fail_once()


def test_response_cache_works_for_the_openai_adapter(
    fake_server: FakeServer, shapes_dir: Path, tmp_path: Path
) -> None:
    common = ["run", "--adapter", "openai", "--model", MODEL, "--base-url", fake_server.base_url, "--suite", "vqa",
              "--limit", "3", "--data", str(shapes_dir), "--response-cache", "--no-report", "--no-progress"]  # fmt: skip
    assert main([*common, "--out", str(tmp_path / "first")]) == 0
    sent = len(fake_server.chat_requests)
    assert sent == 3
    assert main([*common, "--out", str(tmp_path / "second")]) == 0
    assert len(fake_server.chat_requests) == sent  # every answer came from the cache
    second = _lines(tmp_path / "second")
    assert all(r["timing"].get("cached") and r["output"] == "The circle is red" for r in second.values())
