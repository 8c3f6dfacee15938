"""One way to hash things: files, folders of files, text and JSON-able objects (sha256).

Every digest mllm-bench records or keys a cache by is built from `sha256_of`: run ids
(`json_sha256` of the run identity), checkpoint hashes (`tree_sha256`), dataset fingerprints and
extractor weight hashes (`named_files_sha256`), response-cache keys (`file_sha256` of each image
and `json_sha256` of the request). The exact byte layout of each scheme is pinned by
``tests/test_hashing.py``: those digests name runs and cache entries on disk, so they never move.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

CHUNK = 1 << 20
"""Files are read in blocks of this many bytes, never whole."""


def sha256_of(parts: Iterable[bytes | str | Path]) -> str:
    """Hex sha256 over `parts` in order: bytes as they are, str as UTF-8, a Path as its file's bytes."""
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, Path):
            with part.open("rb") as fh:
                while block := fh.read(CHUNK):
                    h.update(block)
        elif isinstance(part, str):
            h.update(part.encode("utf-8"))
        else:
            h.update(part)
    return h.hexdigest()


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of one file's bytes."""
    return sha256_of([Path(path)])


def text_sha256(text: str) -> str:
    """Hex sha256 of `text` encoded as UTF-8."""
    return sha256_of([text])


def named_files_sha256(entries: Iterable[tuple[str, str | Path]], *, separator: str = "\0") -> str:
    """Hex sha256 over ``name + separator + file bytes`` for each ``(name, path)``, in the order given.

    The caller chooses the names (base name, path relative to a root) and the order (sorted).
    """
    parts: list[bytes | str | Path] = []
    for name, path in entries:
        parts += [name + separator, Path(path)]
    return sha256_of(parts)


def tree_sha256(directory: str | Path, *, suffixes: tuple[str, ...]) -> str | None:
    """Hex sha256 over every file below `directory` whose name ends with one of `suffixes`.

    Files are taken recursively, sorted by their path relative to `directory` (POSIX form), and
    hashed as ``relative path + NUL + bytes``. None when no file matches.
    """
    root = Path(directory)
    files = sorted(
        (p for p in root.rglob("*") if p.is_file() and p.name.endswith(suffixes)),
        key=lambda p: p.relative_to(root).as_posix(),
    )
    if not files:
        return None
    return named_files_sha256((f.relative_to(root).as_posix(), f) for f in files)


def json_sha256(obj: Any, **dumps_options: Any) -> str:
    """Hex sha256 of ``json.dumps(obj, sort_keys=True, **dumps_options)`` encoded as UTF-8.

    `dumps_options` (separators, ensure_ascii, default) are part of a scheme's identity: each
    caller passes the ones its digests were first made with.
    """
    return text_sha256(json.dumps(obj, sort_keys=True, **dumps_options))
