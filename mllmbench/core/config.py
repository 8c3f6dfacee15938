"""The run configuration: every setting a user chooses, with its one default, validated once.

`RunConfig` is the single source of defaults: the CLI's argparse defaults and the Python API's
come from its fields (`default`), and `RunConfig.__post_init__` validates every setting for
both, raising `ConfigError` that names the CLI flag (the CLI exits 2) before any model loads.
"""

from __future__ import annotations

import math
from dataclasses import MISSING, asdict, dataclass, fields
from typing import Any

from mllmbench.core.device import DEFAULT_DEVICE, check_device, check_dtype
from mllmbench.core.errors import ConfigError

DEFAULT_MAX_NEW_TOKENS = 16
"""New tokens per answer, for the CLI, the API and `GenerationSettings` alike."""

FLAGS: dict[str, str] = {
    "adapter": "--adapter",
    "model": "--model",
    "suites": "--suite",
    "data_dir": "--data",
    "suite_data": "--data",
    "limit": "--limit",
    "batch_size": "--batch-size",
    "device": "--device",
    "dtype": "--dtype",
    "seed": "--seed",
    "max_new_tokens": "--max-new-tokens",
    "steps": "--steps",
    "guidance": "--guidance",
    "temperature": "--temperature",
    "top_k": "--top-k",
    "image_size": "--image-size",
    "fid_extractor": "--fid-extractor",
    "fid_mode": "--fid-mode",
    "clip_model": "--clip-model",
    "out_dir": "--out",
    "pipeline": "--no-pipeline",
    "base_urls": "--base-url",
    "api_key_env": "--api-key-env",
    "concurrency": "--concurrency",
    "request_timeout": "--request-timeout",
    "max_retries": "--max-retries",
    "serve": "--serve",
    "prompt_format": "--prompt-format",
    "video_frames": "--video-frames",
    "video_fps": "--video-fps",
}
"""The CLI flag of each field, named in validation errors."""

FID_MODES = ("clean", "legacy_pytorch", "legacy_tensorflow")
"""clean-fid preprocessing modes of the Inception extractor (``--fid-mode``)."""

SERVER_OPTIONS = ("base_urls", "api_key_env", "concurrency", "request_timeout", "max_retries", "serve")
"""``openai`` adapter settings: recorded in run.json, outside the run identity."""

_OPTIONAL_IDENTITY = ("fid_extractor", "fid_mode", "clip_model", "prompt_format", "video_frames", "video_fps")
"""Identity fields left out while unset, so runs that never score images keep their run id."""


