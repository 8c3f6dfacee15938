"""A local copy of a Hugging Face dataset in its parquet layout, read offline with pyarrow.

A dataset repository on the Hub keeps each split as shards named
``{split}-{index:05d}-of-{count:05d}.parquet``, usually under ``data/`` (or under a folder named
after the config, e.g. ``testdev_balanced_instructions/`` in lmms-lab/GQA). `find_split` looks
for one split in a few such folders and checks that no shard is missing.

Image columns of the ``datasets.Image`` feature are stored as structs ``{"bytes", "path"}``.
`write_images` decodes the wanted ones into an image cache folder, so samples keep pointing at
files. A cell with no bytes but a relative ``path`` is resolved against the dataset root (and
refused if it escapes it). Nothing here touches the network.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mllmbench.core.errors import InputError
from mllmbench.core.hashing import sha256_of, text_sha256
from mllmbench.core.jsonio import write_bytes_atomic
from mllmbench.suites.formats.common import resolve_image_path, type_name

log = logging.getLogger(__name__)

SHARD_PATTERN = re.compile(r"^(?P<split>.+?)-(?P<index>\d{5})-of-(?P<count>\d{5})\.parquet$")
"""The Hub's shard names, e.g. ``validation-00003-of-00068.parquet``."""

FINGERPRINT_TAIL_BYTES = 1 << 20
"""How much of each file's end (the parquet footer: schema, row groups, offsets) is hashed."""

_IMAGE_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", ".jpg"),
    (b"\x89PNG\r\n\x1a\n", ".png"),
    (b"GIF87a", ".gif"),
    (b"GIF89a", ".gif"),
    (b"BM", ".bmp"),
)


@dataclass(frozen=True)
class ParquetSplit:
    """The parquet files of one split, in shard order."""

    split: str
    files: tuple[Path, ...]
    root: Path
    """The dataset root the user pointed at (relative image paths resolve against it)."""

    def column_names(self) -> list[str]:
        """Top-level column names of the first shard."""
        import pyarrow.parquet as pq

        try:
            return list(pq.read_schema(self.files[0]).names)
        except (OSError, ValueError) as exc:
            raise InputError(f"{self.files[0]}: not a readable parquet file: {exc}") from None

    def require_columns(self, required: Sequence[str], repo: str) -> list[str]:
        """Every column in `required` must exist; returns all column names."""
        names = self.column_names()
        missing = [c for c in required if c not in names]
        if missing:
            raise InputError(
                f"{self.files[0]}: column(s) {', '.join(missing)} missing; the {repo} parquet layout "
                f"has {', '.join(required)} (found: {', '.join(names)})"
            )
        return names

    def iter_rows(
        self, columns: Sequence[str], batch_size: int = 256
    ) -> Iterator[tuple[Path, int, dict[str, Any]]]:
        """(file, row index over the whole split, row as plain Python values), in file order."""
        import pyarrow.parquet as pq

        index = 0
        for path in self.files:
            try:
                pf = pq.ParquetFile(path)
                batches = pf.iter_batches(batch_size=batch_size, columns=list(columns))
                for batch in batches:
                    for row in batch.to_pylist():
                        yield path, index, row
                        index += 1
            except (OSError, ValueError) as exc:  # pyarrow.ArrowInvalid is a ValueError
                raise InputError(f"{path}: not a readable parquet file: {exc}") from None

    def fingerprint(self) -> str:
        """sha256 over the split name and each file's name, size and last MiB (first 16 hex digits).

        Hashing the footer (row-group offsets, sizes, statistics) instead of every byte keeps this
        fast on tens of gigabytes of embedded images.
        """
        parts: list[bytes | str] = [self.split + "\0"]
        for p in self.files:
            size = p.stat().st_size
            with p.open("rb") as fh:
                fh.seek(max(0, size - FINGERPRINT_TAIL_BYTES))
                parts += [f"{p.name}\0{size}\0", fh.read()]
        return sha256_of(parts)[:16]


def _split_files(folder: Path, split: str) -> list[Path]:
    """``{split}-NNNNN-of-MMMMM.parquet``, ``{split}.parquet`` or ``{split}/*.parquet`` in `folder`."""
    if not folder.is_dir():
        return []
    out = []
    for p in folder.iterdir():
        m = SHARD_PATTERN.match(p.name)
        if (m and m.group("split") == split) or p.name == f"{split}.parquet":
            out.append(p)
    sub = folder / split
    if sub.is_dir():
        out.extend(p for p in sub.iterdir() if p.suffix == ".parquet")
    return sorted(p for p in out if p.is_file())


def _check_shards(files: Sequence[Path]) -> None:
    """All shards ``0..count-1`` of a ``-of-`` series must be present."""
    counts: dict[int, set[int]] = {}
    for p in files:
        m = SHARD_PATTERN.match(p.name)
        if m:
            counts.setdefault(int(m.group("count")), set()).add(int(m.group("index")))
    if len(counts) > 1:
        raise InputError(
            f"{files[0].parent}: shards of two different downloads are mixed "
            f"(-of-{', -of-'.join(f'{c:05d}' for c in sorted(counts))})"
        )
    for count, have in counts.items():
        missing = sorted(set(range(count)) - have)
        if missing:
            split = SHARD_PATTERN.match(files[0].name).group("split")  # type: ignore[union-attr]
            name = f"{split}-{missing[0]:05d}-of-{count:05d}.parquet"
            raise InputError(
                f"{files[0].parent}: shard {name} is missing ({len(missing)} of {count} missing); "
                "download the whole split"
            )


