"""Where the shared golden vectors live: ``../shared/golden`` beside the repository root.

In CI a copy of ``shared/`` lies beside the clone at the same relative position. A missing
directory fails the test (it is never skipped): the metrics are only checked through it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

SHARED_DIR = Path(__file__).resolve().parents[1].parent / "shared"
GOLDEN_DIR = SHARED_DIR / "golden"


def golden_dir() -> Path:
    """The golden directory; fails the calling test when it is absent."""
    if not GOLDEN_DIR.is_dir():
        pytest.fail(
            f"golden vectors not found at {GOLDEN_DIR} (expected ../shared/golden beside the repository)"
        )
    return GOLDEN_DIR


def load_golden(name: str) -> Any:
    """Parse one golden JSON file, e.g. ``vqa_accuracy_golden.json``."""
    path = golden_dir() / name
    if not path.is_file():
        pytest.fail(f"golden file missing: {path}")
    return json.loads(path.read_text(encoding="utf-8"))


def metrics_md() -> str:
    """The text of METRICS.md (beside the golden directory)."""
    path = golden_dir().parent / "METRICS.md"
    if not path.is_file():
        pytest.fail(f"METRICS.md not found at {path}")
    return path.read_text(encoding="utf-8")