@dataclass(frozen=True)
class RunConfig:
    """Everything a user chose for a run. Its hash (without output-only fields) names the run."""

    adapter: str
    model: str
    suites: tuple[str, ...]
    data_dir: str | None = None
    """Data directory for every suite that has no entry in `suite_data`."""
    suite_data: tuple[tuple[str, str], ...] = ()
    """Per-suite data directories, ``(suite, dir)`` pairs (``--data SUITE=DIR``)."""
    limit: int | None = None
    """At most this many samples per suite (None: all)."""
    batch_size: int = 8
    device: str = DEFAULT_DEVICE
    dtype: str = "float32"
    seed: int = 0
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS
    trust_remote_code: bool = False
    steps: int | None = None
    """Image generation: denoising steps (None: the checkpoint's default)."""
    guidance: float | None = None
    """Image generation: classifier-free guidance scale (None: the checkpoint's default)."""
    temperature: float | None = None
    """Image generation: sampling temperature for token-based generators (None: default)."""
    top_k: int | None = None
    """Image generation: top-k for token-based generators (None: default)."""
    image_size: int | None = None
    """Image generation: width = height in pixels (None: the checkpoint's default)."""
    fid_extractor: str | None = None
    """Generated-image scoring: ``inception``, ``clip:PATH``, ``dinov2:PATH`` (comma-separated) or
    ``none``; None: ``$MLLMBENCH_FID_EXTRACTOR``, else ``inception``. The runner records the
    resolved value here, so it is part of the run identity."""
    fid_mode: str | None = None
    """clean-fid mode (`FID_MODES`); None: ``$MLLMBENCH_FID_MODE``, else ``clean`` (resolved as above)."""
    clip_model: str | None = None
    """Local CLIP directory for the CLIP score; None: ``$MLLMBENCH_CLIP_MODEL`` (resolved as above)."""
    out_dir: str = ""
    fail_fast: bool = False
    pipeline: bool = True
    """Local adapters: prepare the next batch in a worker thread while the current one generates,
    and sort samples by prompt length (`mllmbench.engine.pipeline`); outside the
    run identity, since answers do not depend on it (``--no-pipeline``: one batch after another)."""
    response_cache: bool = False
    """Reuse responses cached by earlier runs of the same checkpoint, prompt, images and settings."""
    prompt_format: str | None = None
    """``auto`` adapter: a prompt with ``{text}`` (and ``{images}``, the image tokens) for checkpoints
    without a chat template; None: the chat template."""
    video_frames: int | None = None
    """Video suites: sample this many frames evenly over each clip (None with `video_fps` None:
    `mllmbench.core.video.DEFAULT_VIDEO_FRAMES`)."""
    video_fps: float | None = None
    """Video suites: sample frames at this rate instead (exclusive with `video_frames`)."""
    base_urls: tuple[str, ...] = ()
    """``openai`` adapter: the servers' OpenAI-compatible base URLs (requests spread over them)."""
    api_key_env: str | None = None
    """``openai`` adapter: the environment variable holding the API key (the key is never recorded)."""
    concurrency: int = 4
    """``openai`` adapter: requests in flight at once (over all servers)."""
    request_timeout: float = 60.0
    """``openai`` adapter: seconds to connect and between streamed chunks of one request."""
    max_retries: int = 3
    """``openai`` adapter: retries of a failed request (connection error, 429, 5xx, timeout)."""
    serve: str | None = None
    """``openai`` adapter: a command that starts the server; stopped when the run ends."""

    def __post_init__(self) -> None:
        _check_names(self)
        _check_int(self, "limit", minimum=1, optional=True)
        _check_int(self, "batch_size", minimum=1)
        _check_int(self, "max_new_tokens", minimum=1)
        _check_int(self, "seed", minimum=0)
        _check_int(self, "steps", minimum=1, optional=True)
        _check_int(self, "top_k", minimum=1, optional=True)
        _check_int(self, "image_size", minimum=8, optional=True)
        _check_float(self, "guidance", minimum=0.0, strict=False)
        _check_float(self, "temperature", minimum=0.0, strict=True)
        _check_int(self, "concurrency", minimum=1)
        _check_int(self, "max_retries", minimum=0)
        _check_float(self, "request_timeout", minimum=0.0, strict=True)
        _check_int(self, "video_frames", minimum=1, optional=True)
        _check_float(self, "video_fps", minimum=0.0, strict=True)
        if self.video_frames is not None and self.video_fps is not None:
            raise ConfigError("--video-frames and --video-fps are exclusive: give one frame-sampling policy")
        check_device(self.device, flag=FLAGS["device"])
        check_dtype(self.dtype, flag=FLAGS["dtype"])
        if self.fid_mode is not None and self.fid_mode not in FID_MODES:
            raise ConfigError(f"--fid-mode must be one of {', '.join(FID_MODES)}, got {self.fid_mode!r}")
        for name in ("fid_extractor", "clip_model"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise ConfigError(f"{FLAGS[name]} must be a non-empty string, got {value!r}")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        d = asdict(self)
        d["suites"] = list(self.suites)
        d["suite_data"] = [list(p) for p in self.suite_data]
        d["base_urls"] = list(self.base_urls)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunConfig:
        """Inverse of `to_dict` (unknown keys from other versions are ignored)."""
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        known["suites"] = tuple(known.get("suites", ()))
        known["suite_data"] = tuple(tuple(p) for p in known.get("suite_data", ()))
        known["base_urls"] = tuple(known.get("base_urls", ()))
        return cls(**known)

    def identity(self) -> dict[str, Any]:
        """The fields that change results (output location and failure policy excluded)."""
        d = self.to_dict()
        # Where and how a server is reached does not change its answers (a resumed run may use others).
        for k in ("out_dir", "fail_fast", "pipeline", "response_cache", *SERVER_OPTIONS):
            d.pop(k)
        for k in _OPTIONAL_IDENTITY:
            if d[k] is None:
                d.pop(k)
        return d


def default(name: str) -> Any:
    """The default of `RunConfig` field `name` (what the CLI and the API use when it is not given)."""
    f = RunConfig.__dataclass_fields__[name]
    if f.default is MISSING:
        raise KeyError(f"RunConfig.{name} has no default")
    return f.default


def field_names() -> tuple[str, ...]:
    """Every `RunConfig` field."""
    return tuple(f.name for f in fields(RunConfig))


def _check_names(cfg: RunConfig) -> None:
    if not isinstance(cfg.adapter, str) or not cfg.adapter.strip():
        raise ConfigError(f"--adapter must name an adapter, got {cfg.adapter!r}")
    if not isinstance(cfg.model, str):
        raise ConfigError(f"--model must be a path or hub id, got {cfg.model!r}")
    if isinstance(cfg.suites, str) or not all(isinstance(s, str) and s.strip() for s in cfg.suites):
        raise ConfigError(f"--suite must be a list of suite names, got {cfg.suites!r}")
    if not cfg.suites:
        raise ConfigError("no suite given: pass --suite NAME[,NAME...]")


def _check_int(cfg: RunConfig, name: str, *, minimum: int, optional: bool = False) -> None:
    value = getattr(cfg, name)
    if value is None and optional:
        return
    if not isinstance(value, int) or isinstance(value, bool):
        raise ConfigError(f"{FLAGS[name]} must be an integer, got {value!r}")
    if value < minimum:
        raise ConfigError(f"{FLAGS[name]} must be at least {minimum}, got {value}")


def _check_float(cfg: RunConfig, name: str, *, minimum: float, strict: bool) -> None:
    value = getattr(cfg, name)
    if value is None:
        return
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        raise ConfigError(f"{FLAGS[name]} must be a finite number, got {value!r}")
    if value < minimum or (strict and value == minimum):
        bound = "greater than" if strict else "at least"
        raise ConfigError(f"{FLAGS[name]} must be {bound} {minimum:g}, got {value:g}")
