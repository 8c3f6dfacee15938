"""Tiny random checkpoints as run defaults: the model a run uses when none is given.

A checkpoint is what ``save_pretrained`` writes, built offline by the adapter's tiny recipe into
the cache; a marker file is written last, so a directory without it is rebuilt. The CLI (``run``
without ``--model``, ``mllm-bench tiny``) and the Python API share these functions.
"""

from __future__ import annotations

import logging
from pathlib import Path

from mllmbench.adapters.registry import load_adapter_class
from mllmbench.core.errors import ConfigError, MllmBenchError
from mllmbench.core.jsonio import read_json, write_json_atomic
from mllmbench.core.paths import default_tiny_dir

log = logging.getLogger(__name__)

MARKER = "mllmbench-tiny.json"
"""Written last into a finished tiny checkpoint: ``{"family": ..., "seed": ...}``."""


def build_tiny(family: str, out_dir: Path | None = None, *, seed: int = 0) -> Path:
    """Build the tiny checkpoint of `family` into `out_dir` (default: the cache), marker last."""
    adapter_cls = load_adapter_class(family)
    if not adapter_cls.has_tiny_recipe():
        reason = adapter_cls.tiny_recipe_reason
        raise ConfigError(
            f"adapter {family!r} has no tiny checkpoint recipe" + (f": {reason}" if reason else "")
        )
    out_dir = Path(out_dir) if out_dir is not None else default_tiny_dir(family)
    marker = out_dir / MARKER
    marker.unlink(missing_ok=True)
    adapter_cls.build_tiny(out_dir, seed=seed)
    write_json_atomic(marker, {"family": family, "seed": seed})
    log.info("wrote tiny %s checkpoint (seed %d) to %s", family, seed, out_dir)
    return out_dir


def is_complete(out_dir: Path, family: str, seed: int = 0) -> bool:
    """Whether `out_dir` holds a finished tiny checkpoint of `family` built with `seed`."""
    try:
        recorded = read_json(out_dir / MARKER, what="tiny checkpoint marker")
    except (MllmBenchError, OSError):
        return False
    return isinstance(recorded, dict) and recorded.get("family") == family and recorded.get("seed") == seed


def ensure_tiny(family: str, out_dir: Path | None = None, *, seed: int = 0) -> Path:
    """The tiny checkpoint directory of `family`, built only when missing or incomplete."""
    out_dir = Path(out_dir) if out_dir is not None else default_tiny_dir(family)
    if is_complete(out_dir, family, seed):
        return out_dir
    return build_tiny(family, out_dir, seed=seed)
