"""The `mllm-bench` command line.

Each subcommand lives in its own module under `mllmbench.cli.commands` and exposes
``add_arguments(parser)`` and ``run(args) -> int``. Modules are imported only when their
command runs (help text comes from the table below), so `mllm-bench --help` imports no torch.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from mllmbench import __version__
from mllmbench.core.errors import MllmBenchError

log = logging.getLogger("mllmbench")

# command -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "run": (
        "mllmbench.cli.commands.run",
        "run suites through an adapter (no arguments: the embedded default)",
    ),
    "rescore": (
        "mllmbench.cli.commands.rescore",
        "recompute a run's metrics from its sample log, without the model",
    ),
    "score": ("mllmbench.cli.commands.score", "score a predictions file exactly as the reference tools do"),
    "compare": ("mllmbench.cli.commands.compare", "per-item differences between two harnesses' predictions"),
    "data": ("mllmbench.cli.commands.data", "generate built-in datasets (the synthetic Shapes set)"),
    "tiny": ("mllmbench.cli.commands.tiny", "build a tiny random checkpoint of a model family, offline"),
    "list": ("mllmbench.cli.commands.listing", "list installed adapters and suites"),
    "report": ("mllmbench.cli.commands.report", "render runs into one self-contained HTML report"),
    "leaderboard": ("mllmbench.cli.commands.leaderboard", "build a static leaderboard site from many runs"),
    "judge": ("mllmbench.cli.commands.judge", "train the offline Shapes judge (text-to-image scoring)"),
    "zoo": ("mllmbench.cli.commands.zoo", "the paradigm zoo: list, train and compare the trained members"),
}

# Exit codes: 0 ok; 1 the run finished but some samples failed; 2 usage or input error;
# 4 results could not be written (disk full); 130 interrupted.
EXIT_OK, EXIT_SAMPLE_ERRORS, EXIT_USAGE, EXIT_WRITE_FAILED, EXIT_INTERRUPTED = 0, 1, 2, 4, 130


def _load_command(name: str):  # type: ignore[no-untyped-def]
    return importlib.import_module(COMMANDS[name][0])


def build_parser(argv: Sequence[str]) -> argparse.ArgumentParser:
    """Build the parser; only the subcommand named in `argv` gets its module imported."""
    parser = argparse.ArgumentParser(
        prog="mllm-bench",
        description="Benchmark and compare multimodal LLM paradigms.",
    )
    parser.add_argument("--version", action="version", version=f"mllm-bench {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    chosen = next((a for a in argv if a in COMMANDS), None)
    for name, (_module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            _load_command(name).add_arguments(p)
    return parser


def _setup_logging(verbose: int, quiet: bool) -> None:
    level = logging.WARNING if quiet else (logging.DEBUG if verbose > 1 else logging.INFO)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("mllmbench")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `mllm-bench` console script; returns the exit code."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if not args_list:
        args_list = ["run"]  # the embedded default
    parser = build_parser(args_list)
    args = parser.parse_args(args_list)
    _setup_logging(args.verbose, args.quiet)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(_load_command(args.command).run(args))
    except MllmBenchError as exc:
        print(f"mllm-bench: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("mllm-bench: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
