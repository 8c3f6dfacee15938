"""End-to-end `mllm-bench run` with the tiny LLaVA on Shapes: logs, run.json, errors, resume."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mllmbench.adapters.llava import LlavaAdapter
from mllmbench.cli.main import main
from mllmbench.core import registry
from mllmbench.suites.vqa_suite import VQAFormatSuite

SAMPLE_FIELDS = {
    "sample_id",
    "suite",
    "image",
    "prompt",
    "output",
    "answer",
    "references",
    "scores",
    "timing",
    "error",
}


def _lines(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines()]


def _run(args: list[str]) -> int:
    return main(["run", "--no-progress", *args])


@pytest.fixture(scope="module")
def vqa_run(tmp_path_factory: pytest.TempPathFactory, tiny_llava: Path, shapes_dir: Path) -> Path:
    out = tmp_path_factory.mktemp("run") / "vqa"
    code = _run(
        [
            "--adapter",
            "llava",
            "--model",
            str(tiny_llava),
            "--suite",
            "vqa",
            "--limit",
            "12",
            "--batch-size",
            "4",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    return out


def test_sample_log_has_every_field(vqa_run: Path, shapes_dir: Path) -> None:
    lines = _lines(vqa_run)
    assert len(lines) == 12
    questions = json.loads((shapes_dir / "vqa/questions.json").read_text())["questions"]
    by_id = {str(q["question_id"]): q for q in questions}
    for rec in lines:
        assert rec.keys() >= SAMPLE_FIELDS
        assert rec["error"] is None and rec["suite"] == "vqa"
        q = by_id[rec["sample_id"]]
        # The recorded prompt is the chat-templated text around the suite's wording of this question.
        assert q["question"] in rec["prompt"] and rec["prompt"].startswith("USER: <image>")
        assert rec["answer"] == rec["output"].strip()
        assert len(rec["references"]) == 10
        assert 0.0 <= rec["scores"]["vqa_accuracy"] <= 1.0
        assert rec["tokens"]["image"] == 16 and rec["tokens"]["input"] > 16
        assert Path(rec["image"]).is_file()


def test_run_json_has_metrics_and_provenance(vqa_run: Path) -> None:
    run = json.loads((vqa_run / "run.json").read_text())
    assert run["schema_version"] == 2 and run["status"] == "ok"
    assert len(run["run_id"]) == 12
    assert run["adapter"]["paradigm"]["connector"] == "mlp"
    assert run["adapter"]["visual_tokens_per_image"] == 16
    assert run["adapter"]["checkpoint_hash"].startswith("sha256:")
    prov = run["provenance"]
    for key in ("mllm_bench", "python", "libraries", "device", "device_name"):
        assert key in prov
    assert prov["libraries"]["torch"] and prov["libraries"]["transformers"]
    vqa = run["suites"]["vqa"]
    assert vqa["n_samples"] == 12 and vqa["n_done"] == 12 and vqa["n_errors"] == 0
    assert vqa["dataset"]["fingerprint"]
    acc = vqa["metrics"]["vqa_accuracy"]
    scores = [r["scores"]["vqa_accuracy"] for r in _lines(vqa_run)]
    assert acc["n"] == 12
    assert acc["value"] == pytest.approx(100 * sum(scores) / len(scores))
    assert run["config"]["batch_size"] == 4 and run["config"]["limit"] == 12


def test_rerun_resumes_without_recomputing(vqa_run: Path, tiny_llava: Path, tmp_path: Path) -> None:
    # Simulate a crash: keep 5 finished lines plus a torn sixth, and no run.json.
    run_dir = tmp_path / "crashed"
    run_dir.mkdir()
    full = (vqa_run / "samples.jsonl").read_text().splitlines()
    marker = "RESUMED-NOT-RECOMPUTED"
    kept = [json.loads(x) for x in full[:5]]
    for rec in kept:
        rec["output"] = marker  # if these were recomputed the marker would vanish
    text = "".join(json.dumps(r) + "\n" for r in kept) + full[5][: len(full[5]) // 2]
    (run_dir / "samples.jsonl").write_text(text)
    code = _run(
        [
            "--adapter",
            "llava",
            "--model",
            str(tiny_llava),
            "--suite",
            "vqa",
            "--limit",
            "12",
            "--batch-size",
            "4",
            "--out",
            str(run_dir),
            "--no-report",
        ]
    )
    assert code == 0
    lines = _lines(run_dir)
    assert [r["sample_id"] for r in lines] == [r["sample_id"] for r in _lines(vqa_run)]
    assert sum(r["output"] == marker for r in lines) == 5
    fresh = json.loads((vqa_run / "run.json").read_text())["suites"]["vqa"]["metrics"]
    resumed = json.loads((run_dir / "run.json").read_text())["suites"]["vqa"]["metrics"]
    assert resumed == fresh


def test_overwrite_and_config_mismatch(vqa_run: Path, tiny_llava: Path, tmp_path: Path, capsys) -> None:
    run_dir = tmp_path / "copy"
    shutil.copytree(vqa_run, run_dir)
    code = _run(
        [
            "--adapter",
            "llava",
            "--model",
            str(tiny_llava),
            "--suite",
            "vqa",
            "--limit",
            "6",
            "--out",
            str(run_dir),
            "--no-report",
        ]
    )
    assert code == 2
    assert "different configuration" in capsys.readouterr().err
    code = _run(
        [
            "--adapter",
            "llava",
            "--model",
            str(tiny_llava),
            "--suite",
            "vqa",
            "--limit",
            "6",
            "--out",
            str(run_dir),
            "--no-report",
            "--overwrite",
        ]
    )
    assert code == 0
    assert len(_lines(run_dir)) == 6


class FlakyLlava(LlavaAdapter):
    """A real LLaVA that raises inside the model call for one chosen sample (fault injection)."""

    name = "flaky_llava"
    bad_ids = frozenset({"2001"})

    def understand(self, batch, settings):  # type: ignore[no-untyped-def]
        if any(r.sample_id in self.bad_ids for r in batch):
            raise RuntimeError("simulated failure inside the model")
        return super().understand(batch, settings)


def _corrupt_copy(shapes_dir: Path, tmp_path: Path) -> Path:
    data = tmp_path / "shapes"
    shutil.copytree(shapes_dir, data)
    (data / "images" / "shapes_000000000001.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    return data


def test_bad_samples_are_recorded_and_the_run_goes_on(
    tiny_llava: Path, shapes_dir: Path, tmp_path: Path, capsys
) -> None:
    registry.register(registry.ADAPTER_GROUP, "flaky_llava", f"{__name__}:FlakyLlava")
    try:
        data = _corrupt_copy(shapes_dir, tmp_path)
        out = tmp_path / "run"
        code = _run(
            [
                "--adapter",
                "flaky_llava",
                "--model",
                str(tiny_llava),
                "--suite",
                "vqa",
                "--limit",
                "9",
                "--batch-size",
                "4",
                "--data",
                str(data),
                "--out",
                str(out),
                "--no-report",
            ]
        )
    finally:
        registry.unregister(registry.ADAPTER_GROUP, "flaky_llava")
    assert code == 1
    lines = {r["sample_id"]: r for r in _lines(out)}
    assert len(lines) == 9
    # image 1 carries questions 1000..1002: all fail with a message naming the file
    for qid in ("1000", "1001", "1002"):
        assert "shapes_000000000001.png" in lines[qid]["error"]
    assert "simulated failure" in lines["2001"]["error"]
    # its batch-mates were retried one by one and succeeded
    ok = [r for r in lines.values() if r["error"] is None]
    assert len(ok) == 5 and all(r["answer"] is not None for r in ok)
    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "errors"
    assert run["suites"]["vqa"]["n_errors"] == 4
    assert run["suites"]["vqa"]["metrics"]["vqa_accuracy"]["n"] == 5
    assert "4 sample(s) failed" in capsys.readouterr().err


def test_fail_fast_stops_at_first_failure(tiny_llava: Path, shapes_dir: Path, tmp_path: Path) -> None:
    data = _corrupt_copy(shapes_dir, tmp_path)
    out = tmp_path / "run"
    code = _run(
        [
            "--adapter",
            "llava",
            "--model",
            str(tiny_llava),
            "--suite",
            "vqa",
            "--limit",
            "9",
            "--data",
            str(data),
            "--out",
            str(out),
            "--no-report",
            "--fail-fast",
        ]
    )
    assert code == 1
    assert _lines(out)[0]["error"] is not None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--adapter", "nope"], "unknown adapter 'nope'"),
        (["--adapter", "llava", "--suite", "vqa,nosuch"], "unknown suite 'nosuch'"),
        (["--adapter", "llava", "--model", "/does/not/exist"], "model path does not exist"),
        (["--adapter", "llava", "--suite", "needs_generation"], "needs the generate capability"),
    ],
)
def test_config_errors_are_one_line_before_loading(
    args: list[str], message: str, tmp_path: Path, capsys
) -> None:
    registry.register(registry.SUITE_GROUP, "needs_generation", f"{__name__}:GenerationOnlySuite")
    try:
        code = _run([*args, "--out", str(tmp_path / "x")])
    finally:
        registry.unregister(registry.SUITE_GROUP, "needs_generation")
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "x").exists()


class GenerationOnlySuite(VQAFormatSuite):
    """A suite that needs image generation, to check the capability guard."""

    from mllmbench.adapters.base import Capability as _C

    name = "needs_generation"
    requires = _C.GENERATE


def test_help_does_not_import_torch() -> None:
    code = (
        "import sys; from mllmbench.cli.main import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "for sub in ['run', 'score', 'list', 'report', 'data', 'tiny']:\n"
        "    try:\n        main([sub, '--help'])\n    except SystemExit:\n        pass\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
        "assert 'transformers' not in sys.modules, 'transformers imported'\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr


class OomAboveTwo(LlavaAdapter):
    """A real LLaVA whose batches above 2 raise the accelerator's out-of-memory error."""

    name = "oom_llava"
    calls: list[int] = []

    def understand(self, batch, settings):  # type: ignore[no-untyped-def]
        import torch

        type(self).calls.append(len(batch))
        if len(batch) > 2:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (simulated)")
        return super().understand(batch, settings)


