"""`mllm-bench score SUITE --data PATH --predictions FILE [--json]` for the benchmark suites.

Reads the suite's local data, matches every prediction to a sample by the dataset's own id
(`mllmbench.suites.formats.predictions`), scores with the suite's own metric, and prints the
metric values with the counts: ``n`` (samples in the data), ``scored``, ``failed`` (no
prediction, or an ``error`` line: never scored) and ``unparsed``.

``--judge-adapter A --judge-model M`` (multiple-choice suites) has an LLM judge read the outputs
the rules leave unparsed (`mllmbench.engine.judge`): the ``*_judged`` values stand beside the
rule-only ones, and the JSON gives the judge and every verdict. Data without answers (MMBench
test) is not scored: the predictions go to the server's submission file (``--submission``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

BENCH_SUITES: dict[str, str] = {
    "mmbench": "MMBench (CircularEval)",
    "seedbench": "SEED-Bench image",
    "scienceqa_img": "ScienceQA-IMG",
    "ai2d": "AI2D",
    "mmstar": "MMStar",
    "shapes_mc": "Shapes multiple choice (CircularEval)",
    "pope": "POPE",
    "pope_lmms_eval": "POPE, lmms-eval answer rule",
    "shapes_pope": "Shapes POPE",
    "mme": "MME",
    "mme_lmms_eval": "MME, lmms-eval parsing",
    "docvqa": "DocVQA (ANLS)",
    "infovqa": "InfographicVQA (ANLS)",
    "chartqa": "ChartQA (relaxed accuracy)",
    "ocrbench": "OCRBench",
    "mmmu": "MMMU val (official parser)",
}
BENCH_KINDS: dict[str, tuple[str, str]] = {
    name: ("mllmbench.cli.commands.score_bench", f"{title} predictions scored as the reference does")
    for name, title in BENCH_SUITES.items()
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """--data, --predictions, --format, --json."""
    parser.add_argument(
        "--data", type=Path, help="the suite's local data (file or folder; Shapes suites: optional)"
    )
    parser.add_argument(
        "--predictions", type=Path, required=True, metavar="FILE", help="predictions to score"
    )
    parser.add_argument(
        "--format",
        default="auto",
        choices=("auto", "jsonl", "lmms_eval", "vlmevalkit"),
        help="predictions format (auto: by suffix and content)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.add_argument(
        "--submission",
        type=Path,
        metavar="DIR",
        help="folder for the submission file of data without answers (default: beside --predictions)",
    )
    add_judge_arguments(parser)


def add_judge_arguments(parser: argparse.ArgumentParser) -> None:
    """``--judge-adapter`` and friends (``score`` and ``rescore``)."""
    group = parser.add_argument_group("LLM judge for answers the rules cannot parse (multiple choice)")
    group.add_argument(
        "--judge-adapter", metavar="ADAPTER", help="judge adapter (text_llm, llava, openai, ...)"
    )
    group.add_argument("--judge-model", metavar="MODEL", help="judge checkpoint, or the served model id")
    group.add_argument(
        "--judge-base-url", action="append", default=[], metavar="URL", help="openai judge: server URL"
    )
    group.add_argument("--judge-api-key-env", metavar="VAR", help="openai judge: the API key's variable")
    group.add_argument("--judge-device", default="cpu", help="device of a local judge (default cpu)")


def judge_spec(args: argparse.Namespace) -> Any:
    """The `JudgeSpec` the flags ask for, or None."""
    from mllmbench.core.errors import ConfigError
    from mllmbench.engine.judge import JudgeSpec

    if args.judge_adapter is None and args.judge_model is None:
        return None
    if not args.judge_adapter or not args.judge_model:
        raise ConfigError("--judge-adapter and --judge-model go together")
    return JudgeSpec(
        adapter=args.judge_adapter,
        model=args.judge_model,
        base_urls=tuple(args.judge_base_url),
        api_key_env=args.judge_api_key_env,
        device=args.judge_device,
    )


def resolver(samples: list[Any]) -> Any:
    """key fields of a prediction line -> sample id (None when not in the data)."""
    ids = {s.sample_id for s in samples}
    by_question = {(str(s.meta.get("question_id")), s.text.strip()): s.sample_id for s in samples if s.meta}

    def norm(v: Any) -> str:
        return str(int(v)) if isinstance(v, float) and v.is_integer() else str(v).strip()

    def resolve(key: dict[str, Any]) -> str | None:
        if "question_id" in key and "question" in key:
            hit = by_question.get((norm(key["question_id"]), str(key["question"]).strip()))
            if hit is not None:
                return hit
        for field in ("sample_id", "index", "question_id", "questionId", "id", "doc_id"):
            if field in key and key[field] is not None and norm(key[field]) in ids:
                return norm(key[field])
        return None

    return resolve


def score(
    suite_name: str,
    data: Path | None,
    predictions: Path,
    fmt: str = "auto",
    *,
    judge: Any = None,
    submission_dir: Path | None = None,
) -> dict[str, Any]:
    """The JSON result of scoring `predictions` against `suite_name`'s data (`judge`: a `JudgeSpec`)."""
    from mllmbench.suites.formats.predictions import read_predictions, resolve_ids
    from mllmbench.suites.registry import load_suite_class

    suite = load_suite_class(suite_name)(data)
    samples = suite.load_samples()
    preds, errors = resolve_ids(read_predictions(predictions, fmt), resolver(samples), predictions)
    verdicts = None
    if judge is not None:
        from mllmbench.engine.judge import judge_suite, loaded_judge

        answers = {sid: suite.extract_answer(p) for sid, p in preds.items()}
        with loaded_judge(judge) as adapter:
            verdicts = judge_suite(adapter, judge, suite, samples, answers)
    metrics = suite.metrics()
    scored = 0
    for sample in samples:
        if sample.sample_id in preds:
            answer = suite.extract_answer(preds[sample.sample_id])
            for m in metrics:
                m.update(sample, answer)
            scored += 1
    values: dict[str, Any] = {}
    notes: dict[str, str] = {}
    for m in metrics:
        if scored == 0:
            notes[m.name] = "no sample has a prediction"
            continue
        res = m.compute()
        values.update({k: v.to_dict() for k, v in res.values.items()})
        notes.update(res.notes)
    failed = len(samples) - scored
    folder = submission_dir if submission_dir is not None else Path(predictions).parent
    submission = suite.write_submission(folder, samples, preds)
    return {
        "suite": suite_name,
        "data": str(suite.data_dir),
        "predictions": str(predictions),
        "n": len(samples),
        "scored": scored,
        "failed": failed,
        "failed_ids": sorted(set(s.sample_id for s in samples) - set(preds))[:20],
        "unparsed": int(values.get("unparsed", {}).get("value", 0)),
        "metrics": values,
        "notes": notes,
        "scoring": suite.scoring_info(),
        **({"submission": str(submission)} if submission is not None else {}),
        **(
            {
                "judge": {
                    **verdicts.summary(),
                    "verdicts": {k: v.to_dict() for k, v in verdicts.verdicts.items()},
                }
            }
            if verdicts is not None
            else {}
        ),
    }


