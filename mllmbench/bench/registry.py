"""Deprecated alias of `mllmbench.core.registry` (kept for one release).

`load_adapter_class` and `load_suite_class` now live in `mllmbench.adapters.registry` and
`mllmbench.suites.registry`; they are re-exported here under their old names.
"""

from __future__ import annotations

import warnings

from mllmbench.adapters.registry import load_adapter_class
from mllmbench.core.registry import (
    ADAPTER_GROUP,
    SUITE_GROUP,
    Entry,
    entries,
    load,
    load_subclass,
    names,
    register,
    unregister,
)
from mllmbench.suites.registry import load_suite_class

__all__ = [
    "ADAPTER_GROUP",
    "SUITE_GROUP",
    "Entry",
    "entries",
    "load",
    "load_adapter_class",
    "load_subclass",
    "load_suite_class",
    "names",
    "register",
    "unregister",
]

warnings.warn(
    "mllmbench.bench.registry is deprecated; import mllmbench.core.registry "
    "(and mllmbench.adapters.registry for load_adapter_class) instead",
    DeprecationWarning,
    stacklevel=2,
)
