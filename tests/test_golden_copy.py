"""The repository's copies of the golden vectors (tests/data/golden) and of the metric specification
(docs/METRICS.md) equal the team's shared ones, when those are present."""

from __future__ import annotations

import filecmp

from golden_paths import GOLDEN_DIR, METRICS_MD, SHARED_GOLDEN_DIR


def test_golden_copy_is_in_sync_with_shared() -> None:
    names = sorted(p.name for p in GOLDEN_DIR.glob("*.json"))
    assert len(names) == 4
    if not SHARED_GOLDEN_DIR.is_dir():
        return  # a clone without ../shared: the copy is the reference
    shared = sorted(p.name for p in SHARED_GOLDEN_DIR.glob("*.json"))
    assert names == shared
    _, mismatch, errors = filecmp.cmpfiles(GOLDEN_DIR, SHARED_GOLDEN_DIR, names, shallow=False)
    assert not mismatch and not errors, f"tests/data/golden is stale: {mismatch or errors}"
    metrics = SHARED_GOLDEN_DIR.parent / "METRICS.md"
    assert filecmp.cmp(METRICS_MD, metrics, shallow=False), "docs/METRICS.md differs from shared/METRICS.md"
