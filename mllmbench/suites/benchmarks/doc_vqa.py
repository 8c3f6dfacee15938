"""DocVQA, InfoVQA, ChartQA and OCRBench over lmms-eval's parquet layouts.

==============================  ==========  ===================================================
dataset (``--data`` folder)      split       columns read
==============================  ==========  ===================================================
lmms-lab/DocVQA (DocVQA)        validation  questionId, question, answers (list), image
lmms-lab/DocVQA (InfographicVQA) validation questionId, question, answers (list), image
lmms-lab/ChartQA                test        question, answer, type (human_test/augmented_test), image
echo840/OCRBench                test        question, answer (list), question_type, dataset, image
==============================  ==========  ===================================================

Prompts are lmms-eval's (DocVQA/InfoVQA: "...\\nAnswer the question using a single word or
phrase."; ChartQA: "...\\nAnswer the question with a single word."; OCRBench: the question).
Scores: `DocVQAScore` (ANLS; relaxed accuracy by ``type``; OCRBench points by ``question_type``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from mllmbench.core.errors import ConfigError, InputError
from mllmbench.core.types import Capability
from mllmbench.suites.base import Metric, Sample, Suite
from mllmbench.suites.formats.common import type_name

SHORT_ANSWER = "\nAnswer the question using a single word or phrase."


class ParquetQASuite(Suite):
    """One question per parquet row, scored by a `DocVQAScore` kind."""

    requires = Capability.UNDERSTAND
    repo: ClassVar[str] = ""
    splits: ClassVar[tuple[str, ...]] = ("test",)
    id_column: ClassVar[str | None] = None
    """Column holding the question id; None: the row index."""
    answer_column: ClassVar[str] = "answers"
    extra_columns: ClassVar[tuple[str, ...]] = ()
    post_prompt: ClassVar[str] = ""
    kind: ClassVar[str] = "anls"
    breakdown: ClassVar[str | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.repo:
            cls.expected_files = (f"data/{cls.splits[0]}-*.parquet ({cls.repo})",)

    @classmethod
    def default_data_dir(cls) -> Path:
        """None: read from the user's copy."""
        raise ConfigError(
            f"suite {cls.name!r} reads a local copy, never a download: pass --data with the {cls.repo} "
            f"parquet files (data/{cls.splits[0]}-*.parquet)"
        )

    def columns(self) -> tuple[str, ...]:
        """Columns that must exist."""
        ids = (self.id_column,) if self.id_column else ()
        return (*ids, "question", self.answer_column, *self.extra_columns, "image")

    def _split(self) -> Any:
        from mllmbench.suites.formats.hf_parquet import find_split

        split = find_split(self.data_dir, self.splits, ("data", ""))
        if split is None:
            raise InputError(
                f"suite {self.name!r}: no data in {self.data_dir}: expected the {self.repo} parquet files "
                f"(data/{self.splits[0]}-*.parquet)"
            )
        return split

    def _golds(self, row: dict[str, Any], source: Path, owner: str) -> tuple[str, ...]:
        value = row.get(self.answer_column)
        golds = value if isinstance(value, list) else [value]
        if not golds or not all(isinstance(g, str) for g in golds):
            raise InputError(
                f"{source}: {owner}: column {self.answer_column!r} must be a string or a list of strings, "
                f"got {type_name(value)}"
            )
        return tuple(golds)

    def load_samples(self, limit: int | None = None) -> list[Sample]:
        """Samples in file order; images decoded by row index."""
        from mllmbench.core.paths import cache_root
        from mllmbench.suites.formats.hf_parquet import ImageCache, require_cell, write_images

        split = self._split()
        split.require_columns(self.columns(), self.repo)
        out: list[tuple[Sample, int]] = []
        seen: set[str] = set()
        for source, index, row in split.iter_rows([c for c in self.columns() if c != "image"]):
            if limit is not None and len(out) >= limit:
                break
            sid = str(row.get(self.id_column) if self.id_column else index)
            owner = f"row {index}" + (f" ({self.id_column} {sid})" if self.id_column else "")
            if sid in seen or sid == "None":
                raise InputError(f"{source}: {owner}: id missing or duplicated")
            seen.add(sid)
            question = require_cell(row, "question", str, source, owner)
            meta = {c: row.get(c) for c in self.extra_columns}
            text = question + self.post_prompt
            out.append((Sample(sid, (), text, self._golds(row, source, owner), meta), index))
        if not out:
            raise InputError(f"suite {self.name!r}: no samples in {self.data_dir}")
        cache = ImageCache(cache_root() / "datasets" / self.name / split.fingerprint())
        files = write_images(split, cache, [i for _, i in out])
        return [Sample(s.sample_id, (str(files[i]),), s.text, s.references, s.meta) for s, i in out]

    def metrics(self) -> list[Metric]:
        """This suite's score."""
        from mllmbench.suites.metrics.doc_vqa import DocVQAScore

        return [DocVQAScore(self.kind, self.breakdown)]

    def dataset_fingerprint(self) -> str:
        """Hash of the parquet shards."""
        return str(self._split().fingerprint())

    def scoring_info(self) -> dict[str, Any]:
        """Score and reference."""
        return {
            "layout": "hf_parquet",
            "hf_dataset": self.repo,
            "score": self.kind,
            "post_prompt": self.post_prompt,
        }


class DocVQASuite(ParquetQASuite):
    """DocVQA val, ANLS."""

    name = "docvqa"
    version = "1"
    description = "DocVQA val, ANLS (threshold 0.5) as lmms-eval"
    metric_names = ("anls", "unparsed")
    repo = "lmms-lab/DocVQA (DocVQA config)"
    splits = ("validation",)
    id_column = "questionId"
    post_prompt = SHORT_ANSWER


class InfoVQASuite(DocVQASuite):
    """InfographicVQA val, ANLS."""

    name = "infovqa"
    description = "InfographicVQA val, ANLS (threshold 0.5) as lmms-eval"
    repo = "lmms-lab/DocVQA (InfographicVQA config)"


class ChartQASuite(ParquetQASuite):
    """ChartQA test, relaxed accuracy (human and augmented splits)."""

    name = "chartqa"
    version = "1"
    description = "ChartQA test, relaxed accuracy (5% numeric tolerance) as lmms-eval"
    metric_names = ("relaxed_accuracy", "unparsed")
    repo = "lmms-lab/ChartQA"
    answer_column = "answer"
    extra_columns = ("type",)
    post_prompt = "\nAnswer the question with a single word."
    kind = "relaxed_accuracy"
    breakdown = "type"


class OCRBenchSuite(ParquetQASuite):
    """OCRBench, points out of 1000 by question type."""

    name = "ocrbench"
    version = "1"
    description = "OCRBench: substring points (out of 1000) per question type, as lmms-eval"
    metric_names = ("ocrbench_score", "unparsed")
    repo = "echo840/OCRBench"
    answer_column = "answer"
    extra_columns = ("question_type", "dataset")
    kind = "ocrbench"
    breakdown = "question_type"
