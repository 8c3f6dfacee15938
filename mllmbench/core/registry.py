"""Adapters and suites are found through entry points, built-ins included.

Groups: ``mllmbench.adapters`` and ``mllmbench.suites``. Listing names reads installed package
metadata only; a class is imported when it is loaded by name. A third-party package adds an
adapter by declaring an entry point in its own ``pyproject.toml``; nothing here changes.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from mllmbench.core.errors import ConfigError

ADAPTER_GROUP = "mllmbench.adapters"
SUITE_GROUP = "mllmbench.suites"

_KIND = {ADAPTER_GROUP: "adapter", SUITE_GROUP: "suite"}


@dataclass(frozen=True)
class Entry:
    """One registered name and where it comes from."""

    name: str
    target: str
    """``module:attr``."""
    distribution: str


_EXTRA: dict[str, dict[str, EntryPoint]] = {ADAPTER_GROUP: {}, SUITE_GROUP: {}}


def register(group: str, name: str, target: str) -> None:
    """Register ``module:attr`` under `name` for this process only (notebooks, tests).

    Installed packages should declare an entry point instead; this is the escape hatch.
    """
    _EXTRA[group][name] = EntryPoint(name=name, value=target, group=group)


def unregister(group: str, name: str) -> None:
    """Undo `register`."""
    _EXTRA[group].pop(name, None)


def _entry_points(group: str) -> dict[str, EntryPoint]:
    found: dict[str, EntryPoint] = dict(_EXTRA[group])
    for ep in entry_points(group=group):
        if ep.name in found and found[ep.name].value != ep.value:
            dist_a = getattr(found[ep.name].dist, "name", "?")
            dist_b = getattr(ep.dist, "name", "?")
            raise ConfigError(
                f"{_KIND[group]} name {ep.name!r} is claimed by two packages: "
                f"{dist_a} ({found[ep.name].value}) and {dist_b} ({ep.value})"
            )
        found[ep.name] = ep
    return found


def names(group: str) -> list[str]:
    """Sorted registered names of `group`, without importing any of them."""
    return sorted(_entry_points(group))


def entries(group: str) -> list[Entry]:
    """Registered entries with their targets and distributions, sorted by name."""
    eps = _entry_points(group)
    return [Entry(n, eps[n].value, getattr(eps[n].dist, "name", "") or "") for n in sorted(eps)]


def load(group: str, name: str) -> Any:
    """Import and return the class registered as `name`; a clear error for unknown names."""
    eps = _entry_points(group)
    if name not in eps:
        known = sorted(eps)
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        listing = ", ".join(known) if known else "none: is mllm-bench installed with `pip install -e .`?"
        raise ConfigError(f"unknown {_KIND[group]} {name!r}{hint}; installed: {listing}")
    obj = eps[name].load()
    return obj


def load_subclass(group: str, name: str, base: type) -> Any:
    """The class registered as `name` in `group`, checked to be a subclass of `base`.

    `base` is passed in by the caller (the engine passes `Adapter` or `Suite`), so this module
    imports no layer above it.
    """
    cls = load(group, name)
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise ConfigError(
            f"{_KIND[group]} entry point {name!r} does not name a {base.__name__} subclass: {cls!r}"
        )
    return cls
