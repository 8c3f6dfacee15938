"""`mllm-bench leaderboard RUN_DIR_OR_PARENT... -o SITE_DIR`: publish runs as a static site.

The folder opens from disk or from any static host: no server, no network (see
`mllmbench.reports.leaderboard_site`).
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `leaderboard`."""
    from mllmbench.reports.leaderboard_runs import SAMPLES_PER_SUITE
    from mllmbench.reports.paired import BOOTSTRAP_ITERATIONS

    parser.add_argument("runs", nargs="+", type=Path, help="run directories, or folders holding runs")
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        default=Path("leaderboard"),
        help="site folder to write (new, empty, or an earlier leaderboard; default ./leaderboard)",
    )
    parser.add_argument(
        "--samples-per-suite",
        type=int,
        default=SAMPLES_PER_SUITE,
        help=f"rows of each run page's sample explorer per suite (default {SAMPLES_PER_SUITE})",
    )
    parser.add_argument(
        "--bootstrap-iterations",
        type=int,
        default=BOOTSTRAP_ITERATIONS,
        help=f"resamples of the paired bootstrap (default {BOOTSTRAP_ITERATIONS})",
    )


def run(args: argparse.Namespace) -> int:
    """Write the site and print the path of its index page."""
    from mllmbench.core.errors import ConfigError
    from mllmbench.reports.leaderboard_site import write_site

    if args.samples_per_suite < 0:
        raise ConfigError("--samples-per-suite must be 0 or more")
    if args.bootstrap_iterations < 1:
        raise ConfigError("--bootstrap-iterations must be at least 1")
    summary = write_site(
        args.runs, args.output, samples_per_suite=args.samples_per_suite, iterations=args.bootstrap_iterations
    )
    print(summary.index)
    return 0
