"""`mllm-bench report RUN_DIR... -o report.html`: one self-contained HTML file comparing runs."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `report`."""
    parser.add_argument("runs", nargs="+", type=Path, help="run directories, or folders holding runs")
    parser.add_argument("-o", "--output", type=Path, default=Path("report.html"), help="HTML file to write")


def run(args: argparse.Namespace) -> int:
    """Write the report and print its path."""
    from mllmbench.reports.html import write_report

    print(write_report(args.runs, args.output))
    return 0