def test_out_of_memory_halves_the_batch_and_retries(
    vqa_run: Path, tiny_llava: Path, tmp_path: Path, capsys
) -> None:
    registry.register(registry.ADAPTER_GROUP, "oom_llava", f"{__name__}:OomAboveTwo")
    try:
        out = tmp_path / "oom"
        code = _run(
            [
                "--adapter",
                "oom_llava",
                "--model",
                str(tiny_llava),
                "--suite",
                "vqa",
                "--limit",
                "12",
                "--batch-size",
                "8",
                "--out",
                str(out),
                "--no-report",
            ]
        )
    finally:
        registry.unregister(registry.ADAPTER_GROUP, "oom_llava")
    assert code == 0
    # 8 -> 4 -> 2 + 2, then the batch size stays at 2 for the rest of the run
    # 8 fails, its first half (4) fails, then 2 + 2; the second half and the next batch (4 samples)
    # go straight out in twos: the smaller size is kept for the rest of the run
    assert OomAboveTwo.calls == [8, 4, 2, 2, 2, 2, 2, 2]
    assert "out of memory on a batch of 8" in capsys.readouterr().err
    lines = _lines(out)
    assert all(r["error"] is None for r in lines)
    assert [r["output"] for r in lines] == [r["output"] for r in _lines(vqa_run)]


