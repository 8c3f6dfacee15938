"""Whole-process `mllm-bench run` against the bare batched loop (issue 16's engine targets).

Each path is timed as a whole process, from start to exit, imports and model load included:

* ``harness``: ``python -m mllmbench run --suite vqa`` (the pipelined engine, the default);
* ``harness_no_pipeline``: the same with ``--no-pipeline`` (batch after batch, dataset order),
  to see what the pipeline itself brings;
* ``bare``: ``benchmarks/bare_loop.py``: processor -> generate -> decode, nothing else, on
  prompts rendered beforehand.

Two cases:

* ``tiny``: the tiny LLaVA test checkpoint, the first 300 Shapes VQA questions, fp32, one
  thread, batch 8 (target: harness >= 0.9x the bare loop's throughput);
* ``mid``: the 69.5M-parameter LLaVA of `harness_overhead.py` on Shapes VQA with mixed prompt
  lengths (`mllmbench.testing.mixed_lengths`: 0-12 sentences of context before each question;
  target: harness >= 1.15x, from length sorting).

The paths alternate within each round (the order flips every round) so machine load hits them
alike; the figure is the median over rounds of bare time / harness time (a throughput ratio),
by wall clock and by the CPU time of the child process (user + system, which hardly moves with
outside load when torch runs one thread). Every round also checks that the harness answered as
the bare loop did. Writes ``engine_overhead.json`` to ``--out``.

    python benchmarks/engine_overhead.py --quick --out benchmarks/results
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
TARGETS = {"tiny": 0.9, "mid": 1.15}
"""Issue 16's targets: harness throughput over the bare loop's, whole process."""
PATHS = ("harness", "harness_no_pipeline", "bare")


@dataclass(frozen=True)
class Case:
    """One comparison: checkpoint, data, how many questions, batch size."""

    name: str
    model_dir: Path
    data_dir: Path | None
    """VQAv2-layout directory for ``--data`` (None: the built-in Shapes set)."""
    samples: int
    batch_size: int
    max_new_tokens: int


@dataclass(frozen=True)
class Timed:
    """One whole-process run: wall and child CPU seconds."""

    wall: float
    cpu: float


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (``--quick``: 3 rounds, 64 mid-size questions)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--case", default="tiny,mid", help="comma-separated: tiny, mid")
    parser.add_argument("--paths", default=",".join(PATHS), help=f"comma-separated subset of {PATHS}")
    parser.add_argument("--quick", action="store_true", help="3 rounds, 64 mid-size questions")
    parser.add_argument("--rounds", type=int, help="measured rounds (default 5; --quick 3)")
    parser.add_argument("--tiny-samples", type=int, default=300)
    parser.add_argument("--mid-samples", type=int, help="default 128; --quick 64")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1, help="OMP/MKL threads of every child")
    parser.add_argument("--work", type=Path, help="checkpoints and runs (default: a temporary directory)")
    parser.add_argument("--out", type=Path, help="write engine_overhead.json into this directory")
    args = parser.parse_args(argv)
    args.cases = [c.strip() for c in args.case.split(",") if c.strip()]
    args.path_names = [p.strip() for p in args.paths.split(",") if p.strip()]
    unknown = sorted(set(args.cases) - set(TARGETS)) + sorted(set(args.path_names) - set(PATHS))
    if unknown or "harness" not in args.path_names or "bare" not in args.path_names:
        parser.error(f"unknown case or path {unknown}; --paths needs harness and bare")
    args.rounds = args.rounds or (3 if args.quick else 5)
    args.mid_samples = args.mid_samples or (64 if args.quick else 128)
    return args


def child_env(threads: int) -> dict[str, str]:
    """The environment of every timed child: the thread count, offline, quiet."""
    env = dict(os.environ)
    env.update(
        OMP_NUM_THREADS=str(threads),
        MKL_NUM_THREADS=str(threads),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_VERBOSITY="error",
        TOKENIZERS_PARALLELISM="false",
    )
    return env


def timed(cmd: list[str], env: dict[str, str]) -> Timed:
    """Run `cmd` to completion; its wall time and CPU time (user + system of the child)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:4])} ... failed ({done.returncode}):\n{done.stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Timed(wall, cpu)


def harness_cmd(case: Case, out: Path, *, pipeline: bool) -> list[str]:
    """``python -m mllmbench run`` on the case."""
    cmd = [sys.executable, "-m", "mllmbench", "run", "--adapter", "llava", "--model", str(case.model_dir)]
    cmd += ["--suite", "vqa", "--limit", str(case.samples), "--batch-size", str(case.batch_size)]
    cmd += ["--max-new-tokens", str(case.max_new_tokens), "--out", str(out)]
    cmd += ["--overwrite", "--no-report", "--no-progress"]
    if case.data_dir is not None:
        cmd += ["--data", str(case.data_dir)]
    return cmd + ([] if pipeline else ["--no-pipeline"])


def bare_cmd(case: Case, items: Path, out: Path) -> list[str]:
    """``benchmarks/bare_loop.py`` on the case's pre-rendered prompts."""
    cmd = [sys.executable, str(HERE / "bare_loop.py"), str(case.model_dir), str(items), str(out)]
    return cmd + ["--batch-size", str(case.batch_size), "--max-new-tokens", str(case.max_new_tokens)]


def write_items(case: Case, path: Path) -> None:
    """The bare loop's input: each question's image and its prompt, rendered by the adapter."""
    from mllmbench.adapters.llava import LlavaAdapter
    from mllmbench.suites.shapes_suites import ShapesVQASuite

    adapter = LlavaAdapter(str(case.model_dir))
    adapter.load()
    samples = ShapesVQASuite(case.data_dir).load_samples(case.samples)
    with path.open("w", encoding="utf-8") as fh:
        for s in samples:
            item = {
                "sample_id": s.sample_id,
                "image": s.image_paths[0],
                "prompt": adapter.render_prompt(s.text, 1),
            }
            fh.write(json.dumps(item) + "\n")
    adapter.close()


def agreement(run_dir: Path, bare_out: Path) -> float:
    """Share of samples whose harness output equals the bare loop's."""
    harness = {}
    for line in (run_dir / "samples.jsonl").read_text(encoding="utf-8").splitlines():
        rec = json.loads(line)
        harness[rec["sample_id"]] = rec["output"]
    bare = [json.loads(line) for line in bare_out.read_text(encoding="utf-8").splitlines()]
    return sum(harness.get(b["sample_id"]) == b["output"] for b in bare) / max(1, len(bare))


def build_cases(args: argparse.Namespace, work: Path) -> list[Case]:
    """The checkpoints and data of the chosen cases (built once, reused from `work`)."""
    cases = []
    if "tiny" in args.cases:
        from mllmbench.engine.tiny_checkpoints import ensure_tiny

        model = ensure_tiny("llava", work / "tiny-llava")
        cases.append(Case("tiny", model, None, args.tiny_samples, args.batch_size, args.max_new_tokens))
    if "mid" in args.cases:
        sys.path.insert(0, str(HERE))
        from harness_overhead import build_mid_llava

        from mllmbench.suites.shapes import ensure_shapes
        from mllmbench.testing.mixed_lengths import write_mixed_length_vqa

        model = build_mid_llava(work / "mid-llava")
        data = write_mixed_length_vqa(ensure_shapes(), work / "mixed-shapes")
        cases.append(Case("mid", model, data, args.mid_samples, args.batch_size, args.max_new_tokens))
    return cases


def measure_case(case: Case, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """A warm-up of each path, then `args.rounds` interleaved rounds; medians and agreement."""
    env = child_env(args.threads)
    items = work / f"{case.name}-items.jsonl"
    write_items(case, items)
    cmds = {
        "harness": harness_cmd(case, work / f"{case.name}-run", pipeline=True),
        "harness_no_pipeline": harness_cmd(case, work / f"{case.name}-run-np", pipeline=False),
        "bare": bare_cmd(case, items, work / f"{case.name}-bare.jsonl"),
    }
    paths = [p for p in PATHS if p in args.path_names]
    for name in paths:  # warm-up: page cache, first-use data, compiled kernels
        timed(cmds[name], env)
    rounds: list[dict[str, Any]] = []
    for k in range(args.rounds):
        order = paths if k % 2 == 0 else list(reversed(paths))
        got = {name: timed(cmds[name], env) for name in order}
        row: dict[str, Any] = {name: asdict(t) for name, t in got.items()}
        for name in paths:
            if name != "bare":
                for clock in ("wall", "cpu"):
                    row[f"{clock}_ratio_{name}_vs_bare"] = getattr(got["bare"], clock) / getattr(
                        got[name], clock
                    )
        row["load_average"] = os.getloadavg()[0]
        rounds.append(row)
        print(
            f"{case.name} round {k + 1}: "
            + ", ".join(f"{n} {got[n].wall:.2f}s/{got[n].cpu:.2f}s" for n in paths),
            flush=True,
        )
    summary: dict[str, Any] = {
        **asdict(case),
        "model_dir": str(case.model_dir),
        "data_dir": str(case.data_dir),
    }
    summary["target"] = TARGETS[case.name]
    summary["rounds"] = rounds
    for name in paths:
        if name != "bare":
            for clock in ("wall", "cpu"):
                key = f"{clock}_ratio_{name}_vs_bare"
                summary[f"median_{key}"] = statistics.median(r[key] for r in rounds)
    summary["answers_equal_to_bare"] = agreement(work / f"{case.name}-run", work / f"{case.name}-bare.jsonl")
    return summary


def report(results: dict[str, Any]) -> str:
    """The markdown table of the medians (what benchmarks/README.md quotes)."""
    lines = [
        "| case | target | harness / bare, wall | harness / bare, CPU | no-pipeline / bare, wall | no-pipeline / bare, CPU | answers equal |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, c in results["cases"].items():
        cells = [
            f"{c.get(f'median_{clock}_ratio_{p}_vs_bare', float('nan')):.3f}"
            for p in ("harness", "harness_no_pipeline")
            for clock in ("wall", "cpu")
        ]
        lines.append(
            f"| {name} | >= {c['target']} | "
            + " | ".join(cells)
            + f" | {100 * c['answers_equal_to_bare']:.0f}% |"
        )
    return "\n".join(lines)


def write_results(results: dict[str, Any], out: Path) -> Path:
    """``out/engine_overhead.json`` (and the table as ``engine_overhead.md``)."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "engine_overhead.md").write_text(report(results) + "\n", encoding="utf-8")
    path = out / "engine_overhead.json"
    path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="mllmbench-engine-overhead-"))
    work.mkdir(parents=True, exist_ok=True)
    from mllmbench.engine import provenance

    results: dict[str, Any] = {
        "threads": args.threads,
        "rounds": args.rounds,
        "cpu_count": os.cpu_count(),
        "load_average_at_start": os.getloadavg(),
        "libraries": {
            k: v for k, v in provenance.library_versions().items() if k in ("torch", "transformers")
        },
        "cases": {},
    }
    for case in build_cases(args, work):
        results["cases"][case.name] = measure_case(case, args, work)
    results["load_average_at_end"] = os.getloadavg()
    print(report(results))
    if args.out:
        print(f"wrote {write_results(results, args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
