"""Short content hashes of the data files a suite read, recorded with its results."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path


def files_fingerprint(paths: Iterable[Path]) -> str:
    """sha256 over the names and bytes of `paths` (sorted), first 16 hex digits."""
    h = hashlib.sha256()
    for p in sorted(Path(x) for x in paths):
        h.update(p.name.encode("utf-8") + b"\0")
        with p.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()[:16]
