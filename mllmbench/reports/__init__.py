"""Reports: runs as DataFrames and self-contained HTML.

`load_samples` and `load_metrics` turn run directories into pandas DataFrames in one call.
"""

from __future__ import annotations

from typing import Any


def load_samples(paths: Any) -> Any:
    """One row per sample of every run found under `paths` (see `mllmbench.reports.frame`)."""
    from mllmbench.reports.frame import load_samples as _load

    return _load(paths)


def load_metrics(paths: Any) -> Any:
    """One row per (run, suite, metric) of every run found under `paths`."""
    from mllmbench.reports.frame import load_metrics as _load

    return _load(paths)


__all__ = ["load_metrics", "load_samples"]
