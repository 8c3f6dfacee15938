"""`mllm-bench score vqa`: VQAv2 accuracy of a results file, as the official tool computes it."""

from __future__ import annotations

import argparse
import json
import logging

from mllmbench.core.formatting import percent
from mllmbench.core.text_table import text_table

log = logging.getLogger(__name__)

VARIANTS = ("official", "official_pre2021", "lmms_eval", "vlmevalkit")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `score vqa`."""
    parser.add_argument("--questions", required=True, metavar="Q.json", help="official VQAv2 questions file")
    parser.add_argument(
        "--annotations", required=True, metavar="A.json", help="official VQAv2 annotations file"
    )
    parser.add_argument(
        "--results", required=True, metavar="R.json", help='results file: [{"question_id": .., "answer": ..}]'
    )
    parser.add_argument(
        "--variant",
        choices=VARIANTS,
        default="official",
        help="which reference to reproduce: official (VQA HEAD, default), official_pre2021, "
        "lmms_eval (always normalises) or vlmevalkit (fixed period regex)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")


def run(args: argparse.Namespace) -> int:
    """Load, validate, score and print."""
    from mllmbench.suites.formats.vqav2 import load_vqa, load_vqa_results
    from mllmbench.suites.metrics.vqa import VQAItem, score_vqa

    dataset = load_vqa(args.questions, args.annotations)
    predictions = load_vqa_results(args.results, dataset.question_ids)
    items = [
        VQAItem(q.question_id, q.answer_texts, q.question_type, q.answer_type, q.answer_keys)
        for q in dataset.questions
    ]
    score = score_vqa(items, predictions, args.variant)
    if args.json:
        print(json.dumps(score.to_dict(), ensure_ascii=False))
    else:
        print(format_table(score.to_dict(), n=len(items)))
    return 0


def format_table(result: dict, n: int) -> str:  # type: ignore[type-arg]
    """A readable summary: overall, then per answer type and per question type (percent)."""
    rows: list[tuple[str, str, str]] = [("overall", "", percent(result["overall"]))]
    for group, key in (("answer type", "perAnswerType"), ("question type", "perQuestionType")):
        rows.extend((group, name or "(none)", percent(value)) for name, value in sorted(result[key].items()))
    title = f"VQA accuracy (variant: {result['variant']}, {n} questions)"
    return title + "\n" + text_table(("group", "name", "accuracy"), rows, right=(2,))
