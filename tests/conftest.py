"""Shared test setup: a private cache per test session, so tests never touch the user's cache."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

_SESSION_CACHE = Path(tempfile.mkdtemp(prefix="mllmbench-test-cache-"))
os.environ.setdefault("MLLMBENCH_CACHE", str(_SESSION_CACHE))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


@pytest.fixture(scope="session")
def shapes_dir() -> Path:
    """The built-in Shapes set (200 images), generated once per session in the private cache."""
    from mllmbench.suites.shapes import ensure_shapes

    return ensure_shapes()


@pytest.fixture(scope="session")
def tiny_llava() -> Path:
    """The tiny random LLaVA checkpoint, built once per session in the private cache."""
    from mllmbench.cli.commands.tiny import ensure_tiny

    return ensure_tiny("llava")
