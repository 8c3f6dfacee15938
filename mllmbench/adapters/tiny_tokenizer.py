"""Deprecated alias of `mllmbench.adapters.tiny.tokenizer` (kept for one release)."""

from __future__ import annotations

import warnings

from mllmbench.adapters.tiny.tokenizer import (
    COLOURS,
    NUMBERS,
    POSITIONS,
    SHAPES,
    build_tiny_tokenizer,
    default_corpus,
)

__all__ = ["COLOURS", "NUMBERS", "POSITIONS", "SHAPES", "build_tiny_tokenizer", "default_corpus"]

warnings.warn(
    "mllmbench.adapters.tiny_tokenizer is deprecated; import mllmbench.adapters.tiny.tokenizer instead",
    DeprecationWarning,
    stacklevel=2,
)
