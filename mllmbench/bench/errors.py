"""Deprecated alias of `mllmbench.core.errors` (kept for one release)."""

from __future__ import annotations

import warnings

from mllmbench.core.errors import *  # noqa: F403
from mllmbench.core.errors import ConfigError, InputError, MissingResourceError, MllmBenchError

__all__ = ["ConfigError", "InputError", "MissingResourceError", "MllmBenchError"]

warnings.warn(
    "mllmbench.bench.errors is deprecated; import mllmbench.core.errors instead",
    DeprecationWarning,
    stacklevel=2,
)
