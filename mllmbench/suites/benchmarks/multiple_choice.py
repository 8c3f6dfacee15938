"""Multiple-choice benchmarks in VLMEvalKit's TSV layout (and lmms-eval's parquet for MMBench).

``--data`` is the table itself (``MMBench_DEV_EN.tsv``, ``.xlsx``) or a folder holding one of the
suite's known file names, or (MMBench) the lmms-lab/MMBench parquet folder. The prompt is
VLMEvalKit's ``ImageMCQDataset.build_prompt``: ``Hint: {hint}\\n`` (when there is one),
``Question: {question}\\n``, ``Options:\\n`` and ``A. text\\n`` per present option, then
``Please select the correct answer from the options above. \\n``. Scoring: `MultipleChoiceAccuracy`
with VLMEvalKit's rule-based extraction; MMBench is circular.

Samples are ordered so each base question is followed by its circular copies (``--limit`` then
keeps whole groups as far as it reaches).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from mllmbench.core.errors import ConfigError, InputError
from mllmbench.core.types import Capability
from mllmbench.suites.base import Metric, Sample, Suite
from mllmbench.suites.fingerprint import files_fingerprint
from mllmbench.suites.formats.mc_table import MCItem

VLMEVALKIT_TSV = "VLMEvalKit's dataset TSV (https://opencompass.openxlab.space/utils/VLMEval/{name})"


def mc_prompt(item: MCItem) -> str:
    """VLMEvalKit's multiple-choice prompt for one row."""
    text = f"Hint: {item.hint}\n" if item.hint else ""
    text += f"Question: {item.question}\n"
    text += "Options:\n" + "".join(f"{k}. {v}\n" for k, v in item.options.items())
    return text + "Please select the correct answer from the options above. \n"


class MultipleChoiceSuite(Suite):
    """A multiple-choice table; subclasses name their files and whether scoring is circular."""

    requires = Capability.UNDERSTAND
    title: ClassVar[str] = ""
    table_files: ClassVar[tuple[str, ...]] = ()
    circular: ClassVar[bool] = False
    extractor: ClassVar[str] = "vlmevalkit"
    parquet_repo: ClassVar[str] = ""
    parquet_subdirs: ClassVar[tuple[str, ...]] = ()
    parquet_splits: ClassVar[tuple[str, ...]] = ("dev",)
    likelihood: ClassVar[bool] = False
    """Rank the option texts by log-likelihood (``UnderstandRequest.choices``) instead of generating."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.table_files and "expected_files" not in cls.__dict__:
            cls.expected_files = tuple(f"{f} (or pass the file)" for f in cls.table_files[:1])
        if "metric_names" not in cls.__dict__:
            cls.metric_names = (
                ("circular_accuracy", "vanilla_accuracy", "unparsed")
                if cls.circular
                else ("accuracy", "unparsed")
            )

    @classmethod
    def default_data_dir(cls) -> Path:
        """None: these suites read the user's copy."""
        raise ConfigError(
            f"suite {cls.name!r} reads a local copy of {cls.title}, never a download: pass --data with "
            f"{' or '.join(cls.table_files)} from {VLMEVALKIT_TSV.format(name=cls.table_files[0])}"
            + (f", or the {cls.parquet_repo} parquet folder" if cls.parquet_repo else "")
        )

    def __init__(self, data_dir: Path | None = None) -> None:
        super().__init__(data_dir)
        self._source: tuple[str, Path] | None = None

    def source(self) -> tuple[str, Path]:
        """(``table`` or ``hf_parquet``, the file or folder read)."""
        if self._source is not None:
            return self._source
        path = self.data_dir
        if path.is_file():
            self._source = ("table", path)
        elif path.is_dir():
            for name in self.table_files:
                if (path / name).is_file():
                    self._source = ("table", path / name)
                    break
            else:
                if self.parquet_repo and self._parquet_split() is not None:
                    self._source = ("hf_parquet", path)
                else:
                    raise InputError(
                        f"suite {self.name!r}: no {self.title} data in {path}: expected "
                        f"{' or '.join(self.table_files)} from {VLMEVALKIT_TSV.format(name=self.table_files[0])}"
                        + (f", or the {self.parquet_repo} parquet files" if self.parquet_repo else "")
                    )
        else:
            raise InputError(f"suite {self.name!r}: data not found: {path}")
        return self._source

    def _parquet_split(self) -> Any:
        from mllmbench.suites.formats.hf_parquet import find_split

        return find_split(self.data_dir, self.parquet_splits, (*self.parquet_subdirs, "data", ""))

    def items(self) -> list[MCItem]:
        """Every row, base questions each followed by their circular copies."""
        from mllmbench.suites.formats import mc_table

        kind, path = self.source()
        if kind == "table":
            items = mc_table.table_items(path)
        else:
            split = self._parquet_split()
            names = split.column_names()
            mc_table.require_columns(names, split.files[0], need_answer=True, extra=("image",))
            items = mc_table.parquet_items(
                split.iter_rows([c for c in names if c != "image"]), need_answer=True
            )
        first: dict[int, int] = {}
        for n, it in enumerate(items):
            first.setdefault(it.g_index, n)
        return sorted(items, key=lambda it: (first[it.g_index], it.index))

    def load_samples(self, limit: int | None = None) -> list[Sample]:
        """Samples with their images written to (or found in) files."""
        items = self.items()
        if limit is not None:
            items = items[: max(0, limit)]
        images = self._image_files(items)
        return [
            Sample(
                sample_id=str(it.index),
                image_paths=(str(images[it.index]),),
                text=mc_prompt(it),
                references=(it.answer or "",),
                meta={
                    "index": it.index,
                    "options": dict(it.options),
                    "answer": it.answer,
                    "category": it.category,
                    "l2_category": it.l2_category,
                    **({"likelihood_choices": list(it.options.values())} if self.likelihood else {}),
                },
            )
            for it in items
        ]

    def _image_files(self, items: list[MCItem]) -> dict[int, Path]:
        from mllmbench.core.paths import cache_root
        from mllmbench.suites.formats.common import resolve_image_path
        from mllmbench.suites.formats.hf_parquet import ImageCache, write_images
        from mllmbench.suites.formats.mc_table import decode_base64_image

        kind, path = self.source()
        cache = ImageCache(cache_root() / "datasets" / self.name / self.dataset_fingerprint())
        if kind == "hf_parquet":
            split = self._parquet_split()
            return write_images(split, cache, [it.index for it in items], key_column="index")
        out: dict[int, Path] = {}
        for it in items:
            if it.image_kind == "path":
                out[it.index] = resolve_image_path(
                    path.parent, it.image_ref, source=path, owner=f"index {it.index}", must_exist=True
                )
                continue
            key = f"img_{it.g_index}" if it.index != it.g_index else f"img_{it.index}"
            found = cache.lookup(key)
            out[it.index] = found or cache.store(key, decode_base64_image(it.image_ref, path, it.index))
        return out

    def metrics(self) -> list[Metric]:
        """Rule-extracted multiple-choice accuracy."""
        from mllmbench.suites.metrics.circular import MultipleChoiceAccuracy

        return [MultipleChoiceAccuracy(circular=self.circular, extractor=self.extractor)]

    def dataset_fingerprint(self) -> str:
        """Hash of the table (or of the parquet shards)."""
        kind, path = self.source()
        if kind == "table":
            return files_fingerprint([path])
        return str(self._parquet_split().fingerprint())

    def scoring_info(self) -> dict[str, Any]:
        """Layout, prompt and extraction rule (recorded in run.json)."""
        kind, path = self.source()
        return {
            "layout": kind,
            "file": path.name,
            "prompt": "VLMEvalKit ImageMCQDataset.build_prompt (Hint/Question/Options)",
            "extraction": f"{self.extractor} (can_infer_option then can_infer_text; unmatched = unparsed, wrong)",
            "circular": self.circular,
            "mode": "likelihood (sum of option-token log-probs, best letter)"
            if self.likelihood
            else "generation",
            "reference": "VLMEvalKit mcq_circular_eval, exact_matching"
            if self.circular
            else "VLMEvalKit mcq_vanilla_eval",
        }


