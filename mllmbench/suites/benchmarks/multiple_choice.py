"""Multiple-choice benchmarks in VLMEvalKit's TSV layout and lmms-eval's parquet layouts.

``--data`` is the table itself (``MMBench_DEV_EN.tsv``, ``.xlsx``), a folder holding one of the
suite's known file names, the lmms-eval parquet folder (`mc_parquet.LAYOUTS`) or one ``.parquet``
file of it. The prompt is
VLMEvalKit's ``ImageMCQDataset.build_prompt``: ``Hint: {hint}\\n`` (when there is one),
``Question: {question}\\n``, ``Options:\\n`` and ``A. text\\n`` per present option, then
``Please select the correct answer from the options above. \\n``. Scoring: `MultipleChoiceAccuracy`
with VLMEvalKit's rule-based extraction; MMBench is circular.

Samples are ordered so each base question is followed by its circular copies (``--limit`` then
keeps whole groups as far as it reaches).

MMBench's test splits (``MMBench_TEST_EN.tsv``..., the parquet ``test`` split) have no answers:
the samples are run and the raw outputs saved in the submission file the MMBench server takes
(`write_submission`: the table's columns without the image, plus ``prediction``); the metric
counts unparsed outputs and says that nothing was scored.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from mllmbench.core.errors import ConfigError, InputError
from mllmbench.core.types import Capability
from mllmbench.suites.base import Metric, Sample, Suite
from mllmbench.suites.fingerprint import files_fingerprint
from mllmbench.suites.formats.mc_table import MCItem

if TYPE_CHECKING:
    from mllmbench.suites.formats.hf_parquet import ParquetSplit
    from mllmbench.suites.formats.mc_parquet import ParquetLayout
    from mllmbench.suites.judging import JudgeVerdicts

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
    test_split_without_answers: ClassVar[bool] = False
    """Whether a test split (``TEST`` in the file name, parquet split ``test``) lacks answers."""
    judged_extraction = True
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
        layout = cls.layout()
        raise ConfigError(
            f"suite {cls.name!r} reads a local copy of {cls.title}, never a download: pass --data with "
            f"{' or '.join(cls.table_files)} from {VLMEVALKIT_TSV.format(name=cls.table_files[0])}"
            + (f", or the {layout.repo} parquet folder" if layout else "")
        )

    @classmethod
    def layout(cls) -> ParquetLayout | None:
        """The suite's lmms-eval parquet layout, if it has one."""
        from mllmbench.suites.formats.mc_parquet import LAYOUTS

        return LAYOUTS.get(cls.name)

    def __init__(self, data_dir: Path | None = None) -> None:
        super().__init__(data_dir)
        self._source: tuple[str, Path] | None = None
        self._answered: bool | None = None
        self._judge: JudgeVerdicts | None = None

    def source(self) -> tuple[str, Path]:
        """(``table`` or ``hf_parquet``, the file or folder read)."""
        if self._source is not None:
            return self._source
        from mllmbench.suites.formats.hf_parquet import find_split

        path = self.data_dir
        if path.is_file():
            self._source = ("hf_parquet" if path.suffix == ".parquet" else "table", path)
        elif path.is_dir():
            for name in self.table_files:
                if (path / name).is_file():
                    self._source = ("table", path / name)
                    break
            else:
                layout = self.layout()
                if layout is not None and find_split(path, layout.splits, layout.subdirs) is not None:
                    self._source = ("hf_parquet", path)
                else:
                    raise InputError(
                        f"suite {self.name!r}: no {self.title} data in {path}: expected "
                        f"{' or '.join(self.table_files)} from {VLMEVALKIT_TSV.format(name=self.table_files[0])}"
                        + (
                            f", or the {layout.repo} parquet files ({'/'.join(layout.splits)} split)"
                            if layout
                            else ""
                        )
                    )
        else:
            raise InputError(f"suite {self.name!r}: data not found: {path}")
        return self._source

    def _parquet_split(self) -> ParquetSplit:
        from mllmbench.suites.formats.hf_parquet import ParquetSplit, find_split

        _, path = self.source()
        if path.is_file():
            return ParquetSplit(split=path.stem.split("-")[0], files=(path,), root=path.parent)
        layout = self.layout()
        split = find_split(path, layout.splits, layout.subdirs) if layout else None
        if split is None:
            raise InputError(f"suite {self.name!r}: no parquet split in {path}")
        return split

    def is_test_split(self) -> bool:
        """Whether the data read is a test split (``TEST`` in the table's name, parquet ``test``)."""
        kind, path = self.source()
        if kind == "table":
            return "test" in path.stem.lower()
        return self._parquet_split().split == "test"

    def items(self) -> list[MCItem]:
        """Every row, base questions each followed by their circular copies."""
        from mllmbench.suites.formats import mc_parquet, mc_table

        kind, path = self.source()
        optional = self.test_split_without_answers and self.is_test_split()
        if kind == "table":
            items = mc_table.table_items(path, need_answer=not optional)
        else:
            layout = self.layout()
            if layout is None:
                raise InputError(f"{path}: suite {self.name!r} has no parquet layout; pass its TSV table")
            split = self._parquet_split()
            names = split.column_names()
            required = [c for c in (*layout.columns, "image") if not (optional and c == "answer")]
            missing = [c for c in required if c not in names]
            if missing:
                raise InputError(
                    f"{split.files[0]}: column(s) {', '.join(missing)} missing; the {layout.repo} parquet "
                    f"layout has {', '.join(required)} (found: {', '.join(names)})"
                )
            items = mc_parquet.parquet_items(split.iter_rows([c for c in names if c != "image"]), layout)
            if not items:
                raise InputError(f"{split.files[0]}: no {self.title} rows")
        self._answered = mc_table.check_answers(items, path, optional=optional)
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
                    "question": it.question,
                    "hint": it.hint,
                    "options": dict(it.options),
                    "answer": it.answer,
                    "category": it.category,
                    "l2_category": it.l2_category,
                    "split": it.split,
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
            rows = write_images(self._parquet_split(), cache, [it.image_ref for it in items])
            return {it.index: rows[it.image_ref] for it in items}
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
        """Rule-extracted multiple-choice accuracy (and the judged one beside it, with a judge)."""
        from mllmbench.suites.metrics.circular import MultipleChoiceAccuracy

        judged = {k: v.extracted for k, v in self._judge.verdicts.items()} if self._judge else None
        return [
            MultipleChoiceAccuracy(
                circular=self.circular,
                extractor=self.extractor,
                judged=judged,
                answered=self._answered is not False,
            )
        ]

    def judge_prompt(self, sample: Sample, answer: str) -> str | None:
        """The judge's question for an output the rules leave unparsed (`mc_judge`)."""
        from mllmbench.suites.metrics.mc_extract import EXTRACTORS
        from mllmbench.suites.metrics.mc_judge import judge_prompt

        options = dict(sample.meta["options"])
        if EXTRACTORS[self.extractor](answer, options) is not None:
            return None
        question = str(sample.meta.get("question") or sample.text)
        hint = str(sample.meta.get("hint") or "")
        return judge_prompt(f"{hint}\n{question}" if hint else question, options, answer)

    def judge_extract(self, sample: Sample, reply: str) -> str | None:
        """The letter in the judge's reply, read with the same rules."""
        from mllmbench.suites.metrics.mc_judge import judge_extract

        return judge_extract(reply, dict(sample.meta["options"]))

    def set_judge(self, verdicts: JudgeVerdicts) -> None:
        """Score with the judge's letters beside the rule-only score."""
        if not self.judged_extraction:
            super().set_judge(verdicts)
        self._judge = verdicts

    def write_submission(
        self, folder: Path, samples: Sequence[Sample], outputs: Mapping[str, str]
    ) -> Path | None:
        """For a split without answers: ``<suite>_<table>_submission.xlsx`` in `folder`, the data's
        columns (no image) in data order plus the raw ``prediction`` ("" for a failed sample;
        control characters, which xlsx cannot hold, dropped)."""
        if self._answered is not False:
            return None
        import pandas as pd

        from mllmbench.core.jsonio import write_bytes_atomic

        letters = sorted({k for s in samples for k in s.meta["options"]})
        rows = []
        for s in samples:
            m = s.meta
            rows.append(
                {
                    "index": m["index"],
                    "question": m["question"],
                    "hint": m["hint"],
                    **{k: m["options"].get(k, "") for k in letters},
                    "category": m["category"],
                    "l2-category": m["l2_category"],
                    "split": m["split"],
                    "prediction": outputs.get(s.sample_id, ""),
                }
            )
        _, path = self.source()
        target = Path(folder) / f"{self.name}_{path.stem}_submission.xlsx"
        # xlsx cannot hold control characters (openpyxl refuses them): they are dropped
        from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

        frame = pd.DataFrame(rows).map(
            lambda v: ILLEGAL_CHARACTERS_RE.sub("", v) if isinstance(v, str) else v
        )
        buf = io.BytesIO()
        frame.to_excel(buf, index=False)
        return write_bytes_atomic(target, buf.getvalue())

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
            **(
                {"answers": "none (a test split): predictions are saved, not scored"}
                if self._answered is False
                else {}
            ),
            **({"judge": self._judge.summary()} if self._judge else {}),
        }


class MMBenchSuite(MultipleChoiceSuite):
    """MMBench (EN/CN, dev/test) with CircularEval."""

    name = "mmbench"
    version = "1"
    title = "MMBench"
    description = (
        "MMBench EN/CN, CircularEval with VLMEvalKit's rule-based extraction (dev scored; test: "
        "predictions saved for the server)"
    )
    table_files = (
        "MMBench_DEV_EN.tsv",
        "MMBench_DEV_CN.tsv",
        "MMBench_DEV_EN_V11.tsv",
        "MMBench_DEV_CN_V11.tsv",
        "MMBench_TEST_EN.tsv",
        "MMBench_TEST_CN.tsv",
        "MMBench_TEST_EN_V11.tsv",
        "MMBench_TEST_CN_V11.tsv",
    )
    circular = True
    test_split_without_answers = True


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
    judged_extraction = False
    extractor = "first_letter"
    cacheable = False
