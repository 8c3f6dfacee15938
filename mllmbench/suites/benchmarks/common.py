"""What every standard-benchmark suite shares: finding its files, subsets, image caches, errors.

A benchmark suite reads a local copy in one of two layouts, chosen by what is in ``--data``:

* ``official``: the files of the benchmark's own release (`DataFile`), e.g. the VQAv2
  questions and annotations JSON plus the COCO ``val2014/`` folder;
* ``hf_parquet``: the parquet files of the Hugging Face dataset lmms-eval reads
  (`ParquetSource`, e.g. ``lmms-lab/VQAv2`` as ``data/validation-*.parquet``). Images stored
  inside the parquet files are decoded once into
  ``cache_root()/datasets/<suite>/<fingerprint>/``, so samples keep pointing at files.

``--data`` may also name a subset file (a JSON array or a text file of sample ids, e.g. the
question ids of a lite split); the data is then read from the file's folder and only those
samples are evaluated, in dataset order. Nothing is ever downloaded: a missing file raises an
error that names it and says where it normally comes from.
"""

from __future__ import annotations

import abc
import dataclasses
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from mllmbench.core.errors import ConfigError, InputError
from mllmbench.suites.base import Sample, Suite
from mllmbench.suites.fingerprint import files_fingerprint
from mllmbench.suites.formats.common import list_ids

if TYPE_CHECKING:
    from mllmbench.suites.formats.hf_parquet import ParquetSplit
    from mllmbench.suites.formats.vqav2 import VQAQuestion

OFFICIAL = "official"
HF_PARQUET = "hf_parquet"


@dataclass(frozen=True)
class DataFile:
    """A file (or a folder, written with a trailing ``/``) of a benchmark's official release."""

    path: str
    """Path relative to the data directory."""
    source: str
    """Where it normally comes from, for error messages and `mllm-bench list suites`."""
    alternatives: tuple[str, ...] = ()
    """Other relative paths accepted for the same file (as some downloads unpack it)."""
    optional: bool = False

    @property
    def is_dir(self) -> bool:
        """Whether this entry is a folder."""
        return self.path.endswith("/")

    def find(self, root: Path) -> Path | None:
        """The first existing candidate under `root`, or None."""
        for rel in (self.path, *self.alternatives):
            p = root / rel.rstrip("/")
            if p.is_dir() if self.is_dir else p.is_file():
                return p
        return None

    def describe(self) -> str:
        """``name (or alt) from <source>``."""
        alts = f" (or {', '.join(self.alternatives)})" if self.alternatives else ""
        return f"{self.path}{alts} from {self.source}"


@dataclass(frozen=True)
class ParquetSource:
    """The Hugging Face dataset (parquet layout) that lmms-eval reads for this benchmark."""

    repo: str
    """Hub id, e.g. ``lmms-lab/VQAv2``."""
    splits: tuple[str, ...]
    """Accepted split names, the first present wins (e.g. ``validation`` then ``lite``)."""
    columns: tuple[str, ...]
    """Columns that must exist."""
    image_key: str | None = None
    """Column naming the image in the cache (e.g. ``image_id``); None: the row index."""
    subdirs: tuple[str, ...] = ("data", "")
    """Folders (relative to the data directory) searched for the split's shards."""

    def describe(self) -> str:
        """``<repo> parquet files (data/<split>-*.parquet)``."""
        return (
            f"the Hugging Face parquet files of {self.repo} "
            f"({self.subdirs[0] + '/' if self.subdirs[0] else ''}{self.splits[0]}-*.parquet)"
        )


