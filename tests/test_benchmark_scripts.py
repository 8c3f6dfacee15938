"""The CPU-checkable parts of the benchmark scripts in benchmarks/: arguments, the commands they
run (valid `mllm-bench run` command lines), reading runs, and writing results."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

from mllmbench.cli.commands.run import config_from_args
from mllmbench.cli.main import build_parser, main

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCHMARKS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _run_config(cmd: list[str]):  # type: ignore[no-untyped-def]
    """The `RunConfig` mllm-bench itself makes of a ``python -m mllmbench run ...`` command."""
    argv = cmd[cmd.index("run") :]
    return config_from_args(build_parser(argv).parse_args(argv))


@pytest.fixture(scope="module")
def gpu() -> ModuleType:
    return _script("gpu_engines")


@pytest.fixture(scope="module")
def engine() -> ModuleType:
    return _script("engine_overhead")


@pytest.fixture(scope="module")
def tiny_run(tiny_llava: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bench") / "run"
    argv = ["run", "--no-progress", "--no-report", "--adapter", "llava", "--model", str(tiny_llava)]
    assert main([*argv, "--suite", "vqa", "--limit", "6", "--batch-size", "3", "--out", str(out)]) == 0
    return out


def test_gpu_engines_commands_are_valid_runs(gpu: ModuleType, tmp_path: Path) -> None:
    args = gpu.parse_args(
        ["--model", str(tmp_path), "--limit", "40", "--concurrency", "8", "--tensor-parallel", "2"]
    )
    plan = gpu.build_plan(args)
    local = _run_config(plan.local)
    assert (local.adapter, local.device, local.dtype, local.limit) == ("llava", "cuda", "bfloat16", 40)
    remote = _run_config(plan.openai)
    assert (remote.adapter, remote.concurrency, remote.base_urls) == ("openai", 8, (plan.base_url,))
    assert "--tensor-parallel-size 2" in plan.serve and plan.serve.startswith("vllm serve ")
    bench = plan.vllm_bench
    assert bench[bench.index("--max-concurrency") + 1] == "8"
    assert bench[bench.index("--num-prompts") + 1] == "40"


def test_gpu_engines_rejects_bad_arguments(gpu: ModuleType) -> None:
    for bad in (["--model", "m", "--steps", "local,nope"], ["--model", "m", "--limit", "0"], []):
        with pytest.raises(SystemExit) as exc:
            gpu.parse_args(bad)
        assert exc.value.code == 2


def test_gpu_engines_dry_run_prints_the_plan(gpu: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    assert gpu.main(["--model", "/models/x", "--dry-run"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in out] == ["local", "serve", "openai", "vllm_bench"]


def test_gpu_engines_reads_a_run_and_writes_named_results(
    gpu: ModuleType, tiny_run: Path, tmp_path: Path
) -> None:
    figures = gpu.run_figures(tiny_run, wall=100.0)
    assert figures["samples"] == 6 and figures["failed"] == 0
    assert figures["median_ttft_seconds"] > 0
    assert figures["samples_per_second_after_load"] == pytest.approx(6 / (100.0 - figures["load_seconds"]))
    result_file = tmp_path / "result.json"
    result_file.write_text(
        json.dumps({"completed": 40, "request_throughput": 3.5, "output_throughput": 99.0})
    )
    vllm = gpu.vllm_bench_figures(result_file)
    assert vllm["request_throughput"] == 3.5 and vllm["median_ttft_ms"] is None
    results = {"gpu": "NVIDIA H100 80GB HBM3", "steps": {"local": figures, "vllm_bench": vllm}}
    path = gpu.write_results(results, tmp_path / "out")
    assert path.name == "gpu_engines_h100.json"
    assert json.loads(path.read_text())["steps"]["local"]["samples"] == 6
    table = (tmp_path / "out" / "gpu_engines_h100.md").read_text()
    assert "| local |" in table and "random-mm" in table


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("NVIDIA H100 80GB HBM3", "h100"),
        ("NVIDIA H200", "h200"),
        ("NVIDIA A100-SXM4-80GB", "a100"),
        ("", "gpu"),
    ],
)
def test_gpu_slug(gpu: ModuleType, name: str, slug: str) -> None:
    assert gpu.gpu_slug(name) == slug


def test_engine_overhead_quick_arguments_and_commands(engine: ModuleType, tmp_path: Path) -> None:
    args = engine.parse_args(["--quick"])
    assert (args.rounds, args.mid_samples, args.tiny_samples, args.threads) == (3, 64, 300, 1)
    case = engine.Case("mid", tmp_path / "model", tmp_path / "data", 32, 8, 16)
    on = _run_config(engine.harness_cmd(case, tmp_path / "run", pipeline=True))
    off = _run_config(engine.harness_cmd(case, tmp_path / "run", pipeline=False))
    assert (on.pipeline, off.pipeline) == (True, False)
    assert (on.limit, on.batch_size, on.max_new_tokens, on.data_dir) == (32, 8, 16, str(tmp_path / "data"))
    with pytest.raises(SystemExit):
        engine.parse_args(["--paths", "harness"])  # the bare loop is the reference: always needed


def test_engine_overhead_agreement_and_results(engine: ModuleType, tiny_run: Path, tmp_path: Path) -> None:
    lines = [json.loads(x) for x in (tiny_run / "samples.jsonl").read_text().splitlines()]
    bare = tmp_path / "bare.jsonl"
    bare.write_text(
        "".join(json.dumps({"sample_id": r["sample_id"], "output": r["output"]}) + "\n" for r in lines[:5])
        + json.dumps({"sample_id": lines[5]["sample_id"], "output": "something else"})
        + "\n"
    )
    assert engine.agreement(tiny_run, bare) == pytest.approx(5 / 6)
    case = {"target": 0.9, "answers_equal_to_bare": 1.0, "median_wall_ratio_harness_vs_bare": 0.95}
    case["median_cpu_ratio_harness_vs_bare"] = 0.97
    path = engine.write_results({"cases": {"tiny": case}}, tmp_path / "out")
    assert json.loads(path.read_text())["cases"]["tiny"]["target"] == 0.9
    table = (tmp_path / "out" / "engine_overhead.md").read_text()
    assert "| tiny | >= 0.9 | 0.950 | 0.970 | nan | nan | 100% |" in table


def test_lmms_eval_compare_arguments_and_prompt(tiny_llava: Path) -> None:
    lmms = _script("lmms_eval_compare")
    with pytest.raises(SystemExit):
        lmms.parse_args([])  # where lmms-eval is installed must be given
    assert lmms.parse_args(["--lmms-path", "/x", "--quick"]).rounds == 3
    # llava_hf, given the script's template, sends the prompt the harness sends
    from transformers import AutoProcessor

    from mllmbench.adapters.llava import LlavaAdapter

    text = "Is the red circle on the left?\nAnswer the question using a single word or phrase."
    tokenizer = AutoProcessor.from_pretrained(tiny_llava).tokenizer
    messages = [{"role": "user", "content": f"<image>\n{text}"}]
    theirs = tokenizer.apply_chat_template(
        messages, chat_template=lmms.LLAVA_15_STRING_TEMPLATE, tokenize=False, add_generation_prompt=True
    )
    adapter = LlavaAdapter(str(tiny_llava))
    adapter.load()
    assert theirs == adapter.render_prompt(text, 1)