class MMBenchSuite(MultipleChoiceSuite):
    """MMBench (EN/CN, dev/test) with CircularEval."""

    name = "mmbench"
    version = "1"
    title = "MMBench"
    description = "MMBench dev (EN/CN), CircularEval with VLMEvalKit's rule-based extraction"
    table_files = (
        "MMBench_DEV_EN.tsv",
        "MMBench_DEV_CN.tsv",
        "MMBench_DEV_EN_V11.tsv",
        "MMBench_DEV_CN_V11.tsv",
    )
    circular = True
    parquet_repo = "lmms-lab/MMBench"
    parquet_subdirs = ("en", "cn")


class SEEDBenchSuite(MultipleChoiceSuite):
    """SEED-Bench, image part (generation + rule-based extraction, as VLMEvalKit)."""

    name = "seedbench"
    version = "1"
    title = "SEED-Bench (image)"
    description = "SEED-Bench image part, accuracy with VLMEvalKit's rule-based extraction"
    table_files = ("SEEDBench_IMG.tsv",)


class ScienceQAImgSuite(MultipleChoiceSuite):
    """ScienceQA, questions with an image (test)."""

    name = "scienceqa_img"
    version = "1"
    title = "ScienceQA-IMG"
    description = "ScienceQA-IMG test, accuracy with VLMEvalKit's rule-based extraction"
    table_files = ("ScienceQA_TEST.tsv", "ScienceQA_VAL.tsv")


class AI2DSuite(MultipleChoiceSuite):
    """AI2D diagrams (test)."""

    name = "ai2d"
    version = "1"
    title = "AI2D"
    description = "AI2D test, accuracy with VLMEvalKit's rule-based extraction"
    table_files = ("AI2D_TEST.tsv", "AI2D_TEST_NO_MASK.tsv")


class MMStarSuite(MultipleChoiceSuite):
    """MMStar."""

    name = "mmstar"
    version = "1"
    title = "MMStar"
    description = "MMStar, accuracy with VLMEvalKit's rule-based extraction"
    table_files = ("MMStar.tsv",)


class SEEDBenchPPLSuite(SEEDBenchSuite):
    """SEED-Bench image part in its official likelihood protocol (a separate metric)."""

    name = "seedbench_ppl"
    description = "SEED-Bench image part, options ranked by log-likelihood (official protocol)"
    likelihood = True
    extractor = "first_letter"
    cacheable = False
