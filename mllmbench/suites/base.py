"""The suite interface: where samples come from, how they are worded, how they are scored.

A suite owns the prompt wording (`Sample.text`) and the scoring; the adapter owns the chat
template. Suites are found through the ``mllmbench.suites`` entry-point group.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from mllmbench.core.results import MetricValue
from mllmbench.core.types import Capability

if TYPE_CHECKING:
    from mllmbench.suites.judging import JudgeVerdicts

__all__ = ["Metric", "MetricResult", "MetricValue", "PlannedBatch", "Sample", "Suite"]


@dataclass(frozen=True)
class Sample:
    """One evaluation item, independent of any model."""

    sample_id: str
    """Unique within the suite (e.g. the VQA question id or the COCO image id, as a string)."""
    image_paths: tuple[str, ...]
    """Absolute image paths (validated to stay inside the dataset root)."""
    text: str
    """The prompt wording the suite gives the model, before the adapter's chat template."""
    references: tuple[str, ...] = ()
    """Reference answers or captions."""
    meta: Mapping[str, Any] = field(default_factory=dict)
    """Extra fields kept in the sample log (question_type, answer_type, image_id, ...)."""
    video: str | None = None
    """Absolute path of the sample's video file, decoded by the runner with the run's
    frame-sampling policy (`mllmbench.core.video`); None for image-only samples."""
    audio: str | None = None
    """Absolute path of the sample's audio file, decoded by the runner to mono 16 kHz
    (`mllmbench.core.video.decode_audio`); None without one."""


@dataclass(frozen=True)
class PlannedBatch:
    """One adapter call the runner makes for a suite."""

    samples: tuple[Sample, ...]
    warmup: bool = False
    """Run but neither logged nor scored (warm-up before measured calls)."""


@dataclass(frozen=True)
class MetricResult:
    """What `Metric.compute` returns: corpus values plus per-sample values known only at the end."""

    values: dict[str, MetricValue]
    per_sample: dict[str, dict[str, float]] = field(default_factory=dict)
    """sample_id -> {metric: value} for metrics that need the whole set (CIDEr's idf, say)."""
    notes: dict[str, str] = field(default_factory=dict)
    """metric -> why it is unavailable (e.g. SPICE without its CoreNLP jar)."""


class Metric(abc.ABC):
    """A streaming metric: update per sample, merge shards, compute at the end."""

    name: ClassVar[str] = ""
    version: ClassVar[str] = "1"

    @abc.abstractmethod
    def update(self, sample: Sample, answer: str) -> dict[str, float]:
        """Add one prediction; return the per-sample scores that are known now (may be empty)."""

    def update_record(self, sample: Sample, record: Mapping[str, Any]) -> dict[str, float]:
        """Add one logged ``samples.jsonl`` record; by default `update` with its answer.

        The runner computes corpus values through this hook, so a metric that needs more than
        the answer (timing, token counts, memory) overrides it.
        """
        return self.update(sample, record["answer"])

    def set_run_context(self, context: Mapping[str, Any]) -> None:  # noqa: B027 - optional hook
        """Facts about the run (device, dtype, batch size, library versions), given before scoring.

        Ignored by default; metrics whose values depend on them record them in
        `MetricValue.context`.
        """

    @abc.abstractmethod
    def compute(self) -> MetricResult:
        """Corpus-level values over everything added (and merged) so far."""

    @abc.abstractmethod
    def merge(self, other: Metric) -> None:
        """Fold another shard's state into this one; the result equals one unsharded pass."""


class Suite(abc.ABC):
    """A named, versioned set of samples with its prompt wording and its metrics."""

    name: ClassVar[str] = ""
    version: ClassVar[str] = "1"
    """Bumped whenever prompt wording, preprocessing or scoring changes."""
    requires: ClassVar[Capability] = Capability.UNDERSTAND
    description: ClassVar[str] = ""
    metric_names: ClassVar[tuple[str, ...]] = ()
    cacheable: ClassVar[bool] = True
    """Whether cached responses may stand in for model calls (not when the calls are measured)."""
    expected_files: ClassVar[tuple[str, ...]] = ()
    """Files the suite reads, relative to its data directory (shown by `list suites`)."""
    judged_extraction: ClassVar[bool] = False
    """Whether an LLM judge may read the answers the suite's rules leave unparsed (`judge_prompt`)."""

    def __init__(self, data_dir: Path | None = None) -> None:
        self.data_dir = Path(data_dir) if data_dir is not None else self.default_data_dir()

    @classmethod
    def default_data_dir(cls) -> Path:
        """Where the suite reads from when no ``--data`` is given."""
        from mllmbench.core.errors import ConfigError

        raise ConfigError(f"suite {cls.name!r} needs a local copy of its data: pass --data DIR")

    @abc.abstractmethod
    def load_samples(self, limit: int | None = None) -> list[Sample]:
        """Read and validate the samples (raise `InputError` naming the file on bad data)."""

    @abc.abstractmethod
    def metrics(self) -> list[Metric]:
        """Fresh metric instances for one run."""

    def plan_batches(self, samples: Sequence[Sample], batch_size: int) -> list[PlannedBatch]:
        """How the runner groups this rank's unfinished samples into adapter calls.

        By default consecutive chunks of `batch_size`, none of them warm-up.
        """
        size = max(1, batch_size)
        return [PlannedBatch(tuple(samples[i : i + size])) for i in range(0, len(samples), size)]

    def extract_answer(self, output: str) -> str:
        """What is scored from the model output; by default the stripped text."""
        return output.strip()

    def judge_prompt(self, sample: Sample, answer: str) -> str | None:
        """The question for an LLM judge when the suite's rules cannot parse `answer`; None otherwise."""
        return None

    def judge_extract(self, sample: Sample, reply: str) -> str | None:
        """What the suite reads from the judge's `reply` (None: nothing)."""
        return None

    def set_judge(self, verdicts: JudgeVerdicts) -> None:
        """Score with the judge's verdicts beside the rule-only score (suites with `judged_extraction`)."""
        from mllmbench.core.errors import ConfigError

        raise ConfigError(f"suite {self.name!r} has no LLM-judge answer extraction")

    def write_submission(
        self, folder: Path, samples: Sequence[Sample], outputs: Mapping[str, str]
    ) -> Path | None:
        """Save the raw outputs (sample_id -> output) in the file a benchmark's server scores, for data
        without answers (a test split); None when there is nothing to submit (the default)."""
        return None

    def dataset_fingerprint(self) -> str:
        """A short id of the data read (changes when the files change); empty when unknown."""
        return ""

    def scoring_info(self) -> dict[str, Any]:
        """How this suite words prompts and scores answers (recorded in run.json)."""
        return {}