def test_full_disk_stops_clearly_and_keeps_what_was_written(
    tiny_llava: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    import errno

    from mllmbench.core import jsonio

    real_append = jsonio.append_jsonl_lines
    written = []

    def append_until_full(path, records):  # type: ignore[no-untyped-def]
        if len(written) >= 4:  # the first batch's lines are written, the second batch's are not
            raise OSError(errno.ENOSPC, "No space left on device")
        written.extend(r["sample_id"] for r in records)
        real_append(path, records)

    monkeypatch.setattr(jsonio, "append_jsonl_lines", append_until_full)
    out = tmp_path / "full"
    args = [
        "--adapter",
        "llava",
        "--model",
        str(tiny_llava),
        "--suite",
        "vqa",
        "--limit",
        "12",
        "--batch-size",
        "4",
        "--out",
        str(out),
        "--no-report",
    ]
    assert _run(args) == 4
    err = capsys.readouterr().err
    assert "No space left on device" in err and "samples.jsonl" in err and "resume" in err
    assert sorted(r["sample_id"] for r in _lines(out)) == sorted(written)  # folded into dataset order
    monkeypatch.setattr(jsonio, "append_jsonl_lines", real_append)
    assert _run(args) == 0
    assert len(_lines(out)) == 12


def test_rescore_recomputes_metrics_without_the_model(
    vqa_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mllmbench.suites.metrics.exact_match import ExactMatch
    from mllmbench.suites.metrics.vqa import VQAAccuracy
    from mllmbench.suites.shapes_suites import ShapesVQASuite

    run_dir = tmp_path / "r"
    shutil.copytree(vqa_run, run_dir)
    before = json.loads((run_dir / "run.json").read_text())

    def no_model(self):  # type: ignore[no-untyped-def]
        raise AssertionError("rescore must not load the model")

    monkeypatch.setattr(LlavaAdapter, "load", no_model)
    assert main(["rescore", str(run_dir), "--no-report"]) == 0
    same = json.loads((run_dir / "run.json").read_text())
    assert same["suites"]["vqa"]["metrics"] == before["suites"]["vqa"]["metrics"]
    # a metric added to the suite later is computed from the logged answers
    monkeypatch.setattr(ShapesVQASuite, "metrics", lambda self: [VQAAccuracy("lmms_eval"), ExactMatch()])
    assert main(["rescore", str(run_dir), "--no-report"]) == 0
    after = json.loads((run_dir / "run.json").read_text())
    assert after["suites"]["vqa"]["metrics"]["exact_match"]["n"] == 12
    assert after["run_id"] == before["run_id"] and "rescored" in after
    assert _lines(run_dir) == _lines(vqa_run)


def test_response_cache_reuses_outputs_across_runs(
    vqa_run: Path, tiny_llava: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLLMBENCH_CACHE", str(tmp_path / "cache"))
    args = [
        "--adapter",
        "llava",
        "--model",
        str(tiny_llava),
        "--suite",
        "vqa",
        "--limit",
        "12",
        "--batch-size",
        "4",
        "--no-report",
        "--response-cache",
    ]
    assert _run([*args, "--out", str(tmp_path / "first")]) == 0
    entries = list((tmp_path / "cache" / "responses").rglob("*.json"))
    assert len(entries) == 12
    calls = []
    real = LlavaAdapter.understand

    def counting(self, batch, settings):  # type: ignore[no-untyped-def]
        calls.append(len(batch))
        return real(self, batch, settings)

    monkeypatch.setattr(LlavaAdapter, "understand", counting)
    assert _run([*args, "--out", str(tmp_path / "second")]) == 0
    assert calls == []  # every response came from the cache
    second = _lines(tmp_path / "second")
    assert [r["output"] for r in second] == [r["output"] for r in _lines(vqa_run)]
    assert all(r["timing"]["cached"] for r in second)
    # other generation settings are another identity: the model runs again
    assert _run([*args, "--max-new-tokens", "4", "--out", str(tmp_path / "third")]) == 0
    assert sum(calls) == 12


def test_per_suite_data_directories(tiny_llava: Path, shapes_dir: Path, tmp_path: Path, capsys) -> None:
    from mllmbench.cli.commands.run import parse_data_args

    assert parse_data_args([]) == (None, ())
    assert parse_data_args(["/d", "vqa=/v", "caption=/c"]) == ("/d", (("caption", "/c"), ("vqa", "/v")))
    copy = tmp_path / "copy"
    shutil.copytree(shapes_dir, copy)
    out = tmp_path / "run"
    args = ["--model", str(tiny_llava), "--suite", "vqa", "--limit", "2", "--no-report", "--out", str(out)]
    assert _run([*args, "--data", f"vqa={copy}"]) == 0
    run = json.loads((out / "run.json").read_text())
    assert run["suites"]["vqa"]["dataset"]["path"] == str(copy)
    assert run["config"]["suite_data"] == [["vqa", str(copy)]]
    assert _run([*args, "--data", f"gqa={copy}", "--overwrite"]) == 2
    assert "--data names suite 'gqa'" in capsys.readouterr().err
