"""Short content hashes of the data files a suite read, recorded with its results."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from mllmbench.core.hashing import named_files_sha256


def files_fingerprint(paths: Iterable[Path]) -> str:
    """sha256 over the names and bytes of `paths` (sorted), first 16 hex digits."""
    return named_files_sha256((p.name, p) for p in sorted(Path(x) for x in paths))[:16]
