"""`mllm-bench data DATASET ...`: generate the built-in datasets (the synthetic Shapes sets).

``mllm-bench data shapes [--out DIR] [--images N] [--seed S]`` writes the Shapes dataset in the
official VQAv2 and COCO formats (layout: `mllmbench.suites.shapes`) and prints the directory,
the counts and the fingerprint. The same N and S always give the same bytes.

``mllm-bench data shapes-video [--out DIR] [--videos N] [--seed S]`` writes N short MP4 clips of
moving Shapes with questions on motion, order of appearance and counts over time (layout:
`mllmbench.suites.shapes_video`).
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add one sub-subcommand per dataset."""
    from mllmbench.suites.shapes import DEFAULT_IMAGES, DEFAULT_SEED

    sub = parser.add_subparsers(dest="dataset", metavar="DATASET", required=True)
    help_text = "synthetic images of coloured shapes with VQAv2, COCO-caption and text-to-image files"
    shapes = sub.add_parser("shapes", help=help_text, description=help_text)
    shapes.add_argument(
        "--out", type=Path, help="output directory (default: the user cache, where `run` looks for it)"
    )
    shapes.add_argument(
        "--images", type=int, default=DEFAULT_IMAGES, help=f"number of images (default {DEFAULT_IMAGES})"
    )
    shapes.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help=f"generator seed (default {DEFAULT_SEED})"
    )
    from mllmbench.suites import shapes_video

    help_text = "short MP4 clips of moving shapes with questions on motion, order and counts over time"
    video = sub.add_parser("shapes-video", help=help_text, description=help_text)
    video.add_argument(
        "--out", type=Path, help="output directory (default: the user cache, where `run` looks)"
    )
    video.add_argument(
        "--videos",
        type=int,
        default=shapes_video.DEFAULT_VIDEOS,
        help=f"number of clips (default {shapes_video.DEFAULT_VIDEOS})",
    )
    video.add_argument(
        "--seed",
        type=int,
        default=shapes_video.DEFAULT_SEED,
        help=f"generator seed (default {shapes_video.DEFAULT_SEED})",
    )


def run(args: argparse.Namespace) -> int:
    """Generate the chosen dataset and print where it went."""
    if args.dataset == "shapes-video":
        return _shapes_video(args)
    from mllmbench.core.paths import default_shapes_dir
    from mllmbench.suites.shapes import generate_shapes

    out = args.out if args.out is not None else default_shapes_dir()
    manifest = generate_shapes(out, images=args.images, seed=args.seed)
    print(out)
    print(
        f"images {manifest.images}, VQA questions {manifest.questions} ({manifest.questions * 10} answers), "
        f"captions {manifest.captions}, text-to-image prompts {manifest.t2i_prompts}; seed {manifest.seed}"
    )
    print(f"fingerprint sha256:{manifest.fingerprint}")
    return 0


def _shapes_video(args: argparse.Namespace) -> int:
    from mllmbench.core.paths import default_shapes_video_dir
    from mllmbench.suites.shapes_video import generate_shapes_video

    out = args.out if args.out is not None else default_shapes_video_dir()
    manifest = generate_shapes_video(out, videos=args.videos, seed=args.seed)
    print(out)
    print(f"videos {manifest.videos}, questions {manifest.questions}; seed {manifest.seed}")
    print(f"fingerprint sha256:{manifest.fingerprint}")
    return 0
