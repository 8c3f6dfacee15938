"""Where a checkpoint is, what it is (its weight hash), and whether it can be loaded as asked.

Shared by every adapter that loads weights: `resolve_checkpoint` tells a local directory from a
hub id, `checkpoint_hash` fingerprints the weight files, `check_device_and_dtype` rejects a bad
device or dtype name (and CUDA on a machine without it) before anything heavy loads.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from mllmbench.core.device import DTYPES, check_dtype, resolve_device

__all__ = ["DTYPES", "WEIGHT_SUFFIXES", "check_device_and_dtype", "checkpoint_hash", "resolve_checkpoint"]
from mllmbench.core.errors import ConfigError
from mllmbench.core.hashing import json_sha256, tree_sha256
from mllmbench.core.jsonio import read_json, write_json_atomic
from mllmbench.core.paths import cache_root
from mllmbench.core.zoo_paths import is_zoo_model, resolve_zoo_model

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt")
"""Files that `checkpoint_hash` reads."""

HASH_MEMO_FILE = "checkpoint-hashes.json"
"""In the user cache: `checkpoint_hash` results keyed by the path, size, mtime and inode of every
weight file, so a large checkpoint is read once and not again before every run's first batch."""
HASH_MEMO_ENTRIES = 64
"""The memo keeps the most recent entries only."""

log = logging.getLogger(__name__)

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

    Returns ``None`` when the directory holds no weight file (see `WEIGHT_SUFFIXES`). The result
    is remembered in the user cache (`HASH_MEMO_FILE`) under the files' stat (path, size,
    modification time in ns, inode), as build tools and git's index trust a file unchanged; a
    rewritten or replaced file is hashed again.
    """
    root = Path(directory)
    stamp = [
        [p.relative_to(root).as_posix(), st.st_size, st.st_mtime_ns, st.st_ino]
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name.endswith(WEIGHT_SUFFIXES)
        for st in (p.stat(),)
    ]
    if not stamp:
        return None
    key = json_sha256({"root": str(root.resolve()), "files": stamp})
    memo_path = cache_root() / HASH_MEMO_FILE
    memo = _read_memo(memo_path)
    if key in memo:
        return memo[key]
    digest = tree_sha256(root, suffixes=WEIGHT_SUFFIXES)
    if digest is None:
        return None
    value = "sha256:" + digest
    memo.pop(key, None)
    memo[key] = value
    try:
        write_json_atomic(memo_path, dict(list(memo.items())[-HASH_MEMO_ENTRIES:]))
    except OSError as exc:  # a read-only cache only costs the next run the hashing
        log.debug("cannot remember the checkpoint hash in %s: %s", memo_path, exc)
    return value


def _read_memo(path: Path) -> dict[str, str]:
    """The memo's entries; empty when it is missing or unreadable (then it is rewritten)."""
    if not path.exists():
        return {}
    try:
        data = read_json(path, what="checkpoint hash memo")
    except Exception:  # noqa: BLE001 - a damaged memo is only a lost shortcut
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)}


def check_device_and_dtype(device: str, dtype: str) -> None:
    """`ConfigError` for an unknown dtype or device name, or a CUDA device on a machine without one.

    The one device policy of `mllmbench.core.device`; imports torch only when CUDA is asked for.
    """
    check_dtype(dtype, flag="dtype")
    resolve_device(device, flag="device")
