"""POPE (lmms-eval's lmms-lab/POPE parquet layout): yes/no object existence, three negative splits.

``--data`` is the folder with ``data/test-*.parquet`` (columns ``question_id``, ``question``,
``answer``, ``image``, ``category``; ``image_source`` optional). The prompt is the question as
given (lmms-eval's pope task has empty pre/post prompts); scoring: `PopeMetric` with the
original POPE answer rule (``pope_lmms_eval`` uses lmms-eval's exact match).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from mllmbench.core.errors import ConfigError, InputError
from mllmbench.core.types import Capability
from mllmbench.suites.base import Metric, Sample, Suite

POPE_COLUMNS = ("question_id", "question", "answer", "image", "category")


class PopeSuite(Suite):
    """POPE over a local copy of the lmms-lab/POPE parquet files."""

    name = "pope"
    version = "1"
    description = "POPE (adversarial/popular/random): accuracy, precision, recall, F1, yes-ratio"
    requires = Capability.UNDERSTAND
    metric_names = ("accuracy", "precision", "recall", "f1", "yes_ratio", "unparsed")
    expected_files = ("data/test-*.parquet (lmms-lab/POPE)",)
    repo: ClassVar[str] = "lmms-lab/POPE"
    splits: ClassVar[tuple[str, ...]] = ("test",)
    rule: ClassVar[str] = "pope"

    @classmethod
    def default_data_dir(cls) -> Path:
        """None: POPE is read from the user's copy."""
        raise ConfigError(
            f"suite {cls.name!r} reads a local copy of POPE, never a download: pass --data with the "
            f"{cls.repo} parquet files (data/test-*.parquet)"
        )

    def _split(self) -> Any:
        from mllmbench.suites.formats.hf_parquet import find_split

        split = find_split(self.data_dir, self.splits, ("data", ""))
        if split is None:
            raise InputError(
                f"suite {self.name!r}: no POPE data in {self.data_dir}: expected the {self.repo} parquet "
                "files (data/test-*.parquet)"
            )
        return split

    def load_samples(self, limit: int | None = None) -> list[Sample]:
        """One sample per question; images decoded into the cache by question id."""
        from mllmbench.core.paths import cache_root
        from mllmbench.suites.formats.hf_parquet import ImageCache, require_cell, write_images

        split = self._split()
        split.require_columns(POPE_COLUMNS, self.repo)
        out: list[Sample] = []
        seen: set[str] = set()
        for source, index, row in split.iter_rows([c for c in POPE_COLUMNS if c != "image"]):
            if limit is not None and len(out) >= limit:
                break
            qid = row.get("question_id")
            owner = f"row {index} (question_id {qid!r})"
            if qid is None or str(qid) in seen:
                raise InputError(f"{source}: {owner}: question_id is missing or occurs twice")
            seen.add(str(qid))
            answer = require_cell(row, "answer", str, source, owner).lower().strip()
            if answer not in ("yes", "no"):
                raise InputError(f"{source}: {owner}: column 'answer' must be yes or no, got {answer!r}")
            question = require_cell(row, "question", str, source, owner).strip()
            category = require_cell(row, "category", str, source, owner)
            out.append(Sample(str(qid), (), question, (answer,), {"question_id": qid, "category": category}))
        if not out:
            raise InputError(f"suite {self.name!r}: no samples in {self.data_dir}")
        cache = ImageCache(cache_root() / "datasets" / self.name / split.fingerprint())
        keys = [s.meta["question_id"] for s in out]
        files = write_images(split, cache, keys, key_column="question_id")
        return [
            Sample(s.sample_id, (str(files[s.meta["question_id"]]),), s.text, s.references, s.meta)
            for s in out
        ]

    def metrics(self) -> list[Metric]:
        """POPE scores with this suite's answer rule."""
        from mllmbench.suites.metrics.pope import PopeMetric

        return [PopeMetric(self.rule)]

    def dataset_fingerprint(self) -> str:
        """Hash of the parquet shards."""
        return str(self._split().fingerprint())

    def scoring_info(self) -> dict[str, Any]:
        """Answer rule and reference."""
        return {
            "layout": "hf_parquet",
            "hf_dataset": self.repo,
            "answer_rule": self.rule,
            "yes_ratio": "share of predicted yes",
            "reference": "POPE/LLaVA eval_pope.py"
            if self.rule == "pope"
            else "lmms-eval tasks/pope/utils.py",
        }


class PopeLmmsEvalSuite(PopeSuite):
    """POPE scored with lmms-eval's exact yes/no match."""

    name = "pope_lmms_eval"
    description = "POPE with lmms-eval's exact-match answer rule (yes-ratio from predictions)"
    rule = "lmms_eval"
