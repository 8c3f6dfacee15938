"""`mllm-bench score geneval --metadata FILE --images DIR --detector PATH --clip PATH [--json] [--results OUT]`.

Scores a folder in GenEval's layout (``DIR/<index>/metadata.jsonl``, ``DIR/<index>/samples/<n>.png``)
against a local copy of GenEval's evaluation_metadata.jsonl (line i is prompt i), the way
evaluate_images.py and summary_scores.py do, with Mask2Former and CLIP from local transformers
directories (also ``$MLLMBENCH_GENEVAL_DETECTOR`` and ``$MLLMBENCH_GENEVAL_CLIP``). Prints the
task scores, the overall score (unweighted mean of the task scores), % correct images and %
prompts with a correct image. A prompt without images, an unreadable image or metadata without a
tag is named and counted as failed (exit 1); the rest is scored.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

DETECTOR_ENV = "MLLMBENCH_GENEVAL_DETECTOR"
CLIP_ENV = "MLLMBENCH_GENEVAL_CLIP"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `score geneval`."""
    parser.add_argument(
        "--metadata", required=True, type=Path, help="GenEval's evaluation_metadata.jsonl (local copy)"
    )
    parser.add_argument("--images", required=True, type=Path, help="folder in GenEval's layout")
    parser.add_argument(
        "--detector", default=None, help=f"local Mask2Former directory (default ${DETECTOR_ENV})"
    )
    parser.add_argument(
        "--clip", default=None, help=f"local CLIP directory for colours (default ${CLIP_ENV})"
    )
    parser.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: cpu, as `run`)")
    parser.add_argument(
        "--results", type=Path, default=None, help="also write evaluate_images.py's results.jsonl here"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")


def run(args: argparse.Namespace) -> int:
    """Score and print; exit 1 when some prompt or image failed."""
    from mllmbench.core.device import resolve_device
    from mllmbench.core.errors import ConfigError, InputError
    from mllmbench.core.jsonio import write_text_atomic
    from mllmbench.suites.metrics.geneval_detect import ClipColorClassifier, Mask2FormerDetector
    from mllmbench.suites.metrics.geneval_score import layout_items, read_metadata_file, score_layout
    from mllmbench.suites.metrics.shapes_eval import summary_dict

    detector_path = args.detector or os.environ.get(DETECTOR_ENV)
    clip_path = args.clip or os.environ.get(CLIP_ENV)
    if not detector_path or not clip_path:
        raise ConfigError(
            f"score geneval needs --detector and --clip (or ${DETECTOR_ENV}, ${CLIP_ENV}): local model directories"
        )
    if not args.images.is_dir():
        raise InputError(f"--images {args.images}: not a directory")
    device = resolve_device(args.device)
    prompts = read_metadata_file(args.metadata)
    items, failed = layout_items(args.images, prompts)
    scored, rows = score_layout(
        items,
        Mask2FormerDetector(detector_path, device=device),
        ClipColorClassifier(clip_path, device=device),
    )
    scored.failed.update(failed)
    keys = {i.item_id: json.dumps(i.metadata) for i in items}
    summary = summary_dict(scored, keys)
    if args.results is not None:
        write_text_atomic(args.results, "".join(json.dumps(r) + "\n" for r in rows))
    if args.json:
        print(json.dumps(summary, indent=2))
        return 1 if summary["failed"] else 0
    print(f"Total images: {summary['images']}")
    if summary["overall"] is not None:
        print(f"% correct images: {summary['correct_images']:.2f}%")
        print(f"% correct prompts: {summary['correct_prompts']:.2f}%")
        for tag, value in summary["tasks"].items():
            good, total = summary["counts"][tag]
            print(f"{tag:<16} = {value:.2f}% ({good} / {total})")
        print(f"Overall score (avg. over tasks): {summary['overall'] / 100:.5f}")
    for name, why in summary["failed"].items():
        print(f"failed: {name}: {why}")
    return 1 if summary["failed"] else 0
