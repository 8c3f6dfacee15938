"""When figures from different runs may be ranked against each other: one rule for every reader."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def same_conditions(metric_values: Sequence[Mapping[str, Any] | None]) -> bool:
    """Whether figures may be ranked against each other.

    False when any two of them record a different device name, dtype or batch size in their
    ``context`` (efficiency figures from different devices are never ranked together);
    figures without a context (quality metrics) are always comparable.
    """
    seen: set[tuple[Any, Any, Any]] = set()
    for mv in metric_values:
        context = (mv or {}).get("context")
        if context:
            seen.add((context.get("device_name"), context.get("dtype"), context.get("batch_size")))
    return len(seen) <= 1
