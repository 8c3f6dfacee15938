"""`mllm-bench rescore RUN_DIR [--judge-adapter A --judge-model M]`: recompute a run's metrics from its
sample log, without the model; with a judge, multiple-choice suites also get the judged values."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `rescore`."""
    parser.add_argument("run_dir", type=Path, help="a run directory (holds run.json and samples.jsonl)")
    parser.add_argument("--no-report", action="store_true", help="do not rewrite report.html")
    from mllmbench.cli.commands.score_bench import add_judge_arguments

    add_judge_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Re-score with today's suites and metrics, rewrite run.json (and report.html), print the table."""
    from mllmbench.cli.commands.run import format_summary
    from mllmbench.cli.commands.score_bench import judge_spec
    from mllmbench.engine.rescore import rescore

    result = rescore(args.run_dir, judge=judge_spec(args))
    print(format_summary(result))
    if not args.no_report:
        from mllmbench.reports.html import write_report

        print(f"report: {write_report([args.run_dir], args.run_dir / 'report.html')}")
    return 0
