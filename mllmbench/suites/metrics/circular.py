"""Multiple-choice accuracy with MMBench's CircularEval (VLMEvalKit ``mcq_circular_eval``).

Each sample's ``meta`` carries ``index``, ``options`` (letter -> text) and ``answer`` (the gold
letter of that rotation); circular copies of question ``i`` have ``index = i + k * 1e6`` and
are grouped by ``g_index = index % 1e6`` (BENCHMARK-RULES.md §1). With the rule-based
extraction only (VLMEvalKit's ``exact_matching`` policy, `mc_extract.can_infer`):

* ``circular_accuracy``: share of base questions whose every rotation present was extracted as
  that rotation's gold letter (an unparsed rotation makes the question wrong, hit = 0);
* ``vanilla_accuracy``: share of base questions (``index == g_index``) answered right;
* ``accuracy`` (non-circular suites): share of all samples right;
* ``unparsed``: outputs no rule matched (scored wrong, never a random letter); ``refused``:
  outputs extracted as ``Z`` (a refusal, wrong);
* per ``category`` (and ``l2_category``) breakdowns of the headline accuracy.

Groups are judged on the rotations that were run; a rotation that failed is never scored
(the suite's ``n_errors`` counts it), so a group with a failed rotation is judged on the rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mllmbench.suites.base import Metric, MetricResult, MetricValue, Sample
from mllmbench.suites.formats.mc_table import CIRCULAR_STRIDE
from mllmbench.suites.metrics.evalai_vqa import percent_mean
from mllmbench.suites.metrics.mc_extract import EXTRACTORS, REFUSED


@dataclass(frozen=True)
class MCRecord:
    """What is kept per scored sample."""

    index: int
    hit: bool
    prediction: str | None
    category: str
    l2_category: str


def count_value(count: int, n: int) -> MetricValue:
    """A count of samples (``unparsed``, ``refused``) as a metric value."""
    return MetricValue(value=float(count), n=n, higher_is_better=False, unit="samples")


class MultipleChoiceAccuracy(Metric):
    """Rule-extracted multiple-choice accuracy, circular or plain."""

    name = "mc_accuracy"
    version = "1"

    def __init__(self, *, circular: bool, extractor: str = "vlmevalkit") -> None:
        if extractor not in EXTRACTORS:
            raise ValueError(f"unknown extraction rule {extractor!r}; known: {', '.join(EXTRACTORS)}")
        self.circular = circular
        self.extractor = extractor
        self._records: dict[str, MCRecord] = {}

    def update(self, sample: Sample, answer: str) -> dict[str, float]:
        """Extract the letter and score it; returns ``accuracy`` (0/1) and ``unparsed`` (0/1)."""
        if sample.sample_id in self._records:
            raise ValueError(f"sample {sample.sample_id!r} was scored twice")
        meta: Mapping[str, Any] = sample.meta or {}
        options = {str(k): str(v) for k, v in dict(meta["options"]).items()}
        pred = EXTRACTORS[self.extractor](answer, options)
        hit = pred is not None and pred == meta["answer"]
        self._records[sample.sample_id] = MCRecord(
            int(meta["index"]), hit, pred, str(meta.get("category") or ""), str(meta.get("l2_category") or "")
        )
        return {"accuracy": float(hit), "unparsed": float(pred is None)}

    def merge(self, other: Metric) -> None:
        """Add another shard's records."""
        if not isinstance(other, MultipleChoiceAccuracy) or (other.circular, other.extractor) != (
            self.circular,
            self.extractor,
        ):
            raise TypeError("can only merge a MultipleChoiceAccuracy with the same settings")
        overlap = self._records.keys() & other._records.keys()
        if overlap:
            raise ValueError(f"shards overlap, e.g. sample {sorted(overlap)[0]!r}")
        self._records.update(other._records)

    def groups(self) -> dict[int, list[MCRecord]]:
        """g_index -> the rotations scored, for base questions that were scored."""
        by_group: dict[int, list[MCRecord]] = {}
        for rec in self._records.values():
            by_group.setdefault(rec.index % CIRCULAR_STRIDE, []).append(rec)
        bases = {r.index for r in self._records.values() if r.index < CIRCULAR_STRIDE}
        return {g: recs for g, recs in by_group.items() if g in bases}

    def compute(self) -> MetricResult:
        """Headline accuracy in percent, breakdowns, and the unparsed/refused counts."""
        records = list(self._records.values())
        if not records:
            return MetricResult(values={}, notes={self.name: "no samples were scored"})
        values: dict[str, MetricValue] = {}
        notes: dict[str, str] = {}
        if self.circular:
            groups = self.groups()
            if groups:
                hits = {g: all(r.hit for r in recs) for g, recs in groups.items()}
                base = {g: next(r for r in recs if r.index == g) for g, recs in groups.items()}
                values["circular_accuracy"] = percent_mean([float(h) for h in hits.values()])
                values["vanilla_accuracy"] = percent_mean([float(base[g].hit) for g in groups])
                self._breakdowns(values, "circular_accuracy", [(base[g], float(hits[g])) for g in groups])
            else:
                notes["circular_accuracy"] = "no base question (index < 1e6) was scored"
        else:
            values["accuracy"] = percent_mean([float(r.hit) for r in records])
            self._breakdowns(values, "accuracy", [(r, float(r.hit)) for r in records])
        n = len(records)
        values["unparsed"] = count_value(sum(r.prediction is None for r in records), n)
        values["refused"] = count_value(sum(r.prediction == REFUSED for r in records), n)
        return MetricResult(values=values, notes=notes)

    @staticmethod
    def _breakdowns(values: dict[str, MetricValue], head: str, scored: list[tuple[MCRecord, float]]) -> None:
        for attr, prefix in (("category", "category"), ("l2_category", "l2")):
            by: dict[str, list[float]] = {}
            for rec, score in scored:
                key = getattr(rec, attr)
                if key:
                    by.setdefault(key, []).append(score)
            for key in sorted(by):
                values[f"{head}/{prefix}={key}"] = percent_mean(by[key])
