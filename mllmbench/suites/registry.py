"""Finding installed suites by name (entry-point group ``mllmbench.suites``)."""

from __future__ import annotations

from mllmbench.core import registry
from mllmbench.suites.base import Suite


def load_suite_class(name: str) -> type[Suite]:
    """The `Suite` subclass registered as `name`; a clear error for unknown or wrong entries."""
    cls: type[Suite] = registry.load_subclass(registry.SUITE_GROUP, name, Suite)
    return cls


def suite_names() -> list[str]:
    """Sorted names of every installed suite, without importing any of them."""
    return registry.names(registry.SUITE_GROUP)
