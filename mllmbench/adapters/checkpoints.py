"""Where a checkpoint is, what it is (its weight hash), and whether it can be loaded as asked.

Shared by every adapter that loads weights: `resolve_checkpoint` tells a local directory from a
hub id, `checkpoint_hash` fingerprints the weight files, `check_device_and_dtype` rejects a bad
device or dtype name (and CUDA on a machine without it) before anything heavy loads.
"""

from __future__ import annotations

import re
from pathlib import Path

from mllmbench.core.device import DTYPES, check_dtype, resolve_device

__all__ = ["DTYPES", "WEIGHT_SUFFIXES", "check_device_and_dtype", "checkpoint_hash", "resolve_checkpoint"]
from mllmbench.core.errors import ConfigError
from mllmbench.core.hashing import tree_sha256
from mllmbench.core.zoo_paths import is_zoo_model, resolve_zoo_model

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt")
"""Files that `checkpoint_hash` reads."""

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


def resolve_checkpoint(model: str) -> Path | None:
    """The local checkpoint directory `model` names, or ``None`` when it is a hub id.

    Raises:
        ConfigError: `model` looks like a path (``/``, ``./``, ``~``, several ``/``) but does not
            exist, or names a file instead of a directory; ``zoo:NAME`` names no shipped member.
    """
    if is_zoo_model(model):
        return resolve_zoo_model(model)
    path = Path(model).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ConfigError(f"model path {model!r} is a file; expected a checkpoint directory")
        return path
    if model.startswith((".", "~", "/")) or not _HUB_ID.match(model):
        raise ConfigError(f"model path {model!r} does not exist")
    return None


def checkpoint_hash(directory: Path) -> str | None:
    """``sha256:<hex>`` over the weight files of `directory` (names and bytes, sorted by name).

    Returns ``None`` when the directory holds no weight file (see `WEIGHT_SUFFIXES`).
    """
    digest = tree_sha256(directory, suffixes=WEIGHT_SUFFIXES)
    return None if digest is None else "sha256:" + digest


def check_device_and_dtype(device: str, dtype: str) -> None:
    """`ConfigError` for an unknown dtype or device name, or a CUDA device on a machine without one.

    The one device policy of `mllmbench.core.device`; imports torch only when CUDA is asked for.
    """
    check_dtype(dtype, flag="dtype")
    resolve_device(device, flag="device")
