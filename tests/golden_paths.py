"""Where the golden vectors live: ``tests/data/golden``, a copy of the team's ``shared/golden``.

A missing directory fails the test (it is never skipped): the metrics are only checked through it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

GOLDEN_DIR = Path(__file__).resolve().parent / "data" / "golden"
"""A copy of ``../shared/golden`` kept in the repository, so the tests never depend on a sibling folder."""
SHARED_GOLDEN_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "golden"
"""The team's shared golden vectors, when they lie beside the checkout (checked to equal the copy)."""


def golden_dir() -> Path:
    """The golden directory; fails the calling test when it is absent."""
    if not GOLDEN_DIR.is_dir():
        pytest.fail(f"golden vectors not found at {GOLDEN_DIR}")
    return GOLDEN_DIR


def load_golden(name: str) -> Any:
    """Parse one golden JSON file, e.g. ``vqa_accuracy_golden.json``."""
    path = golden_dir() / name
    if not path.is_file():
        pytest.fail(f"golden file missing: {path}")
    return json.loads(path.read_text(encoding="utf-8"))


METRICS_MD = Path(__file__).resolve().parents[1] / "docs" / "METRICS.md"
"""The metric specification every metric module cites (a copy of ``../shared/METRICS.md``)."""


def metrics_md() -> str:
    """The text of docs/METRICS.md."""
    path = METRICS_MD
    if not path.is_file():
        pytest.fail(f"METRICS.md not found at {path}")
    return path.read_text(encoding="utf-8")
