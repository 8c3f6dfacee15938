"""`mllm-bench score shapes-eval --prompts PROMPTS.json --images DIR [--json]`.

Scores a folder of images against a COCO-captions-style prompts file whose annotations carry
GenEval-style metadata (``tag``, ``include``, ``exclude``; as Shapes' ``t2i/prompts.json``): the
image of image id I is ``DIR/<file_name of I in the prompts' images list>``. Prints the per-tag
scores and ``overall`` (the unweighted mean of the tag scores), in percent. A missing or
unreadable image, or an annotation without a tag, is named and counted as failed; the rest is
scored. Exit code 1 when some item failed, 2 on a malformed prompts file.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from mllmbench.core.errors import InputError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `score shapes-eval`."""
    parser.add_argument(
        "--prompts", required=True, type=Path, help="COCO-captions-style prompts file with metadata"
    )
    parser.add_argument(
        "--images", required=True, type=Path, help="folder of the images, named as the prompts' images list"
    )
    parser.add_argument("--judge", default=None, help="judge checkpoint directory (default: the shipped one)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")


def prompt_items(prompts: Path, images: Path) -> list[Any]:
    """One `Item` per image of the prompts file, with its first annotation's metadata."""
    from mllmbench.core.jsonio import read_json
    from mllmbench.suites.metrics.shapes_eval import Item, prompt_metadata

    doc = read_json(prompts, what="prompts file")
    if not isinstance(doc, dict) or not isinstance(doc.get("images"), list):
        raise InputError(f"{prompts}: need a COCO-captions-style object with an 'images' list")
    meta = prompt_metadata(prompts)
    items = []
    for i, im in enumerate(doc["images"]):
        if not isinstance(im, dict) or "id" not in im or not isinstance(im.get("file_name"), str):
            raise InputError(f"{prompts}: images[{i}] needs an 'id' and a string 'file_name'")
        items.append(
            Item(
                f"image {im['id']} ({im['file_name']})", str(images / im["file_name"]), meta.get(im["id"], {})
            )
        )
    return items


def run(args: argparse.Namespace) -> int:
    """Score and print; exit 1 when some item failed."""
    from mllmbench.suites.metrics.shapes_eval import score_items, summary_dict
    from mllmbench.suites.metrics.shapes_judge.decide import ShapesJudge

    if not args.images.is_dir():
        raise InputError(f"--images {args.images}: not a directory")
    items = prompt_items(args.prompts, args.images)
    scored = score_items(items, ShapesJudge(args.judge))
    summary = summary_dict(scored)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        for tag, value in summary["tasks"].items():
            good, total = summary["counts"][tag]
            print(f"{tag:<16} = {value:6.2f}% ({good} / {total})")
        overall = summary["overall"]
        print(
            f"overall (mean over tags) = {overall:.2f}%"
            if overall is not None
            else "overall: no image could be judged"
        )
        for item_id, why in summary["failed"].items():
            print(f"failed: {item_id}: {why}")
    return 1 if summary["failed"] else 0
