"""`mllm-bench score caption`: COCO caption metrics of a results file, as pycocoevalcap computes them."""

from __future__ import annotations

import argparse
import json
import logging

from mllmbench.core.formatting import format_metric
from mllmbench.core.text_table import text_table

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `score caption`."""
    parser.add_argument(
        "--annotations",
        required=True,
        metavar="captions.json",
        help="COCO captions file (images + annotations)",
    )
    parser.add_argument(
        "--results",
        required=True,
        metavar="res.json",
        help='COCO results file: [{"image_id": .., "caption": ..}]',
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")


def run(args: argparse.Namespace) -> int:
    """Load, validate, score and print (fractions, CIDEr on pycocoevalcap's x10 scale)."""
    from mllmbench.suites.formats.coco_captions import load_caption_results, load_coco_captions
    from mllmbench.suites.metrics.caption import score_captions

    dataset = load_coco_captions(args.annotations)
    hypotheses = load_caption_results(args.results, dataset.image_ids)
    scores = score_captions(dataset.references(), hypotheses)
    if args.json:
        for metric, reason in scores.notes.items():
            log.info("%s unavailable: %s", metric, reason)
        print(json.dumps(scores.corpus))
    else:
        print(format_table(scores.corpus, scores.notes, n=len(hypotheses)))
    return 0


def format_table(corpus: dict[str, float], notes: dict[str, str], n: int) -> str:
    """A readable summary (three significant digits); unavailable metrics are listed with their reason."""
    rows = [(name, format_metric(name, value)) for name, value in corpus.items()]
    rows += [(name, f"unavailable: {reason}") for name, reason in notes.items()]
    title = f"COCO caption metrics (pycocoevalcap 1.2 pipeline, {n} images)"
    return title + "\n" + text_table(("metric", "value"), rows)
