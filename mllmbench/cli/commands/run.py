"""`mllm-bench run`: run suites through an adapter into a run directory.

With no arguments it runs the embedded default: the built-in Shapes data (generated offline on
first use) through the trained zoo LLaVA (``--model zoo:llava``, shipped with the package), then
writes an HTML report. ``--adapter NAME`` without ``--model`` uses that adapter's tiny checkpoint.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from mllmbench.engine.plan import DEFAULT_ADAPTER, DEFAULT_MODEL, default_adapter_and_model

if TYPE_CHECKING:
    from mllmbench.core.config import RunConfig
    from mllmbench.core.results import RunResult

log = logging.getLogger(__name__)


__all__ = ["DEFAULT_ADAPTER", "DEFAULT_MODEL", "add_arguments", "config_from_args", "run"]
DEFAULT_SUITES = "vqa,caption"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `run`; every default comes from `RunConfig` (shown by ``--help``)."""
    from mllmbench.core.config import default
    from mllmbench.core.device import DTYPES

    parser.formatter_class = argparse.ArgumentDefaultsHelpFormatter
    parser.add_argument(
        "--adapter", help=f"adapter name (see `mllm-bench list adapters`; default {DEFAULT_ADAPTER})"
    )
    parser.add_argument(
        "--model",
        help=f"checkpoint directory, hub id or zoo:NAME (default: {DEFAULT_MODEL} without --adapter, "
        "else the adapter's tiny checkpoint)",
    )
    parser.add_argument("--suite", default=DEFAULT_SUITES, help="comma-separated suites")
    parser.add_argument(
        "--data",
        action="append",
        default=[],
        metavar="[SUITE=]DIR",
        help="data directory for every suite, or SUITE=DIR for one suite (repeatable); "
        "default: each suite's own (the built-in Shapes set for vqa, caption, t2i, efficiency)",
    )
    parser.add_argument(
        "--limit", type=int, default=default("limit"), help="at most N samples per suite (N >= 1)"
    )
    parser.add_argument(
        "--batch-size", type=int, default=default("batch_size"), help="samples per adapter call"
    )
    parser.add_argument("--device", default=default("device"), help="cpu, cuda or cuda:N")
    parser.add_argument("--dtype", default=default("dtype"), choices=DTYPES, help="weights and activations")
    parser.add_argument("--seed", type=int, default=default("seed"), help="generation seed")
    parser.add_argument(
        "--max-new-tokens", type=int, default=default("max_new_tokens"), help="new tokens per answer"
    )
    _add_generation_options(parser)
    _add_server_options(parser)
    _add_output_options(parser)


def _add_generation_options(parser: argparse.ArgumentParser) -> None:
    """Image-generation knobs and the scoring settings of generated images."""
    from mllmbench.core.config import FID_MODES, default

    gen = parser.add_argument_group("image generation (t2i suites; unset: the checkpoint's defaults)")
    gen.add_argument("--steps", type=int, default=default("steps"), help="denoising steps")
    gen.add_argument(
        "--guidance", type=float, default=default("guidance"), help="classifier-free guidance scale"
    )
    gen.add_argument(
        "--temperature",
        type=float,
        default=default("temperature"),
        help="sampling temperature (token-based generators)",
    )
    gen.add_argument("--top-k", type=int, default=default("top_k"), help="top-k (token-based generators)")
    gen.add_argument(
        "--image-size",
        type=int,
        default=default("image_size"),
        help="width = height of generated images in pixels",
    )
    video = parser.add_argument_group("video input (one of the two; unset: 8 frames per clip)")
    video.add_argument(
        "--video-frames",
        type=int,
        default=default("video_frames"),
        help="sample N frames evenly over each clip",
    )
    video.add_argument(
        "--video-fps", type=float, default=default("video_fps"), help="sample frames at F per second"
    )
    score = parser.add_argument_group(
        "scoring generated images (unset: the MLLMBENCH_* variables, then defaults)"
    )
    score.add_argument(
        "--fid-extractor",
        default=default("fid_extractor"),
        help="inception, clip:PATH, dinov2:PATH (comma-separated) or none; else $MLLMBENCH_FID_EXTRACTOR or inception",
    )
    score.add_argument(
        "--fid-mode",
        default=default("fid_mode"),
        choices=FID_MODES,
        help="clean-fid mode; else $MLLMBENCH_FID_MODE or clean",
    )
    score.add_argument(
        "--clip-model",
        default=default("clip_model"),
        help="local CLIP directory for the CLIP score; else $MLLMBENCH_CLIP_MODEL",
    )


