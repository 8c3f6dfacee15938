"""MME (lmms-eval's lmms-lab/MME parquet layout, split ``test``).

Columns ``question_id`` (the image path, shared by the image's two questions), ``question``
(ending in "Please answer yes or no."), ``answer`` (Yes/No), ``category``, ``image``. Sample ids
are ``<question_id>#<k>`` (k = 0, 1: the question's place among its image's). Prompt: the
question as given. Scoring: `MMEScore` (official MME parsing; ``mme_lmms_eval`` for lmms-eval's).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from mllmbench.core.errors import ConfigError, InputError
from mllmbench.core.types import Capability
from mllmbench.suites.base import Metric, Sample, Suite

MME_COLUMNS = ("question_id", "question", "answer", "category", "image")


class MMESuite(Suite):
    """MME over a local copy of the lmms-lab/MME parquet files."""

    name = "mme"
    version = "1"
    description = "MME: per-subtask acc + acc+, perception (max 2000) and cognition (max 800)"
    requires = Capability.UNDERSTAND
    metric_names = ("perception", "cognition", "unparsed")
    expected_files = ("data/test-*.parquet (lmms-lab/MME)",)
    repo: ClassVar[str] = "lmms-lab/MME"
    rule: ClassVar[str] = "official"

    @classmethod
    def default_data_dir(cls) -> Path:
        """None: MME is read from the user's copy."""
        raise ConfigError(
            f"suite {cls.name!r} reads a local copy of MME: pass --data with the {cls.repo} parquet files"
        )

    def _split(self) -> Any:
        from mllmbench.suites.formats.hf_parquet import find_split

        split = find_split(self.data_dir, ("test",), ("data", ""))
        if split is None:
            raise InputError(
                f"suite {self.name!r}: no MME data in {self.data_dir}: expected the {self.repo} parquet files "
                "(data/test-*.parquet)"
            )
        return split

    def load_samples(self, limit: int | None = None) -> list[Sample]:
        """Two samples per image; images decoded by row."""
        from mllmbench.core.paths import cache_root
        from mllmbench.suites.formats.hf_parquet import ImageCache, require_cell, write_images

        split = self._split()
        split.require_columns(MME_COLUMNS, self.repo)
        out: list[tuple[Sample, int]] = []
        seen: dict[str, int] = {}
        for source, index, row in split.iter_rows([c for c in MME_COLUMNS if c != "image"]):
            if limit is not None and len(out) >= limit:
                break
            owner = f"row {index}"
            qid = require_cell(row, "question_id", str, source, owner)
            owner = f"row {index} (question_id {qid!r})"
            answer = require_cell(row, "answer", str, source, owner).lower().strip().replace(".", "")
            if answer not in ("yes", "no"):
                raise InputError(
                    f"{source}: {owner}: column 'answer' must be Yes or No, got {row['answer']!r}"
                )
            k = seen.get(qid, 0)
            seen[qid] = k + 1
            meta = {
                "question_id": qid,
                "image_key": qid,
                "category": require_cell(row, "category", str, source, owner),
            }
            text = require_cell(row, "question", str, source, owner).strip()
            out.append((Sample(f"{qid}#{k}", (), text, (answer,), meta), index))
        if not out:
            raise InputError(f"suite {self.name!r}: no samples in {self.data_dir}")
        cache = ImageCache(cache_root() / "datasets" / self.name / split.fingerprint())
        files = write_images(split, cache, [i for _, i in out])
        return [Sample(s.sample_id, (str(files[i]),), s.text, s.references, s.meta) for s, i in out]

    def metrics(self) -> list[Metric]:
        """MME scoring with this suite's parsing rule."""
        from mllmbench.suites.metrics.mme import MMEScore

        return [MMEScore(self.rule)]

    def dataset_fingerprint(self) -> str:
        """Hash of the parquet shards."""
        return str(self._split().fingerprint())

    def scoring_info(self) -> dict[str, Any]:
        """Parsing rule and reference."""
        ref = "MME eval_tool/calculation.py" if self.rule == "official" else "lmms-eval tasks/mme/utils.py"
        return {"layout": "hf_parquet", "hf_dataset": self.repo, "answer_rule": self.rule, "reference": ref}


class MMELmmsEvalSuite(MMESuite):
    """MME with lmms-eval's answer parsing."""

    name = "mme_lmms_eval"
    description = "MME with lmms-eval's parse_pred_ans"
    rule = "lmms_eval"
