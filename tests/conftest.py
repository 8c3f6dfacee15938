"""Shared test setup: a private cache per test session, so tests never touch a developer's caches.

Before any test module is imported, every cache location mllm-bench and its libraries read is
pointed into one session temporary directory, whatever the developer's environment says:
``MLLMBENCH_CACHE`` (mllm-bench's own cache: tiny checkpoints, Shapes, FID statistics),
``XDG_CACHE_HOME`` (its fallback, and other tools'), ``HF_HOME`` (the Hugging Face hub cache,
so a hub id is never found in a real cache) with ``HF_HUB_OFFLINE=1``, and ``TORCH_HOME``.
The developer's values are kept in `ORIGINAL_ENV` so a test can prove they are not used.
Tiny checkpoints are built once per session there and shared through `tiny_checkpoint`.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

ISOLATED_ENV = ("MLLMBENCH_CACHE", "XDG_CACHE_HOME", "HF_HOME", "TORCH_HOME")
"""Variables set to directories inside `SESSION_ROOT`."""
ORIGINAL_ENV = {name: os.environ.get(name) for name in (*ISOLATED_ENV, "HF_HUB_OFFLINE")}
"""The developer's values, before this file replaced them."""

SESSION_ROOT = Path(tempfile.mkdtemp(prefix="mllmbench-test-session-"))
os.environ["MLLMBENCH_CACHE"] = str(SESSION_ROOT / "mllm-bench")
os.environ["XDG_CACHE_HOME"] = str(SESSION_ROOT / "xdg-cache")
os.environ["HF_HOME"] = str(SESSION_ROOT / "huggingface")
os.environ["TORCH_HOME"] = str(SESSION_ROOT / "torch")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


@pytest.fixture(scope="session")
def shapes_dir() -> Path:
    """The built-in Shapes set (200 images), generated once per session in the private cache."""
    from mllmbench.suites.shapes import ensure_shapes

    return ensure_shapes()


@pytest.fixture(scope="session")
def tiny_checkpoint() -> Callable[[str], Path]:
    """``tiny_checkpoint(family)``: the family's tiny checkpoint (seed 0), built once per session.

    The directory is shared by every test of the session: a test that changes files copies it first.
    """
    from mllmbench.cli.commands.tiny import ensure_tiny

    return ensure_tiny


@pytest.fixture(scope="session")
def tiny_llava(tiny_checkpoint: Callable[[str], Path]) -> Path:
    """The tiny random LLaVA checkpoint, built once per session in the private cache."""
    return tiny_checkpoint("llava")


@pytest.fixture(scope="session")
def session_root() -> Path:
    """The session's private directory that holds every redirected cache."""
    return SESSION_ROOT
