"""A subset file: the ids of the samples to evaluate (a lite split by question-id list).

Two forms are read: a JSON array of ids (integers or strings), or a text file with one id per
line (blank lines and lines starting with ``#`` are skipped). Ids are compared as strings, the
way `Sample.sample_id` holds them.
"""

from __future__ import annotations

from pathlib import Path

from mllmbench.core.errors import InputError
from mllmbench.core.jsonio import read_json
from mllmbench.suites.formats.common import is_id, type_name


def load_id_list(path: str | Path) -> tuple[str, ...]:
    """The ids in `path`, in file order, as strings; duplicates and an empty list are errors."""
    p = Path(path)
    if p.suffix.lower() == ".json":
        raw = read_json(p, what="id list file")
        if not isinstance(raw, list):
            raise InputError(f"{p}: an id list must be a JSON array of ids, got {type_name(raw)}")
        for i, item in enumerate(raw):
            if not is_id(item):
                raise InputError(f"{p}: item {i} must be an integer or a non-empty string, got {item!r}")
        ids: list[str] = [str(item) for item in raw]
    else:
        if not p.is_file():
            raise InputError(f"id list file not found: {p}")
        try:
            text = p.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InputError(f"id list file {p} is not valid UTF-8 (byte {exc.start})") from None
        lines = [line.strip() for line in text.splitlines()]
        ids = [i for i in lines if i and not i.startswith("#")]
    seen: set[str] = set()
    for sample_id in ids:
        if sample_id in seen:
            raise InputError(f"{p}: id {sample_id!r} is listed twice")
        seen.add(sample_id)
    if not ids:
        raise InputError(f"{p}: the id list is empty")
    return tuple(ids)
