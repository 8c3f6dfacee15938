"""Cache of reference feature statistics (the real-image side of FID/KID).

Entries live under ``cache_root()/"fid_stats"`` (never inside site-packages, unlike clean-fid)
as ``.npz`` files read with ``allow_pickle=False``. The file name carries a hash of everything
that changes the numbers, as clean-fid's ``{name}_{mode}{model}_{split}_{res}.npz`` does: the
dataset name and fingerprint, the split, the resolution, the preprocessing mode, the extractor
and the hash of its weights. The key is also stored inside the file and checked on load.
"""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from mllmbench.core.errors import InputError
from mllmbench.core.hashing import json_sha256
from mllmbench.core.jsonio import write_bytes_atomic
from mllmbench.core.paths import cache_root
from mllmbench.suites.metrics.frechet import FeatureStats

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class ReferenceStatsKey:
    """Everything that changes a set of reference statistics."""

    dataset: str
    """Dataset name, e.g. ``coco2014``, or a folder path."""
    fingerprint: str
    """Id of the exact files read (e.g. `image_features.folder_fingerprint`)."""
    split: str
    """Split name (``val``, ``train``, ``custom``)."""
    resolution: str
    """Image resolution the set was prepared at (``na`` when images keep their own size)."""
    mode: str
    """Preprocessing (``clean``, ``legacy_pytorch``, ``dgm-eval torchvision ...``)."""
    extractor: str
    """Extractor family (``inception_v3_tf2015``, ``clip``, ``dinov2``)."""
    weights_hash: str
    """sha256 of the extractor's weights."""

    def digest(self) -> str:
        """Hex sha256 of the key's canonical JSON (schema version included)."""
        return json_sha256({"schema": SCHEMA_VERSION, **asdict(self)})

    def filename(self) -> str:
        """Readable and unique: ``{dataset}_{split}_{extractor}_{mode}_{digest[:16]}.npz``."""
        parts = (self.dataset, self.split, self.extractor, self.mode)
        readable = "_".join(re.sub(r"[^A-Za-z0-9.-]+", "-", p).strip("-")[:40] for p in parts)
        return f"{readable}_{self.digest()[:16]}.npz"


def reference_stats_dir() -> Path:
    """``cache_root()/"fid_stats"``."""
    return cache_root() / "fid_stats"


def reference_stats_path(key: ReferenceStatsKey) -> Path:
    """Where the entry for `key` lives."""
    return reference_stats_dir() / key.filename()


def save_reference_stats(key: ReferenceStatsKey, stats: FeatureStats) -> Path:
    """Write `stats` (with features when it keeps them) atomically; return the path."""
    path = reference_stats_path(key)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = stats.to_arrays()
    arrays["key_json"] = np.asarray(json.dumps(asdict(key), sort_keys=True))
    buf = io.BytesIO()
    np.savez(buf, **arrays)  # type: ignore[arg-type]  # numpy's stub types **kwds as bool
    write_bytes_atomic(path, buf.getvalue())
    log.info("saved reference statistics (n=%d) to %s", stats.n, path)
    return path


def load_reference_stats(key: ReferenceStatsKey, *, need_features: bool = False) -> FeatureStats | None:
    """The cached statistics for `key`, or None when absent (or when features are needed but
    the entry has none). A corrupt entry or one whose stored key differs raises `InputError`."""
    path = reference_stats_path(key)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError) as exc:
        raise InputError(f"corrupt reference statistics file {path}: {exc}; delete it to recompute") from None
    stored = json.loads(str(arrays.pop("key_json", "{}")))
    if stored != asdict(key):
        raise InputError(
            f"reference statistics file {path} was written for another key ({stored}); delete it"
        )
    if need_features and "feats" not in arrays:
        return None
    return FeatureStats.from_arrays(arrays)


def cached_reference_stats(
    key: ReferenceStatsKey, compute: Callable[[], FeatureStats], *, need_features: bool = False
) -> FeatureStats:
    """Load the entry for `key`, or run `compute`, save its result and return it."""
    found = load_reference_stats(key, need_features=need_features)
    if found is not None:
        log.info("using cached reference statistics %s", reference_stats_path(key))
        return found
    stats = compute()
    if need_features and not stats.keep_features:
        raise ValueError("compute() must keep features when need_features=True")
    save_reference_stats(key, stats)
    return stats
