"""Where mllm-bench keeps generated data and caches: the user's XDG cache, never site-packages."""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """Return the cache directory: ``$MLLMBENCH_CACHE`` or ``$XDG_CACHE_HOME/mllm-bench``."""
    explicit = os.environ.get("MLLMBENCH_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg).expanduser() / "mllm-bench"


def default_shapes_dir() -> Path:
    """Where `mllm-bench data shapes` writes by default, and where `run` looks for it."""
    return cache_root() / "data" / "shapes"


def default_shapes_video_dir() -> Path:
    """Where `mllm-bench data shapes-video` writes by default, and where `run` looks for it."""
    return cache_root() / "data" / "shapes_video"


def default_tiny_dir(family: str) -> Path:
    """Where `mllm-bench tiny FAMILY` writes by default, and where the embedded default looks."""
    return cache_root() / "tiny" / family


def default_runs_dir() -> Path:
    """Where runs go when `--out` is not given: ``./runs`` in the working directory."""
    return Path.cwd() / "runs"