def _add_server_options(parser: argparse.ArgumentParser) -> None:
    """Options of the auto and openai adapters."""
    from mllmbench.core.config import default

    parser.add_argument(
        "--prompt-format",
        default=default("prompt_format"),
        help="auto adapter, checkpoints without a chat template: a prompt with {text} and {images} "
        "(the image tokens), e.g. '{images}Question: {text} Answer:'",
    )
    server = parser.add_argument_group("openai adapter (OpenAI-compatible servers, see docs/serving.md)")
    server.add_argument(
        "--base-url",
        action="append",
        default=[],
        metavar="URL",
        help="server base URL, e.g. http://127.0.0.1:8000/v1 (repeatable: requests spread over the servers)",
    )
    server.add_argument(
        "--api-key-env",
        default=default("api_key_env"),
        metavar="VAR",
        help="environment variable with the API key",
    )
    server.add_argument(
        "--concurrency", type=int, default=default("concurrency"), help="requests in flight at once"
    )
    server.add_argument(
        "--request-timeout",
        type=float,
        default=default("request_timeout"),
        help="seconds to connect and between streamed chunks",
    )
    server.add_argument(
        "--max-retries",
        type=int,
        default=default("max_retries"),
        help="retries of a request (connection error, timeout, 429, 5xx), exponential backoff",
    )
    server.add_argument(
        "--serve",
        default=default("serve"),
        metavar="COMMAND",
        help="start this server command first, wait for /v1/models, stop it when the run ends",
    )


def _add_output_options(parser: argparse.ArgumentParser) -> None:
    """Where results go and how failures, caching and resuming behave."""
    parser.add_argument("--out", type=Path, help="run directory (default ./runs/<adapter>-<model>-<hash>)")
    parser.add_argument("--fail-fast", action="store_true", help="stop at the first failed sample")
    parser.add_argument(
        "--no-pipeline",
        dest="pipeline",
        action="store_false",
        help="run batches one after another in dataset order (default: prepare the next batch while "
        "one generates, length-sorted; the same answers)",
    )
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


CONFIG_ARGS = (
    "limit", "batch_size", "device", "dtype", "seed", "max_new_tokens", "steps", "guidance",
    "temperature", "top_k", "image_size", "fid_extractor", "fid_mode", "clip_model",
    "trust_remote_code", "fail_fast", "pipeline", "response_cache", "prompt_format", "api_key_env",
    "concurrency", "request_timeout", "max_retries", "serve", "video_frames", "video_fps",
)  # fmt: skip
"""`run` options that are `RunConfig` fields of the same name."""


def config_from_args(args: argparse.Namespace) -> RunConfig:
    """The `RunConfig` of the options (validated: a bad value raises `ConfigError`, exit 2)."""
    from mllmbench.core.config import RunConfig

    data_dir, suite_data = parse_data_args(args.data)
    suites = tuple(s.strip() for s in args.suite.split(",") if s.strip())
    adapter, model = default_adapter_and_model(args.adapter, args.model)
    return RunConfig(
        adapter=adapter,
        model=model,
        suites=suites,
        data_dir=data_dir,
        suite_data=suite_data,
        base_urls=tuple(args.base_url),
        **{name: getattr(args, name) for name in CONFIG_ARGS},
    )


def run(args: argparse.Namespace) -> int:
    """Run, print a summary table and the report location; exit 1 if any sample failed."""
    from dataclasses import replace

    from mllmbench.core.device import resolve_device
    from mllmbench.core.paths import default_runs_dir
    from mllmbench.engine.plan import resolve_run, run_name
    from mllmbench.engine.runner import Runner, SampleFailure

    # Bad settings, unknown names, missing paths and unsupported capabilities fail here,
    # before anything loads.
    config = config_from_args(args)
    resolve_device(config.device)
    config = resolve_run(config)
    out = args.out or default_runs_dir() / run_name(config)
    config = replace(config, out_dir=str(out))
    try:
        outcome = Runner(config, overwrite=args.overwrite, progress=not args.no_progress).run()
    except SampleFailure as exc:
        print(f"mllm-bench: stopped at the first failed sample (--fail-fast): {exc}", file=sys.stderr)
        return 1
    if outcome.result is None:  # a torchrun rank other than 0: rank 0 reports for everyone
        return 0
    print(format_summary(outcome.result))
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


def format_summary(result: RunResult) -> str:
    """A plain-text table: suite, metric, value, interval, n (`core.text_table.run_summary_table`)."""
    from mllmbench.core.text_table import run_summary_table

    return run_summary_table(result.suites)
