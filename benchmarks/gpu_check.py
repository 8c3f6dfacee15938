"""Exercise the CUDA timing and memory path on the tiny LLaVA and print the figures (a few minutes).

    python benchmarks/gpu_check.py --out DIR            # on a machine with a CUDA GPU
    python benchmarks/gpu_check.py --out DIR --device cpu   # the same flow on the CPU (dry run)

1. builds the tiny random LLaVA with mllmbench (``LlavaAdapter.build_tiny``) under DIR;
2. direct checks of the adapter on the device: the clock is CUDA events, prefill + decode
   agree with the synchronised wall time of ``generate``, token times increase, vision +
   connector time lies inside prefill; ``max_memory_allocated`` covers the weights,
   ``max_memory_reserved`` >= allocated, NVML (when ``pynvml`` is importable) >= reserved, and
   the activation memory (peak allocated minus allocated before) grows with the batch size;
3. ``mllm-bench run --suite vqa,efficiency`` on the device, in-process;
4. writes DIR/gpu_check.json (checks, direct figures, the efficiency metrics of run.json) and
   DIR/gpu_check.md (the same as tables), prints the markdown, and exits 1 if a check failed.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

MIB = 2**20


class Checks:
    """Named pass/fail results with the numbers behind them."""

    def __init__(self) -> None:
        self.results: list[dict[str, Any]] = []

    def check(self, name: str, ok: bool, detail: str) -> None:
        self.results.append({"check": name, "ok": bool(ok), "detail": detail})

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [r for r in self.results if not r["ok"]]


def direct_checks(model_dir: Path, args: argparse.Namespace, checks: Checks) -> dict[str, Any]:
    """Run the adapter on the device directly and check the timing and memory figures."""
    from mllmbench.adapters.base import GenerationSettings, UnderstandRequest
    from mllmbench.adapters.llava import LlavaAdapter
    from mllmbench.core.images import open_rgb
    from mllmbench.core.profiling import MemoryTracker, is_cuda
    from mllmbench.suites.shapes_suites import ShapesVQASuite

    adapter = LlavaAdapter(str(model_dir), device=args.device, dtype=args.dtype)
    adapter.load()
    samples = ShapesVQASuite().load_samples(args.batch_size)
    requests = [UnderstandRequest(s.sample_id, tuple(map(open_rgb, s.image_paths)), s.text) for s in samples]
    settings = GenerationSettings(max_new_tokens=args.max_new_tokens)
    figures: dict[str, Any] = {"weights_bytes": adapter.info.weights_bytes}
    for _ in range(3):  # warm-up: CUDA context, kernels, allocator
        adapter.understand(requests, settings)
        adapter.understand(requests[:1], settings)
    for size in (1, args.batch_size):
        with MemoryTracker(args.device) as memory:
            start = time.perf_counter()
            responses = adapter.understand(requests[:size], settings)
            wall = time.perf_counter() - start
        usage = responses[0].usage
        profile = usage.profile
        assert profile is not None
        row = {
            "call_seconds": wall,
            "generate_seconds": usage.batch_seconds,
            "preprocess_seconds": profile.preprocess_seconds,
            "prefill_seconds": profile.prefill_seconds,
            "decode_seconds": profile.decode_seconds,
            "vision_seconds": profile.vision_seconds,
            "output_tokens": [r.usage.output_tokens for r in responses],
            "clock": profile.clock,
            "memory": memory.figures,
        }
        figures[f"bs{size}"] = row
        total = profile.prefill_seconds + profile.decode_seconds
        want_clock = "cuda_events" if is_cuda(args.device) else "perf_counter"
        checks.check(f"bs{size}: clock", profile.clock == want_clock, f"{profile.clock} (want {want_clock})")
        checks.check(
            f"bs{size}: prefill + decode vs synchronised generate wall time",
            abs(total - usage.batch_seconds) <= 0.1 * usage.batch_seconds + 0.005,
            f"{total * 1000:.2f} ms vs {usage.batch_seconds * 1000:.2f} ms",
        )
        steps = profile.token_seconds
        checks.check(
            f"bs{size}: token times increase",
            all(b >= a for a, b in zip(steps, steps[1:], strict=False)) and steps[0] > 0,
            f"{len(steps)} tokens, first {steps[0] * 1000:.2f} ms, last {steps[-1] * 1000:.2f} ms",
        )
        vision = profile.vision_seconds or 0.0
        checks.check(
            f"bs{size}: vision + connector inside prefill",
            0 < vision <= profile.prefill_seconds,
            f"vision {vision * 1000:.3f} ms, prefill {profile.prefill_seconds * 1000:.3f} ms",
        )
        mem = memory.figures
        if is_cuda(args.device):
            allocated, reserved = mem["cuda_max_allocated_bytes"], mem["cuda_max_reserved_bytes"]
            checks.check(
                f"bs{size}: max allocated >= weights",
                allocated >= (adapter.info.weights_bytes or 0),
                f"{allocated / MIB:.2f} MiB vs weights {(adapter.info.weights_bytes or 0) / MIB:.2f} MiB",
            )
            checks.check(
                f"bs{size}: max reserved >= max allocated",
                reserved >= allocated,
                f"{reserved / MIB:.2f} MiB vs {allocated / MIB:.2f} MiB",
            )
            if "nvml_process_peak_bytes" in mem:
                checks.check(
                    f"bs{size}: NVML process peak >= max reserved",
                    mem["nvml_process_peak_bytes"] >= reserved,
                    f"{mem['nvml_process_peak_bytes'] / MIB:.2f} MiB vs {reserved / MIB:.2f} MiB",
                )
        else:
            checks.check(
                f"bs{size}: peak RSS > 0", mem["peak_rss_bytes"] > 0, f"{mem['peak_rss_bytes'] / MIB:.1f} MiB"
            )
    if is_cuda(args.device):
        small, large = figures["bs1"]["memory"], figures[f"bs{args.batch_size}"]["memory"]
        grow_small = small["cuda_max_allocated_bytes"] - small["cuda_allocated_before_bytes"]
        grow_large = large["cuda_max_allocated_bytes"] - large["cuda_allocated_before_bytes"]
        checks.check(
            "activation memory grows with batch size",
            grow_large > grow_small > 0,
            f"bs1 {grow_small / MIB:.3f} MiB, bs{args.batch_size} {grow_large / MIB:.3f} MiB",
        )
    adapter.close()
    return figures


def efficiency_run(model_dir: Path, out: Path, args: argparse.Namespace, checks: Checks) -> dict[str, Any]:
    """``mllm-bench run --suite vqa,efficiency`` on the device; returns run.json."""
    from mllmbench.cli.main import main

    code = main(
        [
            "run",
            *("--adapter", "llava", "--model", str(model_dir), "--suite", "vqa,efficiency"),
            *("--device", args.device, "--dtype", args.dtype, "--limit", str(args.limit)),
            *("--batch-size", str(args.batch_size), "--max-new-tokens", str(args.max_new_tokens)),
            *("--out", str(out), "--overwrite", "--no-progress"),
        ]
    )
    checks.check("mllm-bench run exit code", code == 0, str(code))
    run = json.loads((out / "run.json").read_text())
    metrics = run["suites"]["efficiency"]["metrics"]
    names = [
        "ttft",
        "tpot",
        "e2e_latency_p99",
        "throughput_samples_per_s",
        "time_vision_connector",
        "peak_rss",
    ]
    if args.device.startswith("cuda"):
        names += ["cuda_max_allocated", "cuda_max_reserved"]
    for bs in (1, min(args.batch_size, args.limit)):  # fewer questions than --batch-size: smaller calls
        for name in names:
            key = f"{name}/bs{bs}"
            mv = metrics.get(key)
            ok = mv is not None and mv["value"] > 0 and mv["context"]["batch_size"] == bs
            detail = f"{mv['value']:.6g} {mv['unit']} on {mv['context']['device_name']}" if mv else "missing"
            checks.check(f"run.json has {key}", ok, detail)
    return run


def markdown(report: dict[str, Any]) -> str:
    """The figures as markdown tables."""
    lines = [f"# mllm-bench GPU check ({report['device_name']}, {report['dtype']})", ""]
    lines += ["| check | ok | detail |", "|---|---|---|"]
    lines += [
        f"| {r['check']} | {'yes' if r['ok'] else '**NO**'} | {r['detail']} |" for r in report["checks"]
    ]
    lines += [
        "",
        "## Direct adapter calls",
        "",
        "| figure | " + " | ".join(report["direct_batch_sizes"]) + " |",
    ]
    lines.append("|---|" + "---|" * len(report["direct_batch_sizes"]))
    rows = [
        r for r in report["direct"][report["direct_batch_sizes"][0]] if r not in ("memory", "output_tokens")
    ]
    for key in rows:
        cells = []
        for bs in report["direct_batch_sizes"]:
            value = report["direct"][bs][key]
            cells.append(f"{value * 1000:.3f} ms" if isinstance(value, float) else str(value))
        lines.append(f"| {key} | " + " | ".join(cells) + " |")
    mem_keys = sorted({k for bs in report["direct_batch_sizes"] for k in report["direct"][bs]["memory"]})
    for key in mem_keys:
        cells = []
        for bs in report["direct_batch_sizes"]:
            value = report["direct"][bs]["memory"].get(key)
            cells.append(f"{value / MIB:.3f} MiB" if isinstance(value, int) else str(value))
        lines.append(f"| {key} | " + " | ".join(cells) + " |")
    lines += ["", "## `mllm-bench run --suite efficiency` (run.json)", "", "| metric | value | unit | n |"]
    lines.append("|---|---|---|---|")
    for name, mv in report["efficiency_metrics"].items():
        lines.append(f"| {name} | {mv['value']:.6g} | {mv['unit']} | {mv['n']} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out", type=Path, required=True, help="directory for the checkpoint, run and report"
    )
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--limit", type=int, default=8, help="questions for the efficiency suite")
    parser.add_argument("--max-new-tokens", type=int, default=16)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    import torch

    from mllmbench.cli.commands.tiny import build_tiny
    from mllmbench.engine import provenance

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print(
            "gpu_check: CUDA is not available on this machine (use --device cpu for a dry run)",
            file=sys.stderr,
        )
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    model_dir = build_tiny("llava", args.out / "tiny-llava")
    checks = Checks()
    direct = direct_checks(model_dir, args, checks)
    run = efficiency_run(model_dir, args.out / "run", args, checks)
    prov = run["provenance"]
    report = {
        "device": args.device,
        "device_name": prov.get("device_name"),
        "dtype": args.dtype,
        "batch_size": args.batch_size,
        "libraries": provenance.library_versions(),
        "cuda": prov.get("cuda"),
        "checks": checks.results,
        "direct_batch_sizes": ["bs1", f"bs{args.batch_size}"],
        "direct": direct,
        "efficiency_metrics": run["suites"]["efficiency"]["metrics"],
        "vqa_metrics": run["suites"]["vqa"]["metrics"],
    }
    (args.out / "gpu_check.json").write_text(json.dumps(report, indent=2) + "\n")
    text = markdown(report)
    (args.out / "gpu_check.md").write_text(text)
    print(text)
    if checks.failed:
        print(f"gpu_check: {len(checks.failed)} check(s) failed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
