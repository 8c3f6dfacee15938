"""`mllm-bench judge train [--steps N] [--out DIR]`: train the offline Shapes judge.

Deterministic and on one CPU thread (the recipe: `mllmbench.suites.metrics.shapes_judge.train`).
Without ``--out`` the checkpoint shipped with the package (``shapes_judge/checkpoint``) is
rewritten; the same steps give the same weights on one installation.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``train`` action."""
    from mllmbench.suites.metrics.shapes_judge.train import Recipe

    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    help_text = "train the Shapes judge on freshly rendered Shapes images (one CPU thread, fixed steps)"
    train = sub.add_parser("train", help=help_text, description=help_text)
    train.add_argument(
        "--steps", type=int, default=Recipe.steps, help=f"optimizer steps (default {Recipe.steps})"
    )
    train.add_argument(
        "--out", type=Path, help="output directory (default: the package's shipped checkpoint)"
    )


def run(args: argparse.Namespace) -> int:
    """Train, save, print the checkpoint directory and the held-out figures."""
    import os

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from mllmbench.core.errors import InputError
    from mllmbench.suites.metrics.shapes_judge import CHECKPOINT_DIR
    from mllmbench.suites.metrics.shapes_judge.train import Recipe, train_judge

    if args.steps < 1:
        raise InputError(f"--steps must be at least 1, got {args.steps}")
    logging.getLogger("mllmbench.suites.metrics.shapes_judge.train").setLevel(logging.INFO)
    out = args.out if args.out is not None else CHECKPOINT_DIR
    report = train_judge(out, Recipe(steps=args.steps))
    print(out)
    print(json.dumps({"heldout": report["heldout"], "train_seconds": report["train_seconds"]}))
    return 0
