"""``mllm-bench tiny FAMILY``: write a tiny random checkpoint of a model family, offline.

The checkpoint is what ``save_pretrained`` writes (config, safetensors weights, processor and
tokenizer files), so the family's adapter loads it like any real checkpoint. A marker file is
written last: a directory without it is incomplete and `ensure_tiny` rebuilds it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mllmbench.engine.tiny_checkpoints import MARKER, build_tiny, ensure_tiny, is_complete

__all__ = ["MARKER", "add_arguments", "build_tiny", "ensure_tiny", "is_complete", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``mllm-bench tiny``."""
    parser.add_argument("family", help="adapter name (see `mllm-bench list`), e.g. llava")
    parser.add_argument(
        "--out", type=Path, default=None, help="output directory (default: the mllm-bench cache)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the random weights (default 0)")


def run(args: argparse.Namespace) -> int:
    """Build the checkpoint and print its directory."""
    out_dir = build_tiny(args.family, args.out, seed=args.seed)
    print(out_dir)
    return 0
