"""`mllm-bench run`: run suites through an adapter into a run directory.

With no arguments it runs the embedded default: the built-in Shapes data and a tiny random
LLaVA checkpoint, both generated offline on first use, then writes an HTML report.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

log = logging.getLogger(__name__)

DEFAULT_ADAPTER = "llava"
DEFAULT_SUITES = "vqa,caption"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `run`."""
    parser.add_argument(
        "--adapter", help=f"adapter name (see `mllm-bench list adapters`; default {DEFAULT_ADAPTER})"
    )
    parser.add_argument(
        "--model", help="checkpoint directory or hub id (default: the adapter's tiny checkpoint)"
    )
    parser.add_argument(
        "--suite", default=DEFAULT_SUITES, help=f"comma-separated suites (default {DEFAULT_SUITES})"
    )
    parser.add_argument(
        "--data",
        action="append",
        default=[],
        metavar="[SUITE=]DIR",
        help="data directory for every suite, or SUITE=DIR for one suite (repeatable); "
        "default: each suite's own (the built-in Shapes set for vqa, caption, t2i, efficiency)",
    )
    parser.add_argument("--limit", type=int, help="at most N samples per suite")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-new-tokens", type=int, default=16)
    gen = parser.add_argument_group("image generation (t2i suites; unset: the checkpoint's defaults)")
    gen.add_argument("--steps", type=int, help="denoising steps")
    gen.add_argument("--guidance", type=float, help="classifier-free guidance scale")
    gen.add_argument("--temperature", type=float, help="sampling temperature (token-based generators)")
    gen.add_argument("--top-k", type=int, help="top-k (token-based generators)")
    gen.add_argument("--image-size", type=int, help="width = height of generated images in pixels")
    parser.add_argument("--out", type=Path, help="run directory (default ./runs/<adapter>-<model>-<hash>)")
    parser.add_argument("--fail-fast", action="store_true", help="stop at the first failed sample")
    parser.add_argument(
        "--response-cache",
        action="store_true",
        help="reuse responses cached by earlier runs (same checkpoint, prompt, images, settings)",
    )
    parser.add_argument("--overwrite", action="store_true", help="start again instead of resuming")
    parser.add_argument("--trust-remote-code", action="store_true", help="allow a checkpoint's own code")
    parser.add_argument("--no-report", action="store_true", help="do not write report.html")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def parse_data_args(values: list[str]) -> tuple[str | None, tuple[tuple[str, str], ...]]:
    """``--data DIR`` (every suite) and ``--data SUITE=DIR`` (one suite), each at most once."""
    from mllmbench.core.errors import ConfigError

    shared: str | None = None
    per_suite: dict[str, str] = {}
    for value in values:
        name, sep, path = value.partition("=")
        if sep and name and "/" not in name and not Path(value).exists():
            if name in per_suite:
                raise ConfigError(f"--data gives suite {name!r} twice")
            per_suite[name] = path
        elif shared is not None:
            raise ConfigError("--data DIR given twice; use SUITE=DIR for per-suite directories")
        else:
            shared = value
    return shared, tuple(sorted(per_suite.items()))


def _default_out(adapter: str, model: str, run_id: str) -> Path:
    from mllmbench.core.paths import default_runs_dir

    stem = Path(model.rstrip("/")).name or "model"
    return default_runs_dir() / f"{adapter}-{stem}-{run_id[:8]}"


def run(args: argparse.Namespace) -> int:
    """Run, print a summary table and the report location; exit 1 if any sample failed."""
    from dataclasses import replace

    from mllmbench.core.config import RunConfig
    from mllmbench.engine import provenance
    from mllmbench.engine.runner import Runner, SampleFailure, prepare

    adapter = args.adapter or DEFAULT_ADAPTER
    data_dir, suite_data = parse_data_args(args.data)
    suites = tuple(s.strip() for s in args.suite.split(",") if s.strip())
    config = RunConfig(
        adapter=adapter,
        model=args.model or "",
        suites=suites,
        data_dir=data_dir,
        suite_data=suite_data,
        steps=args.steps,
        guidance=args.guidance,
        temperature=args.temperature,
        top_k=args.top_k,
        image_size=args.image_size,
        limit=args.limit,
        batch_size=args.batch_size,
        device=args.device,
        dtype=args.dtype,
        seed=args.seed,
        max_new_tokens=args.max_new_tokens,
        trust_remote_code=args.trust_remote_code,
        fail_fast=args.fail_fast,
        response_cache=args.response_cache,
    )
    # Unknown names, missing paths and unsupported capabilities fail here, before anything loads.
    prepare(config, check_model=bool(args.model))
    if not args.model:
        from mllmbench.cli.commands.tiny import ensure_tiny

        config = replace(config, model=str(ensure_tiny(adapter)))
    out = args.out or _default_out(adapter, config.model, provenance.config_hash(config.identity()))
    config = replace(config, out_dir=str(out))
    try:
        outcome = Runner(config, overwrite=args.overwrite, progress=not args.no_progress).run()
    except SampleFailure as exc:
        print(f"mllm-bench: stopped at the first failed sample (--fail-fast): {exc}", file=sys.stderr)
        return 1
    if not outcome.run_json:  # a torchrun rank other than 0: rank 0 reports for everyone
        return 0
    print(format_summary(outcome.run_json))
    print(f"run directory: {outcome.run_dir}")
    if not args.no_report:
        from mllmbench.reports.html import write_report

        report = write_report([outcome.run_dir], outcome.run_dir / "report.html")
        print(f"report: {report}")
    if outcome.n_errors:
        print(
            f"mllm-bench: {outcome.n_errors} sample(s) failed; see the error field in samples.jsonl",
            file=sys.stderr,
        )
        return 1
    return 0


def format_summary(run_json: dict) -> str:  # type: ignore[type-arg]
    """A plain-text table: suite, metric, value, interval, n (`core.text_table.run_summary_table`)."""
    from mllmbench.core.text_table import run_summary_table

    return run_summary_table(run_json.get("suites", {}))
