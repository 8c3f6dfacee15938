"""``--model zoo:NAME``: where the shipped zoo checkpoints are, and which directory a name means.

The trained checkpoints ship as package data in ``mllmbench/zoo/checkpoints/<name>/``. This module
only computes that path (it imports nothing from `mllmbench.zoo`), so every adapter can accept
``zoo:NAME`` through `mllmbench.adapters.checkpoints.resolve_checkpoint`.
"""

from __future__ import annotations

from pathlib import Path

from mllmbench.core.errors import ConfigError

ZOO_PREFIX = "zoo:"
MARKER_FILES = ("zoo.json",)
"""A member directory holds the recipe file next to its weights."""


def zoo_checkpoints_dir() -> Path:
    """``mllmbench/zoo/checkpoints`` of this installation."""
    return Path(__file__).resolve().parent.parent / "zoo" / "checkpoints"


def shipped_members() -> list[str]:
    """Names of the member directories present in `zoo_checkpoints_dir`, sorted."""
    root = zoo_checkpoints_dir()
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and (p / MARKER_FILES[0]).is_file())


def member_aliases(members: list[str]) -> dict[str, str]:
    """Alias -> member, from the ``aliases`` of each shipped member's recipe file."""
    from mllmbench.core.jsonio import read_json

    root = zoo_checkpoints_dir()
    return {
        alias: name
        for name in members
        for alias in read_json(root / name / MARKER_FILES[0], what="zoo recipe").get("aliases", [])
    }


def is_zoo_model(model: str) -> bool:
    """Whether `model` is a ``zoo:NAME`` reference."""
    return model.startswith(ZOO_PREFIX)


def resolve_zoo_model(model: str) -> Path:
    """The checkpoint directory of ``zoo:NAME``.

    Raises:
        ConfigError: no shipped member has that name (the message names the members).
    """
    name = model[len(ZOO_PREFIX) :]
    members = shipped_members()
    name = member_aliases(members).get(name, name)
    if name not in members:
        listing = ", ".join(f"zoo:{m}" for m in members) or "none installed"
        raise ConfigError(f"unknown zoo member {model!r}; members: {listing}")
    return zoo_checkpoints_dir() / name