def format_table(result: dict[str, Any]) -> str:
    """Metric, value, n; then the counts."""
    rows = [(k, v["value"], v["n"]) for k, v in result["metrics"].items()]
    width = max([len(k) for k, _, _ in rows] + [6])
    lines = [f"{'metric':<{width}}  {'value':>9}  n"]
    lines += [f"{k:<{width}}  {v:>9.2f}  {n}" for k, v, n in rows]
    lines.append(
        f"{result['suite']}: {result['n']} samples, {result['scored']} scored, "
        f"{result['failed']} failed (no prediction), {result['unparsed']} unparsed"
    )
    lines += [f"note: {k}: {v}" for k, v in result["notes"].items()]
    if "judge" in result:
        j = result["judge"]
        lines.append(
            f"judge: {j['adapter']} {j['model']} (prompt v{j['prompt_version']}): {j['calls']} call(s), "
            f"{j['failed_calls']} failed, {j['unreadable_replies']} unreadable; *_judged values use it"
        )
    if "submission" in result:
        lines.append(f"submission file (no answers in the data, not scored): {result['submission']}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Score and print; exit 1 when some samples had no prediction."""
    result = score(
        args.kind,
        args.data,
        args.predictions,
        args.format,
        judge=judge_spec(args),
        submission_dir=args.submission,
    )
    print(json.dumps(result, ensure_ascii=False) if args.json else format_table(result))
    if result["failed"]:
        print(
            f"{result['failed']} sample(s) have no prediction, e.g. {result['failed_ids'][:3]}",
            file=sys.stderr,
        )
        return 1
    return 0
