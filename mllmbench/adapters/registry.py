"""Finding installed adapters by name (entry-point group ``mllmbench.adapters``)."""

from __future__ import annotations

from mllmbench.adapters.base import Adapter
from mllmbench.core import registry


def load_adapter_class(name: str) -> type[Adapter]:
    """The `Adapter` subclass registered as `name`; a clear error for unknown or wrong entries."""
    cls: type[Adapter] = registry.load_subclass(registry.ADAPTER_GROUP, name, Adapter)
    return cls


def adapter_names() -> list[str]:
    """Sorted names of every installed adapter, without importing any of them."""
    return registry.names(registry.ADAPTER_GROUP)
