"""Validation helpers shared by the file-format loaders: field checks and safe image paths.

Every failure raises `InputError` with a message that names the file and, where there is one,
the offending id.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import Any

from mllmbench.core.errors import InputError

Id = int | str
"""Question and image ids: JSON integers (official files) or strings."""

_MAX_LISTED = 5


def is_id(value: Any) -> bool:
    """An id is an int (not a bool) or a non-empty string."""
    return (isinstance(value, int) and not isinstance(value, bool)) or (
        isinstance(value, str) and value != ""
    )


def type_name(value: Any) -> str:
    """The JSON name of a Python value's type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def require_object(value: Any, path: Path, where: str) -> dict[str, Any]:
    """`value` must be a JSON object."""
    if not isinstance(value, dict):
        raise InputError(f"{path}: {where} must be a JSON object, got {type_name(value)}")
    return value


def require_list(
    container: Mapping[str, Any], key: str, path: Path, where: str = "the top level"
) -> list[Any]:
    """``container[key]`` must exist and be a JSON array."""
    if key not in container:
        raise InputError(f"{path}: {where} has no {key!r} list")
    value = container[key]
    if not isinstance(value, list):
        raise InputError(f"{path}: {key!r} must be a JSON array, got {type_name(value)}")
    return value


def require_id(record: Mapping[str, Any], key: str, path: Path, where: str) -> Id:
    """``record[key]`` must be an id (integer or non-empty string)."""
    if key not in record:
        raise InputError(f"{path}: {where} has no {key!r}")
    value = record[key]
    if not is_id(value):
        raise InputError(f"{path}: {where}: {key!r} must be an integer or a non-empty string, got {value!r}")
    return value  # type: ignore[no-any-return]


def require_str(
    record: Mapping[str, Any], key: str, path: Path, where: str, *, optional: bool = False
) -> str:
    """``record[key]`` must be a string (empty allowed); a missing optional key gives ""."""
    if key not in record:
        if optional:
            return ""
        raise InputError(f"{path}: {where} has no {key!r}")
    value = record[key]
    if not isinstance(value, str):
        raise InputError(f"{path}: {where}: {key!r} must be a string, got {type_name(value)} {value!r}")
    return value


def list_ids(ids: Iterable[Id]) -> str:
    """The first few ids of a collection, for messages: ``1, 2, 3, ... (12 in all)``."""
    items = sorted(ids, key=lambda i: (isinstance(i, str), i))
    shown = ", ".join(repr(i) for i in items[:_MAX_LISTED])
    return shown + (f", ... ({len(items)} in all)" if len(items) > _MAX_LISTED else "")


def check_id_coverage(found: Collection[Id], expected: Collection[Id], path: Path, *, what: str) -> None:
    """Results must cover exactly the expected ids: none missing, none unknown."""
    unknown = set(found) - set(expected)
    if unknown:
        raise InputError(f"{path}: {what} id(s) not in the annotations: {list_ids(unknown)}")
    missing = set(expected) - set(found)
    if missing:
        raise InputError(f"{path}: no result for {what} id(s) {list_ids(missing)}")


def resolve_image_path(
    root: Path, file_name: str, *, source: Path, owner: str, must_exist: bool = False
) -> Path:
    """Join `file_name` to the dataset root, refusing names that escape it.

    The check is lexical (``..`` and absolute names are refused), so a root that is itself a
    symlink to shared storage still works. `owner` names the id the file belongs to.
    """
    if not file_name or "\x00" in file_name:
        raise InputError(f"{source}: {owner}: invalid image file name {file_name!r}")
    if os.path.isabs(file_name) or Path(file_name).is_absolute():
        raise InputError(
            f"{source}: {owner}: image file name {file_name!r} must be relative to the dataset root"
        )
    base = os.path.normpath(os.path.abspath(root))
    full = os.path.normpath(os.path.join(base, file_name))
    if os.path.commonpath([base, full]) != base or full == base:
        raise InputError(f"{source}: {owner}: image file name {file_name!r} escapes the dataset root {base}")
    if must_exist and not os.path.isfile(full):
        raise InputError(f"{source}: {owner}: image file not found: {full}")
    return Path(full)
