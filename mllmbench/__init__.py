"""mllm-bench: a benchmark and comparison harness for multimodal LLM paradigms.

Importing this package is cheap: no torch, no transformers, no registration. The Python API,
`mllmbench.evaluate` and `mllmbench.load_run` (`mllmbench.api`), is imported on first use.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["__version__", "evaluate", "load_run"]

_API = {"evaluate", "load_run"}


def __getattr__(name: str) -> Any:
    if name in _API:
        from mllmbench import api

        return getattr(api, name)
    raise AttributeError(f"module 'mllmbench' has no attribute {name!r}")
