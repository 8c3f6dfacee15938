"""`mllm-bench score fid`: FID (and KID) between two image folders or feature files.

``--real`` and ``--fake`` each take an image folder, a ``.npy`` feature matrix (N x D) or a
``.npz`` with ``mu`` and ``sigma``. The scoring lives in `mllmbench.suites.metrics.fid_inputs`;
this module parses the flags and prints.
"""

from __future__ import annotations

import argparse
import json
import logging
from typing import Any

from mllmbench.core.device import resolve_device
from mllmbench.core.formatting import format_metric
from mllmbench.suites.metrics.fid_inputs import MODES, FidOptions

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `score fid`."""
    parser.add_argument(
        "--real", required=True, help="reference images: a folder, a .npy (N x D) or a .npz (mu, sigma)"
    )
    parser.add_argument(
        "--fake", required=True, help="generated images: a folder, a .npy (N x D) or a .npz (mu, sigma)"
    )
    parser.add_argument(
        "--extractor",
        default="inception",
        help="inception (clean-fid Inception-v3), clip:PATH or dinov2:PATH "
        "(PATH: a local transformers model directory)",
    )
    parser.add_argument(
        "--mode",
        choices=MODES,
        default=None,
        help="clean-fid preprocessing for inception (default clean); for dinov2, 'clean' selects dgm-eval's "
        "clean resize instead of its torchvision resize",
    )
    parser.add_argument(
        "--inception-weights",
        default=None,
        help="path of inception-2015-12-05.pt (legacy_pytorch: pt_inception-2015-12-05-6726825d.pth)",
    )
    parser.add_argument("--kid", action="store_true", help="also compute KID (clean-fid kernel_distance)")
    parser.add_argument("--kid-subsets", type=int, default=100, help="KID subsets (default 100)")
    parser.add_argument("--kid-subset-size", type=int, default=1000, help="largest KID subset (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the KID subset draws (default 0)")
    parser.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: cpu, as `run`)")
    parser.add_argument("--batch-size", type=int, default=64, help="images per extractor batch")
    parser.add_argument(
        "--no-cache", action="store_true", help="do not read or write cached --real folder statistics"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")


def options_from_args(args: argparse.Namespace) -> FidOptions:
    """The parsed flags as `FidOptions`."""
    return FidOptions(
        extractor=args.extractor,
        mode=args.mode,
        inception_weights=args.inception_weights,
        kid=args.kid,
        kid_subsets=args.kid_subsets,
        kid_subset_size=args.kid_subset_size,
        seed=args.seed,
        device=resolve_device(args.device),
        batch_size=args.batch_size,
        use_cache=not args.no_cache,
    )


def format_text(result: dict[str, Any]) -> str:
    """FID (and KID) lines in the shared number format."""
    ext = result["extractor"]["name"] + (f" ({result['mode']})" if result["mode"] else "")
    lines = [
        f"FID  {format_metric('fid', result['fid'])}   real n={result['n_real']}  "
        f"fake n={result['n_fake']}  extractor={ext}"
    ]
    if "kid" in result:
        lines.append(
            f"KID  {format_metric('kid', result['kid'])}   "
            f"subsets={result['kid_subsets']} x {result['kid_subset_size']}"
        )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Compute and print FID (and KID): raw numbers with --json, readable ones otherwise."""
    from mllmbench.suites.metrics.fid_inputs import score_fid

    result = score_fid(args.real, args.fake, options_from_args(args))
    print(json.dumps(result, allow_nan=True) if args.json else format_text(result))
    return 0
