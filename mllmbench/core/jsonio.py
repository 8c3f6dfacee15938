"""JSON and JSONL helpers: atomic writes, appended sample logs, errors that name the file."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from mllmbench.core.errors import InputError


def read_json(path: str | Path, *, what: str = "JSON file") -> Any:
    """Read a JSON file, turning every failure into an `InputError` that names the file."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{what} not found: {p}")
    try:
        with p.open("rb") as fh:
            raw = fh.read()
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{what} {p} is not valid UTF-8 (byte {exc.start})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{what} {p} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None


def write_bytes_atomic(path: str | Path, data: bytes) -> Path:
    """Write `data` to a temporary file in the same directory, fsync it, then rename over `path`.

    The one atomic write of the package: a reader never sees a half-written file, and a crash
    (or a full disk) leaves the previous version in place. Creates the parent directory.
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file normal permissions
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return p


def write_text_atomic(path: str | Path, text: str) -> Path:
    """`write_bytes_atomic` of `text` encoded as UTF-8."""
    return write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: str | Path, obj: Any) -> Path:
    """Write `obj` as indented JSON (UTF-8, NaN allowed) through `write_bytes_atomic`."""
    return write_text_atomic(path, json.dumps(obj, indent=2, ensure_ascii=False, allow_nan=True) + "\n")


def dumps_jsonl(records: Iterable[dict[str, Any]]) -> str:
    """JSON lines exactly as `append_jsonl` writes them."""
    return "".join(json.dumps(r, ensure_ascii=False, allow_nan=True) + "\n" for r in records)


def append_jsonl(path: str | Path, record: dict[str, Any]) -> None:
    """Append one JSON line and flush it to disk, so a crash loses at most the line being written."""
    append_jsonl_lines(path, [record])


def append_jsonl_lines(path: str | Path, records: Sequence[dict[str, Any]]) -> None:
    """Append `records` as JSON lines in one write and one fsync (a batch's lines at once); a
    crash leaves at most the last line torn, which `read_jsonl` skips."""
    if not records:
        return
    text = dumps_jsonl(records)
    with Path(path).open("a", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())


def read_jsonl(path: str | Path) -> Iterator[dict[str, Any]]:
    """Yield the complete records of a JSONL log; a torn last line (a crash mid-write) is skipped."""
    p = Path(path)
    if not p.exists():
        return
    with p.open("r", encoding="utf-8", errors="replace") as fh:
        lines = fh.readlines()
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            yield json.loads(line)
        except json.JSONDecodeError:
            if i == len(lines) - 1 and not line.endswith("\n"):
                return  # torn last line: the sample is redone
            raise InputError(f"{p}: line {i + 1} is not valid JSON") from None
