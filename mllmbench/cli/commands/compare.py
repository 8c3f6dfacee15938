"""`mllm-bench compare SUITE --data PATH A B [--json]`: why two harnesses' numbers disagree.

Both prediction files (any format `score` reads: JSONL, lmms-eval logs, VLMEvalKit tables) are
matched to the same data and scored with the suite's own metric, item by item. Printed: each
file's headline values, then every item whose per-sample score differs (or that only one file
answers), with both raw predictions.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """SUITE, --data, the two prediction files."""
    parser.add_argument("suite", help="a benchmark suite (mmbench, pope, mme, docvqa, ...)")
    parser.add_argument("first", type=Path, metavar="A", help="predictions of the first harness")
    parser.add_argument("second", type=Path, metavar="B", help="predictions of the second harness")
    parser.add_argument("--data", type=Path, help="the suite's local data")
    parser.add_argument("--limit", type=int, default=50, help="differences to print (default 50)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def _per_item(
    suite: Any, samples: list[Any], preds: dict[str, str]
) -> tuple[dict[str, dict[str, float]], Any]:
    metrics = suite.metrics()
    scores: dict[str, dict[str, float]] = {}
    for s in samples:
        if s.sample_id in preds:
            answer = suite.extract_answer(preds[s.sample_id])
            scores[s.sample_id] = {k: v for m in metrics for k, v in m.update(s, answer).items()}
    values = {k: v.value for m in metrics if scores for k, v in m.compute().values.items()}
    return scores, values


def compare(suite_name: str, data: Path | None, first: Path, second: Path) -> dict[str, Any]:
    """Headline values of both files and the items where they differ."""
    from mllmbench.cli.commands.score_bench import resolver
    from mllmbench.suites.formats.predictions import read_predictions, resolve_ids
    from mllmbench.suites.registry import load_suite_class

    suite = load_suite_class(suite_name)(data)
    samples = suite.load_samples()
    resolve = resolver(samples)
    pa, _ = resolve_ids(read_predictions(first), resolve, first)
    pb, _ = resolve_ids(read_predictions(second), resolve, second)
    sa, va = _per_item(suite, samples, pa)
    sb, vb = _per_item(suite, samples, pb)
    diffs = [
        {"sample_id": s.sample_id, "a": pa.get(s.sample_id), "b": pb.get(s.sample_id),
         "scores_a": sa.get(s.sample_id), "scores_b": sb.get(s.sample_id)}
        for s in samples
        if sa.get(s.sample_id) != sb.get(s.sample_id)
    ]  # fmt: skip
    return {"suite": suite_name, "a": str(first), "b": str(second), "values_a": va, "values_b": vb,
            "n": len(samples), "n_different": len(diffs), "differences": diffs}  # fmt: skip


def run(args: argparse.Namespace) -> int:
    """Compare and print."""
    res = compare(args.suite, args.data, args.first, args.second)
    if args.json:
        print(json.dumps(res, ensure_ascii=False))
        return 0
    keys = [k for k in res["values_a"] if k in res["values_b"] and "/" not in k]
    print(f"{'metric':<22} {'A':>9} {'B':>9}")
    for k in keys:
        print(f"{k:<22} {res['values_a'][k]:>9.2f} {res['values_b'][k]:>9.2f}")
    print(f"{res['n_different']} of {res['n']} items scored differently:")
    for d in res["differences"][: args.limit]:
        print(f"  {d['sample_id']}: A={d['a']!r} {d['scores_a']}  B={d['b']!r} {d['scores_b']}")
    return 0
