"""`mllm-bench score KIND ...`: score prediction files exactly as the reference tools do.

Each kind lives in its own module with ``add_arguments(parser)`` and ``run(args) -> int``.
"""

from __future__ import annotations

import argparse
import importlib

from mllmbench.cli.commands.score_bench import BENCH_KINDS

KINDS: dict[str, tuple[str, str]] = {
    "vqa": ("mllmbench.cli.commands.score_vqa", "VQAv2 accuracy (official evaluation)"),
    "caption": ("mllmbench.cli.commands.score_caption", "COCO caption metrics (pycocoevalcap)"),
    "fid": ("mllmbench.cli.commands.score_fid", "FID / KID between two image folders or feature files"),
    "shapes-eval": (
        "mllmbench.cli.commands.score_shapes_eval",
        "GenEval-style scores of images for Shapes prompts (offline judge)",
    ),
    "geneval": (
        "mllmbench.cli.commands.score_geneval",
        "GenEval scores of a GenEval image folder (local Mask2Former + CLIP)",
    ),
    **BENCH_KINDS,
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add one sub-subcommand per scoring kind."""
    sub = parser.add_subparsers(dest="kind", metavar="KIND", required=True)
    for name, (module, help_text) in KINDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        importlib.import_module(module).add_arguments(p)


def run(args: argparse.Namespace) -> int:
    """Dispatch to the chosen kind."""
    return int(importlib.import_module(KINDS[args.kind][0]).run(args))
