"""Whole-process `mllm-bench run` against lmms-eval's ``llava_hf`` model on the same checkpoint.

The same questions (the first 300 Shapes VQA questions by default), the same checkpoint (the
tiny LLaVA), fp32, one thread, 16 new tokens, greedy. Both are timed as whole processes, imports
and model load included:

* ``harness``: ``python -m mllmbench run --suite vqa --batch-size 8``;
* ``lmms_eval``: this script's child mode, which builds lmms-eval's ``LlavaHf`` (batch size 1:
  its ``generate_until`` asserts it) and calls ``generate_until`` on one ``Instance`` per
  question, with the task's documents in ``task_dict`` as lmms-eval's evaluator sets them. No
  lmms-eval task is loaded (those come from the Hugging Face hub), so its data loading and
  scoring are not in its time: the comparison favours lmms-eval.

lmms-eval is not a dependency of mllm-bench. Its full install pulls about 75 packages (wandb,
datasets, sentence-transformers, opencv, ...); ``llava_hf`` needs far fewer, so install those
into a directory of their own, outside the project's environment, and pass it as ``--lmms-path``:

    pip install --no-deps --target /tmp/lmms lmms-eval decord loguru pytz sqlitedict evaluate \\
        datasets multiprocess dill xxhash
    python benchmarks/lmms_eval_compare.py --lmms-path /tmp/lmms --quick --out benchmarks/results

The figure is the median over interleaved rounds of lmms-eval's time / the harness's (a
throughput ratio), by wall clock and child CPU time; issue 16's target is >= 3.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
TARGET = 3.0
LLAVA_15_STRING_TEMPLATE = (
    "{% for m in messages %}{% if m['role'] == 'user' %}USER: {{ m['content'] }} {% endif %}{% endfor %}"
    "{% if add_generation_prompt %}ASSISTANT:{% endif %}"
)
"""The LLaVA-1.5 prompt for llava_hf's string messages (``<image>\\n{question}``): the tiny
checkpoint's template expects typed content items, so llava_hf is given this one (its
``chat_template`` argument); the prompt is then the one the harness sends."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (``--quick``: 3 rounds)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lmms-path", type=Path, help="directory holding lmms_eval and its llava_hf needs")
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument(
        "--batch-size", type=int, default=8, help="the harness's (lmms-eval's llava_hf runs 1)"
    )
    parser.add_argument("--max-new-tokens", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="3 rounds")
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--work", type=Path)
    parser.add_argument("--out", type=Path, help="write lmms_eval_compare.json into this directory")
    parser.add_argument("--child-lmms", nargs=3, metavar=("MODEL", "ITEMS", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_lmms is None and args.lmms_path is None:
        parser.error("--lmms-path is required (see the module docstring for the install line)")
    args.rounds = args.rounds or (3 if args.quick else 5)
    return args


def lmms_child(model: str, items_file: str, out_file: str, max_new_tokens: int) -> int:
    """Child mode: lmms-eval's ``LlavaHf`` answers every item; writes ``{"sample_id", "output"}``."""
    from lmms_eval.api.instance import Instance
    from lmms_eval.models.simple.llava_hf import LlavaHf
    from PIL import Image

    items = [json.loads(line) for line in Path(items_file).read_text(encoding="utf-8").splitlines()]
    # device_map="cpu": llava_hf's default "" is refused by transformers 5 (its from_pretrained)
    lm = LlavaHf(
        pretrained=model,
        device="cpu",
        dtype="float32",
        batch_size=1,
        device_map="cpu",
        chat_template=LLAVA_15_STRING_TEMPLATE,
    )
    docs = {i: item for i, item in enumerate(items)}
    lm.task_dict = {"shapes_vqa": {"val": docs}}

    def doc_to_visual(doc: dict[str, Any]) -> list[Any]:
        return [Image.open(doc["image"]).convert("RGB")]

    gen_kwargs = {"max_new_tokens": max_new_tokens, "temperature": 0, "until": ["ASSISTANT:"]}
    requests = [
        Instance(
            request_type="generate_until",
            arguments=(item["text"], dict(gen_kwargs), doc_to_visual, i, "shapes_vqa", "val"),
            idx=0,
            metadata={"task": "shapes_vqa", "doc_id": i, "repeats": 1},
        )
        for i, item in enumerate(items)
    ]
    outputs = lm.generate_until(requests)
    with open(out_file, "w", encoding="utf-8") as fh:
        for item, text in zip(items, outputs, strict=True):
            fh.write(json.dumps({"sample_id": item["sample_id"], "output": text.strip()}) + "\n")
    return 0


def write_items(path: Path, samples: int) -> None:
    """The first `samples` Shapes VQA questions: id, image path, the suite's question text."""
    from mllmbench.suites.shapes_suites import ShapesVQASuite

    with path.open("w", encoding="utf-8") as fh:
        for s in ShapesVQASuite().load_samples(samples):
            fh.write(json.dumps({"sample_id": s.sample_id, "image": s.image_paths[0], "text": s.text}) + "\n")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child_lmms is not None:
        return lmms_child(*args.child_lmms, max_new_tokens=args.max_new_tokens)
    sys.path.insert(0, str(HERE))
    from engine_overhead import agreement, child_env, timed

    from mllmbench.engine.tiny_checkpoints import ensure_tiny

    work = args.work or Path(tempfile.mkdtemp(prefix="mllmbench-lmms-compare-"))
    work.mkdir(parents=True, exist_ok=True)
    model = ensure_tiny("llava", work / "tiny-llava")
    items = work / "items.jsonl"
    write_items(items, args.samples)
    env = child_env(args.threads)
    lmms_env = {**env, "PYTHONPATH": os.pathsep.join([str(args.lmms_path), env.get("PYTHONPATH", "")])}
    harness = [sys.executable, "-m", "mllmbench", "run", "--adapter", "llava", "--model", str(model)]
    harness += ["--suite", "vqa", "--limit", str(args.samples), "--batch-size", str(args.batch_size)]
    harness += ["--max-new-tokens", str(args.max_new_tokens), "--out", str(work / "run")]
    harness += ["--overwrite", "--no-report", "--no-progress"]
    lmms = [sys.executable, str(Path(__file__).resolve()), "--max-new-tokens", str(args.max_new_tokens)]
    lmms += ["--child-lmms", str(model), str(items), str(work / "lmms.jsonl")]
    timed(harness, env)  # warm-up
    timed(lmms, lmms_env)
    rounds = []
    for k in range(args.rounds):
        pair = [("harness", harness, env), ("lmms_eval", lmms, lmms_env)]
        got = {name: timed(cmd, e) for name, cmd, e in (pair if k % 2 == 0 else pair[::-1])}
        row: dict[str, Any] = {name: {"wall": t.wall, "cpu": t.cpu} for name, t in got.items()}
        for clock in ("wall", "cpu"):
            row[f"{clock}_ratio"] = getattr(got["lmms_eval"], clock) / getattr(got["harness"], clock)
        row["load_average"] = os.getloadavg()[0]
        rounds.append(row)
        print(f"round {k + 1}: harness {got['harness'].wall:.2f}s/{got['harness'].cpu:.2f}s, "
              f"lmms-eval {got['lmms_eval'].wall:.2f}s/{got['lmms_eval'].cpu:.2f}s", flush=True)  # fmt: skip
    results = {
        "samples": args.samples,
        "harness_batch_size": args.batch_size,
        "lmms_eval_batch_size": 1,
        "threads": args.threads,
        "target": TARGET,
        "rounds": rounds,
        "median_wall_ratio": statistics.median(r["wall_ratio"] for r in rounds),
        "median_cpu_ratio": statistics.median(r["cpu_ratio"] for r in rounds),
        "answers_equal": agreement(work / "run", work / "lmms.jsonl"),
        "cpu_count": os.cpu_count(),
        "load_average_at_end": os.getloadavg(),
    }
    print(
        f"harness throughput / lmms-eval llava_hf: wall {results['median_wall_ratio']:.2f}x, "
        f"CPU {results['median_cpu_ratio']:.2f}x (target >= {TARGET})"
    )
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "lmms_eval_compare.json").write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
