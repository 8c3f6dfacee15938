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
    # The repository's copy holds the shared specification verbatim; appendices for suites the
    # repository adds (Appendix B: benchmark suites) may follow it.
    ours, theirs = METRICS_MD.read_text(encoding="utf-8"), metrics.read_text(encoding="utf-8")
    assert ours.startswith(theirs), "docs/METRICS.md no longer starts with shared/METRICS.md verbatim"


def test_readme_links_the_docs_instead_of_repeating_them() -> None:
    """README keeps its set-up commands, links METRICS.md, the architecture and the adapter guide,
    and no longer carries a copy of the adapter guide."""
    root = METRICS_MD.parents[1]
    readme = (root / "README.md").read_text(encoding="utf-8")
    assert readme.splitlines()[4].strip() == (
        "python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/mllm-bench"
    )
    assert (
        "python3 -m venv .venv && .venv/bin/pip install -q -e '.[dev]' && .venv/bin/python -m pytest"
        in readme
    )
    for doc in ("docs/METRICS.md", "docs/architecture.md", "docs/adding-an-adapter.md"):
        assert f"]({doc})" in readme and (root / doc).is_file(), doc
    assert "### 1. The module" not in readme  # the guide lives in docs/adding-an-adapter.md only
    for layer in ("core", "adapters", "suites", "reports", "engine", "zoo", "cli", "testing"):
        assert f"**`mllmbench/{layer}/`**" in readme, layer