class BenchmarkSuite(Suite):
    """A suite over a local copy of a standard benchmark, official or parquet layout.

    Subclasses declare `official` files and an optional `parquet` source, and implement
    `official_samples` and `parquet_samples`.
    """

    title: ClassVar[str] = ""
    """The benchmark's name in messages (``VQAv2``)."""
    official: ClassVar[tuple[DataFile, ...]] = ()
    parquet: ClassVar[ParquetSource | None] = None
    prompt: ClassVar[str] = ""
    """The prompt wording (a template with ``{question}`` for VQA-style suites)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.official and "expected_files" not in cls.__dict__:
            files = tuple(f.path for f in cls.official if not f.optional)
            alt = (f"| {cls.parquet.repo}:{cls.parquet.splits[0]} (parquet)",) if cls.parquet else ()
            cls.expected_files = files + alt

    def __init__(self, data_dir: Path | None = None) -> None:
        self.subset_file: Path | None = None
        if data_dir is not None and Path(data_dir).is_file():
            self.subset_file = Path(data_dir)
            data_dir = self.subset_file.parent
        super().__init__(data_dir)
        if not self.data_dir.is_dir():
            raise InputError(f"suite {self.name!r}: data directory not found: {self.data_dir}")
        self._layout: tuple[str, dict[str, Path], ParquetSplit | None] | None = None

    # ---------------------------------------------------------------- where the data is
    @classmethod
    def expected_description(cls) -> str:
        """The files this suite reads and where they come from, in one paragraph."""
        parts = [f.describe() + (" [optional]" if f.optional else "") for f in cls.official]
        text = "; ".join(parts)
        if cls.parquet is not None:
            text += f". Or, instead, {cls.parquet.describe()}"
        return text

    @classmethod
    def default_data_dir(cls) -> Path:
        """There is none: these suites read the user's copy (``--data DIR``)."""
        raise ConfigError(
            f"suite {cls.name!r} reads a local copy of {cls.title}, never a download: pass --data DIR, "
            f"a folder with {cls.expected_description()}"
        )

    def layout(self) -> tuple[str, dict[str, Path], ParquetSplit | None]:
        """(``official`` or ``hf_parquet``, official files found by path, the parquet split)."""
        if self._layout is not None:
            return self._layout
        found = {f.path: f.find(self.data_dir) for f in self.official}
        missing = [f for f in self.official if not f.optional and found[f.path] is None]
        present = {k: v for k, v in found.items() if v is not None}
        if not missing:
            self._layout = (OFFICIAL, present, None)
            return self._layout
        if self.parquet is not None:
            from mllmbench.suites.formats.hf_parquet import find_split

            split = find_split(self.data_dir, self.parquet.splits, self.parquet.subdirs)
            if split is not None:
                self._layout = (HF_PARQUET, present, split)
                return self._layout
        raise self._missing_error(missing, present)

    def _missing_error(self, missing: list[DataFile], present: dict[str, Path]) -> InputError:
        """Name only the missing files when some are there, else everything the suite reads."""
        if present:
            what = "; ".join(f.describe() for f in missing)
            return InputError(f"suite {self.name!r}: {self.data_dir} lacks {what}")
        return InputError(
            f"suite {self.name!r}: no {self.title} data in {self.data_dir}: expected "
            f"{self.expected_description()}"
        )

    def official_path(self, rel: str) -> Path:
        """The found path of the official file declared as `rel` (layout ``official``)."""
        _, present, _ = self.layout()
        if rel not in present:
            entry = next(f for f in self.official if f.path == rel)
            raise InputError(f"suite {self.name!r}: {self.data_dir} lacks {entry.describe()}")
        return present[rel]

    # ---------------------------------------------------------------- samples
    def load_samples(self, limit: int | None = None) -> list[Sample]:
        """Samples in dataset order, restricted to the subset file's ids, then to `limit`."""
        kind, _, split = self.layout()
        if kind == OFFICIAL:
            return [s for s, _ in self._select(((s, None) for s in self.official_samples()), limit)]
        assert split is not None
        from mllmbench.suites.formats.hf_parquet import ImageCache, write_images

        pending = self._select(self.parquet_samples(split), limit)
        image_split, key_column = self.parquet_image_source(split)
        cache = ImageCache(self.image_cache_dir(image_split))
        keys = [key for _, key in pending if key is not None]
        files = write_images(image_split, cache, keys, key_column=key_column) if keys else {}
        # A key of None: the sample already points at a file (a parquet layout without images).
        return [
            s if key is None else dataclasses.replace(s, image_paths=(str(files[key]),)) for s, key in pending
        ]

    def _select(self, items: Iterator[tuple[Sample, Any]], limit: int | None) -> list[tuple[Sample, Any]]:
        """Keep the (sample, image key) pairs of subset members in dataset order; stop at `limit`."""
        if limit is not None and limit <= 0:
            return []
        subset = self.subset_ids()
        wanted = set(subset) if subset is not None else None
        out: list[tuple[Sample, Any]] = []
        seen: set[str] = set()
        for item in items:
            sample = item[0]
            if sample.sample_id in seen:
                raise InputError(
                    f"suite {self.name!r}: sample id {sample.sample_id!r} occurs twice in {self.data_dir}"
                )
            seen.add(sample.sample_id)
            if wanted is not None and sample.sample_id not in wanted:
                continue
            out.append(item)
            if limit is not None and len(out) >= limit:
                return out
        if wanted is not None:
            unknown = wanted - seen
            if unknown:
                raise InputError(
                    f"{self.subset_file}: id(s) not in the {self.title} data at {self.data_dir}: {list_ids(unknown)}"
                )
        if not out:
            raise InputError(f"suite {self.name!r}: no samples in {self.data_dir}")
        return out

    @abc.abstractmethod
    def official_samples(self) -> list[Sample]:
        """Every sample of the official layout, in dataset order."""

    def parquet_samples(self, split: ParquetSplit) -> Iterator[tuple[Sample, Any]]:
        """(sample without image paths, image key) per row, in dataset order; a key of None
        means the sample already has its image path.

        Only called when `parquet` is declared; suites that declare one override this."""
        raise ConfigError(f"suite {self.name!r} has no parquet layout")

    def parquet_image_source(self, split: ParquetSplit) -> tuple[ParquetSplit, str | None]:
        """Where the images of the parquet layout are: (split, key column or None for row index)."""
        assert self.parquet is not None
        return split, self.parquet.image_key

    def image_cache_dir(self, split: ParquetSplit) -> Path:
        """``cache_root()/datasets/<suite>/<fingerprint of the image files>``."""
        from mllmbench.core.paths import cache_root

        return cache_root() / "datasets" / self.name / split.fingerprint()

    def subset_ids(self) -> tuple[str, ...] | None:
        """The ids of the subset file, or None when the whole split is evaluated."""
        if self.subset_file is None:
            return None
        from mllmbench.suites.formats.id_list import load_id_list

        return load_id_list(self.subset_file)

    # ---------------------------------------------------------------- provenance
    def data_files(self) -> list[Path]:
        """The annotation files read (not the image folders), for the fingerprint."""
        kind, present, _ = self.layout()
        if kind == OFFICIAL:
            dirs = {f.path for f in self.official if f.is_dir}
            return [p for rel, p in present.items() if rel not in dirs]
        return []

    def dataset_fingerprint(self) -> str:
        """Hash of the annotation files (official) or of the parquet shards, and the subset file."""
        kind, _, split = self.layout()
        parts = []
        if kind == OFFICIAL:
            parts.append(files_fingerprint(self.data_files()))
        else:
            assert split is not None
            parts.append(split.fingerprint())
            image_split, _ = self.parquet_image_source(split)
            if image_split is not split:
                parts.append(image_split.fingerprint())
        if self.subset_file is not None:
            parts.append(files_fingerprint([self.subset_file]))
        if len(parts) == 1:
            return parts[0]
        return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]

    def scoring_info(self) -> dict[str, Any]:
        """Layout, source files, prompt and subset (suites add their scoring rules)."""
        kind, present, split = self.layout()
        info: dict[str, Any] = {"layout": kind, "prompt": self.prompt}
        if kind == OFFICIAL:
            info["files"] = sorted(p.name for p in self.data_files())
        else:
            assert split is not None and self.parquet is not None
            info["hf_dataset"] = self.parquet.repo
            info["split"] = split.split
        if self.subset_file is not None:
            info["subset_file"] = str(self.subset_file)
        return info


def vqa_question_sample(q: VQAQuestion, text: str) -> Sample:
    """A sample of a VQAv2-format question (the same fields as `VQAFormatSuite` logs)."""
    return Sample(
        sample_id=str(q.question_id),
        image_paths=(str(q.image_path),) if q.image_path is not None else (),
        text=text,
        references=q.answer_texts,
        meta={
            "question_id": q.question_id,
            "image_id": q.image_id,
            "question": q.question,
            "question_type": q.question_type,
            "answer_type": q.answer_type,
            # Plain-string answers (no answer dicts) are told apart by index, as in lmms-eval.
            "answer_keys": (
                [list(k) for k in q.answer_keys] if any(k != (None, None) for k in q.answer_keys) else None
            ),
        },
    )


def require_folder(path: Path | None, entry: DataFile, suite: str, root: Path) -> Path:
    """`path` of a required folder entry, or an error naming where the folder comes from."""
    if path is None:
        raise InputError(f"suite {suite!r}: {root} lacks {entry.describe()}")
    return path
