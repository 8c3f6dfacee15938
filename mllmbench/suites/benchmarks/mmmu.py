"""MMMU val (lmms-eval's lmms-lab/MMMU parquet layout), scored with the official MMMU parser.

Columns: ``id`` (``validation_<Subject>_<n>``), ``question``, ``options`` (a Python-literal list
as a string), ``answer``, ``question_type`` (``multiple-choice`` or ``open``), ``image_1``..
``image_7`` (``datasets.Image``, null when absent). Prompt (lmms-eval ``construct_prompt``):
``{question}\\n{A. opt\\nB. opt}\\n\\nAnswer with the option's letter from the given choices
directly.`` or ``{question}\\n\\nAnswer the question using a single word or phrase.``. Score:
`MMMUAccuracy`, per subject and overall (instance-weighted, ``calculate_ins_level_acc``).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

from mllmbench.core.errors import ConfigError, InputError
from mllmbench.core.types import Capability
from mllmbench.suites.base import Metric, MetricResult, MetricValue, Sample, Suite
from mllmbench.suites.metrics.circular import count_value
from mllmbench.suites.metrics.evalai_vqa import percent_mean

MC_PROMPT = "Answer with the option's letter from the given choices directly."
OPEN_PROMPT = "Answer the question using a single word or phrase."
COLUMNS = ("id", "question", "options", "answer", "question_type")
IMAGE_COLUMNS = tuple(f"image_{k}" for k in range(1, 8))


class MMMUAccuracy(Metric):
    """Official-parser accuracy; unparsed multiple-choice answers are wrong and counted."""

    name = "mmmu"
    version = "1"

    def __init__(self) -> None:
        self._records: dict[str, tuple[str, bool, bool]] = {}

    def update(self, sample: Sample, answer: str) -> dict[str, float]:
        """Parse and check one answer."""
        from mllmbench.suites.metrics.mmmu_parse import eval_open, parse_multi_choice, parse_open

        meta = sample.meta or {}
        if meta["question_type"] == "multiple-choice":
            pred = parse_multi_choice(answer, meta["index2ans"])
            hit, unparsed = pred is not None and pred == meta["answer"], pred is None
        else:
            hit, unparsed = eval_open(list(sample.references), parse_open(answer)), not answer.strip()
        self._records[sample.sample_id] = (str(meta.get("subject") or ""), hit, unparsed)
        return {"accuracy": float(hit), "unparsed": float(unparsed)}

    def merge(self, other: Metric) -> None:
        """Add another shard's records."""
        if not isinstance(other, MMMUAccuracy):
            raise TypeError("can only merge an MMMUAccuracy")
        self._records.update(other._records)

    def compute(self) -> MetricResult:
        """Overall and per-subject accuracy (percent) and the unparsed count."""
        if not self._records:
            return MetricResult(values={}, notes={self.name: "no samples were scored"})
        recs = list(self._records.values())
        values: dict[str, MetricValue] = {"accuracy": percent_mean([float(h) for _, h, _ in recs])}
        for subject in sorted({s for s, _, _ in recs if s}):
            values[f"accuracy/subject={subject}"] = percent_mean(
                [float(h) for s, h, _ in recs if s == subject]
            )
        values["unparsed"] = count_value(sum(u for _, _, u in recs), len(recs))
        return MetricResult(values=values)


def subject_of(item_id: str) -> str:
    """``validation_Art_Theory_12`` -> ``Art_Theory``."""
    return re.sub(r"^(dev|validation|test)_|_\d+$", "", item_id)


class MMMUSuite(Suite):
    """MMMU val over the lmms-lab/MMMU parquet files."""

    name = "mmmu"
    version = "1"
    description = "MMMU val, official MMMU answer parser (multiple choice and open), per subject"
    requires = Capability.UNDERSTAND
    metric_names = ("accuracy", "unparsed")
    expected_files = ("data/validation-*.parquet (lmms-lab/MMMU)",)

    @classmethod
    def default_data_dir(cls) -> Path:
        """None: MMMU is read from the user's copy."""
        raise ConfigError("suite 'mmmu' reads a local copy: pass --data with the lmms-lab/MMMU parquet files")

    def _split(self) -> Any:
        from mllmbench.suites.formats.hf_parquet import find_split

        split = find_split(self.data_dir, ("validation", "dev"), ("data", ""))
        if split is None:
            raise InputError(
                f"suite 'mmmu': no MMMU data in {self.data_dir}: expected data/validation-*.parquet"
            )
        return split

    def _sample(self, row: dict[str, Any], source: Path, index: int) -> Sample:
        from mllmbench.suites.formats.hf_parquet import require_cell

        item_id = require_cell(row, "id", str, source, f"row {index}")
        owner = f"id {item_id!r}"
        qtype = require_cell(row, "question_type", str, source, owner)
        answer = require_cell(row, "answer", str, source, owner)
        question = require_cell(row, "question", str, source, owner)
        meta: dict[str, Any] = {
            "id": item_id,
            "question_type": qtype,
            "answer": answer,
            "subject": subject_of(item_id),
        }
        if qtype == "multiple-choice":
            try:
                options = ast.literal_eval(require_cell(row, "options", str, source, owner))
            except (ValueError, SyntaxError):
                raise InputError(f"{source}: {owner}: column 'options' is not a list literal") from None
            meta["index2ans"] = {chr(65 + i): str(o) for i, o in enumerate(options)}
            lines = "\n".join(f"{k}. {v}" for k, v in meta["index2ans"].items())
            text = f"{question}\n{lines}\n\n{MC_PROMPT}"
        else:
            text = f"{question}\n\n{OPEN_PROMPT}"
        golds = ast.literal_eval(answer) if answer.startswith("[") else [answer]
        return Sample(item_id, (), text, tuple(str(g) for g in golds), meta)

    def load_samples(self, limit: int | None = None) -> list[Sample]:
        """Samples with their images (``image_1``..) decoded into the cache."""
        from mllmbench.core.paths import cache_root
        from mllmbench.suites.formats.hf_parquet import ImageCache, write_images

        split = self._split()
        names = split.require_columns((*COLUMNS, "image_1"), "lmms-lab/MMMU")
        images = [c for c in IMAGE_COLUMNS if c in names]
        out: list[tuple[Sample, int, list[str]]] = []
        for source, index, row in split.iter_rows([*COLUMNS, *images]):
            if limit is not None and len(out) >= limit:
                break
            present = [c for c in images if row.get(c) is not None]
            row = {k: v for k, v in row.items() if k not in images}
            out.append((self._sample(row, source, index), index, present))
        if not out:
            raise InputError(f"suite 'mmmu': no samples in {self.data_dir}")
        root = cache_root() / "datasets" / self.name / split.fingerprint()
        files = {
            c: write_images(split, ImageCache(root / c), [i for _, i, p in out if c in p], image_column=c)
            for c in images
            if any(c in p for _, _, p in out)
        }
        return [
            Sample(s.sample_id, tuple(str(files[c][i]) for c in p), s.text, s.references, s.meta)
            for s, i, p in out
        ]

    def metrics(self) -> list[Metric]:
        """Official-parser accuracy."""
        return [MMMUAccuracy()]

    def dataset_fingerprint(self) -> str:
        """Hash of the parquet shards."""
        return str(self._split().fingerprint())

    def scoring_info(self) -> dict[str, Any]:
        """Parser and reference."""
        return {
            "layout": "hf_parquet",
            "hf_dataset": "lmms-lab/MMMU",
            "parser": "MMMU eval/eval_utils.py (no random pick: unparsed is wrong and counted)",
        }