def find_split(
    root: str | Path, splits: Sequence[str], subdirs: Sequence[str] = ("data", "")
) -> ParquetSplit | None:
    """The first of `splits` that has parquet files in one of `subdirs` of `root`, or None."""
    base = Path(root)
    for split in splits:
        for sub in subdirs:
            files = _split_files(base / sub if sub else base, split)
            if files:
                _check_shards(files)
                return ParquetSplit(split=split, files=tuple(files), root=base)
    return None


def image_suffix(data: bytes, path_hint: str | None = None) -> str:
    """A file suffix for encoded image bytes: from their signature, else from `path_hint`."""
    for magic, suffix in _IMAGE_SIGNATURES:
        if data.startswith(magic):
            return suffix
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return ".webp"
    hint = Path(path_hint).suffix.lower() if path_hint else ""
    return hint if re.fullmatch(r"\.[a-z0-9]{1,5}", hint) else ".img"


def safe_key(key: Any) -> str:
    """A file-name stem for a sample or image id (unsafe characters replaced, then a short hash)."""
    text = str(key)
    clean = re.sub(r"[^A-Za-z0-9._-]", "_", text).lstrip(".")[:80]
    if clean == text and clean:
        return clean
    return f"{clean}_{text_sha256(text)[:8]}"


def image_cell(cell: Any, *, source: Path, owner: str) -> tuple[bytes | None, str | None]:
    """(bytes, path) of a ``datasets.Image`` cell; raw bytes and a list of one cell are accepted too."""
    if isinstance(cell, list):
        if len(cell) != 1:
            raise InputError(
                f"{source}: {owner}: the image column holds {len(cell)} images; one was expected"
            )
        cell = cell[0]
    if isinstance(cell, bytes | bytearray):
        return bytes(cell), None
    if not isinstance(cell, dict):
        raise InputError(
            f"{source}: {owner}: the image cell must be a struct {{bytes, path}}, got {type_name(cell)}"
        )
    data, path = cell.get("bytes"), cell.get("path")
    if data is None and not path:
        raise InputError(f"{source}: {owner}: the image cell has neither bytes nor a path")
    return (bytes(data) if data is not None else None), (str(path) if path else None)


class ImageCache:
    """A folder of decoded images, one file per key, written atomically."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._existing: dict[str, Path] | None = None

    def existing(self) -> dict[str, Path]:
        """stem -> file of the images already in the cache (listed once)."""
        if self._existing is None:
            self._existing = {}
            if self.folder.is_dir():
                for p in self.folder.iterdir():
                    if p.is_file() and not p.name.startswith("."):
                        self._existing[p.stem] = p
        return self._existing

    def lookup(self, key: Any) -> Path | None:
        """The cached file for `key`, or None."""
        return self.existing().get(safe_key(key))

    def store(self, key: Any, data: bytes, path_hint: str | None = None) -> Path:
        """Write `data` as the image of `key` (temporary file, then rename); returns its path."""
        self.folder.mkdir(parents=True, exist_ok=True)
        target = self.folder / (safe_key(key) + image_suffix(data, path_hint))
        write_bytes_atomic(target, data)
        self.existing()[target.stem] = target
        return target


def write_images(
    split: ParquetSplit,
    cache: ImageCache,
    wanted: Sequence[Any],
    *,
    image_column: str = "image",
    key_column: str | None = None,
) -> dict[Any, Path]:
    """Image files for the keys in `wanted`: cached ones as they are, the rest decoded now.

    A key is a row index over the split (``key_column=None``) or a value of `key_column`.
    Rows are read only until every missing key has been seen. An image stored as a path (no
    bytes) is used in place, resolved inside the dataset root.
    """
    out: dict[Any, Path] = {}
    missing: set[Any] = set()
    for key in wanted:
        found = cache.lookup(key)
        if found is not None:
            out[key] = found
        else:
            missing.add(key)
    if not missing:
        return out
    log.info("decoding %d image(s) of %s into %s", len(missing), split.files[0].parent, cache.folder)
    columns = [image_column] + ([key_column] if key_column else [])
    for source, index, row in split.iter_rows(columns, batch_size=64):
        key = index if key_column is None else row.get(key_column)
        if key not in missing:
            continue
        owner = f"row {index}" if key_column is None else f"{key_column} {key!r}"
        data, path = image_cell(row.get(image_column), source=source, owner=owner)
        if data is not None:
            out[key] = cache.store(key, data, path)
        else:
            out[key] = resolve_image_path(split.root, path or "", source=source, owner=owner)
        missing.discard(key)
        if not missing:
            break
    if missing:
        first = sorted(missing, key=str)[0]
        what = "row" if key_column is None else key_column
        raise InputError(f"{split.files[0].parent}: no image for {what} {first!r} in split {split.split!r}")
    return out


def require_cell(
    row: Mapping[str, Any], column: str, kind: type | tuple[type, ...], source: Path, owner: str
) -> Any:
    """``row[column]`` must be present (not null) and of `kind`."""
    value = row.get(column)
    if value is None:
        raise InputError(f"{source}: {owner}: column {column!r} is null")
    if not isinstance(value, kind) or isinstance(value, bool):
        raise InputError(
            f"{source}: {owner}: column {column!r} must be {_kind_name(kind)}, got {type_name(value)}"
        )
    return value


def _kind_name(kind: type | tuple[type, ...]) -> str:
    names = {str: "a string", int: "an integer", list: "a list", dict: "a struct", float: "a number"}
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(names.get(k, k.__name__) for k in kinds)
