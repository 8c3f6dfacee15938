"""Engines on a GPU: the local engine, the openai adapter over vLLM, and vLLM's own benchmark.

For a lent GPU machine with vLLM installed and a real checkpoint on disk (nothing is downloaded).
On the same questions (Shapes VQA, or ``--data`` in the VQAv2 layout), it measures, one after
another:

1. ``local``: ``mllm-bench run --adapter ADAPTER --device cuda`` (the pipelined local engine),
   whole process, model load included and reported apart (run.json ``load_seconds``);
2. ``openai``: ``vllm serve MODEL`` started once (``--tensor-parallel-size``), then
   ``mllm-bench run --adapter openai --concurrency C`` against it (the server's start is not
   timed; the run is);
3. ``bare_client``: the same requests through a bare ``AsyncOpenAI`` client at the same
   concurrency (`openai_overhead.bare_round`), which bounds what the adapter adds;
4. ``vllm_bench``: ``vllm bench serve`` on the same server with its synthetic multimodal dataset
   (``random-mm``) at the same concurrency, prompt count and output length, as vLLM reports
   its own throughput (not the same images, so a reference point, not a pair).

Throughput is samples (requests) per second and output tokens per second; the local and openai
runs also report median TTFT from samples.jsonl. Results go to
``--out/gpu_engines_<gpu>.json`` and ``.md`` (default ``benchmarks/results``).

    python benchmarks/gpu_engines.py --model /models/llava-1.5-7b-hf --adapter llava --limit 500
    python benchmarks/gpu_engines.py --model DIR --dry-run     # print the plan, run nothing
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
STEPS = ("local", "openai", "bare_client", "vllm_bench")


@dataclass(frozen=True)
class Plan:
    """Every command the benchmark runs, built from the arguments alone (no GPU needed)."""

    local: list[str]
    serve: str
    openai: list[str]
    vllm_bench: list[str]
    base_url: str


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line; `argparse` errors exit 2."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="local checkpoint directory (served by vLLM as-is)")
    parser.add_argument("--adapter", default="llava", help="local adapter for the checkpoint (or auto)")
    parser.add_argument("--suite", default="vqa")
    parser.add_argument("--data", help="VQAv2-layout directory (default: the built-in Shapes set)")
    parser.add_argument("--limit", type=int, default=500, help="questions")
    parser.add_argument("--batch-size", type=int, default=32, help="local engine batch size")
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight (openai, bare, vLLM)")
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--dtype", default="bfloat16")
    parser.add_argument("--tensor-parallel", type=int, default=1, help="vLLM --tensor-parallel-size")
    parser.add_argument("--port", type=int, default=8011)
    parser.add_argument("--max-model-len", type=int, default=4096)
    parser.add_argument("--steps", default=",".join(STEPS), help=f"comma-separated subset of {STEPS}")
    parser.add_argument("--work", type=Path, default=Path("gpu-engines-work"), help="runs and logs")
    parser.add_argument("--out", type=Path, default=HERE / "results", help="where the results go")
    parser.add_argument("--dry-run", action="store_true", help="print the commands and exit")
    args = parser.parse_args(argv)
    args.step_names = [s.strip() for s in args.steps.split(",") if s.strip()]
    unknown = sorted(set(args.step_names) - set(STEPS))
    if unknown:
        parser.error(f"unknown step(s) {unknown}; known: {', '.join(STEPS)}")
    for name in ("limit", "batch_size", "concurrency", "max_new_tokens", "tensor_parallel"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    return args


def build_plan(args: argparse.Namespace) -> Plan:
    """The commands of every step (pure: what ``--dry-run`` prints)."""
    py = sys.executable
    common = ["--suite", args.suite, "--limit", str(args.limit), "--max-new-tokens", str(args.max_new_tokens)]
    common += ["--overwrite", "--no-report", "--no-progress"] + (["--data", args.data] if args.data else [])
    local = [
        py,
        "-m",
        "mllmbench",
        "run",
        "--adapter",
        args.adapter,
        "--model",
        args.model,
        "--device",
        "cuda",
    ]
    local += [
        "--dtype",
        args.dtype,
        "--batch-size",
        str(args.batch_size),
        "--out",
        str(args.work / "local"),
        *common,
    ]
    base_url = f"http://127.0.0.1:{args.port}/v1"
    serve = shlex.join(
        ["vllm", "serve", args.model, "--host", "127.0.0.1", "--port", str(args.port), "--dtype", args.dtype]
        + ["--tensor-parallel-size", str(args.tensor_parallel), "--max-model-len", str(args.max_model_len)]
        + ["--served-model-name", args.model, "--limit-mm-per-prompt", '{"image": 1}']
    )
    openai = [
        py,
        "-m",
        "mllmbench",
        "run",
        "--adapter",
        "openai",
        "--model",
        args.model,
        "--base-url",
        base_url,
    ]
    openai += ["--concurrency", str(args.concurrency), "--out", str(args.work / "openai"), *common]
    bench = ["vllm", "bench", "serve", "--backend", "openai-chat", "--endpoint", "/v1/chat/completions"]
    bench += [
        "--base-url",
        f"http://127.0.0.1:{args.port}",
        "--model",
        args.model,
        "--dataset-name",
        "random-mm",
    ]
    bench += ["--num-prompts", str(args.limit), "--max-concurrency", str(args.concurrency)]
    bench += ["--random-output-len", str(args.max_new_tokens), "--ignore-eos"]
    bench += [
        "--save-result",
        "--result-dir",
        str(args.work / "vllm_bench"),
        "--result-filename",
        "result.json",
    ]
    return Plan(local, serve, openai, bench, base_url)


def run_figures(run_dir: Path, wall: float) -> dict[str, Any]:
    """Throughput and TTFT of an ``mllm-bench run`` directory timed at `wall` seconds."""
    lines = [json.loads(x) for x in (run_dir / "samples.jsonl").read_text(encoding="utf-8").splitlines() if x]
    ok = [r for r in lines if r.get("error") is None]
    run = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    load = float(run.get("load_seconds") or 0.0)
    tokens = sum(int((r.get("tokens") or {}).get("output") or 0) for r in ok)
    ttfts = [
        r["timing"]["ttft_seconds"] for r in ok if (r.get("timing") or {}).get("ttft_seconds") is not None
    ]
    busy = max(wall - load, 1e-9)
    return {
        "samples": len(lines),
        "failed": len(lines) - len(ok),
        "wall_seconds": wall,
        "load_seconds": load,
        "samples_per_second_after_load": len(ok) / busy,
        "output_tokens_per_second_after_load": tokens / busy,
        "median_ttft_seconds": statistics.median(ttfts) if ttfts else None,
    }


def vllm_bench_figures(result_file: Path) -> dict[str, Any]:
    """The fields of ``vllm bench serve --save-result`` that the comparison reads."""
    data = json.loads(result_file.read_text(encoding="utf-8"))
    keys = (
        "completed",
        "duration",
        "request_throughput",
        "output_throughput",
        "median_ttft_ms",
        "median_tpot_ms",
    )
    return {k: data.get(k) for k in keys}


def gpu_slug(name: str) -> str:
    """A file-name-safe short name of a GPU (``NVIDIA H100 80GB HBM3`` -> ``h100``)."""
    found = re.search(r"\b([A-Z]{1,2}\d{2,4}[A-Z]?)\b", name.upper())
    return found.group(1).lower() if found else re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "gpu"


def report(results: dict[str, Any]) -> str:
    """The markdown table of the results."""
    rows = ["| engine | samples/s | output tokens/s | median TTFT | failed |", "|---|---|---|---|---|"]
    for name in ("local", "openai", "bare_client"):
        r = results["steps"].get(name)
        if r:
            ttft = r.get("median_ttft_seconds")
            ttft_text = f"{1000 * ttft:.1f} ms" if ttft is not None else "-"
            tok = r.get("output_tokens_per_second_after_load")
            tok_text = f"{tok:.1f}" if tok is not None else "-"
            rows.append(
                f"| {name} | {r['samples_per_second_after_load']:.2f} | {tok_text} | {ttft_text} | {r.get('failed', 0)} |"
            )
    v = results["steps"].get("vllm_bench")
    if v:
        ttft = v.get("median_ttft_ms")
        rows.append(
            f"| vllm bench serve (random-mm) | {v.get('request_throughput') or 0:.2f} | "
            f"{v.get('output_throughput') or 0:.1f} | {'-' if ttft is None else f'{ttft:.1f} ms'} | - |"
        )
    return "\n".join(rows)


def write_results(results: dict[str, Any], out: Path) -> Path:
    """``out/gpu_engines_<gpu>.json`` and ``.md``; returns the JSON path."""
    out.mkdir(parents=True, exist_ok=True)
    stem = f"gpu_engines_{gpu_slug(results.get('gpu') or 'gpu')}"
    (out / f"{stem}.md").write_text(report(results) + "\n", encoding="utf-8")
    path = out / f"{stem}.json"
    path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return path


def _timed(cmd: list[str], log: Path) -> float:
    start = time.perf_counter()
    with log.open("w") as fh:
        done = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, check=False)
    if done.returncode not in (0, 1):  # 1: some samples failed, still measured (counted in 'failed')
        raise SystemExit(f"{shlex.join(cmd[:5])} ... exited {done.returncode}; see {log}")
    return time.perf_counter() - start


def bare_client(plan: Plan, args: argparse.Namespace) -> dict[str, Any]:
    """The suite's requests through a bare async client at the same concurrency (wall seconds)."""
    import asyncio

    sys.path.insert(0, str(HERE))
    from openai_overhead import bare_round

    from mllmbench.adapters.openai_compat.requests import chat_messages
    from mllmbench.core.images import open_rgb
    from mllmbench.suites.registry import load_suite_class

    suite = load_suite_class(args.suite)(Path(args.data) if args.data else None)
    samples = suite.load_samples(args.limit)
    start = time.perf_counter()
    messages = [chat_messages(s.text, tuple(open_rgb(p) for p in s.image_paths)) for s in samples]
    wall = time.perf_counter() - start
    wall += asyncio.run(
        bare_round(plan.base_url, args.model, messages, args.concurrency, args.max_new_tokens)
    )
    return {
        "samples": len(samples),
        "wall_seconds": wall,
        "samples_per_second_after_load": len(samples) / wall,
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    plan = build_plan(args)
    if args.dry_run:
        print("local:       " + shlex.join(plan.local))
        print("serve:       " + plan.serve)
        print("openai:      " + shlex.join(plan.openai))
        print("vllm_bench:  " + shlex.join(plan.vllm_bench))
        return 0
    import torch

    from mllmbench.adapters.openai_compat.serve import ServerProcess
    from mllmbench.engine import provenance

    args.work.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "args": {k: str(v) for k, v in vars(args).items()},
        "libraries": provenance.library_versions(),
        "steps": {},
    }
    if "local" in args.step_names:
        wall = _timed(plan.local, args.work / "local.log")
        results["steps"]["local"] = run_figures(args.work / "local", wall)
    served = [s for s in ("openai", "bare_client", "vllm_bench") if s in args.step_names]
    if served:
        server = ServerProcess(plan.serve, log_path=args.work / "vllm_serve.log")
        server.start()
        try:
            server.wait_until_ready([plan.base_url], timeout=1800)
            if "openai" in served:
                wall = _timed(plan.openai, args.work / "openai.log")
                results["steps"]["openai"] = run_figures(args.work / "openai", wall)
            if "bare_client" in served:
                results["steps"]["bare_client"] = bare_client(plan, args)
            if "vllm_bench" in served:
                _timed(plan.vllm_bench, args.work / "vllm_bench.log")
                results["steps"]["vllm_bench"] = vllm_bench_figures(args.work / "vllm_bench" / "result.json")
        finally:
            server.stop()
    print(report(results))
    print(f"wrote {write_results(results, args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
