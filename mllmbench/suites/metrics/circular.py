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

With an LLM judge (`mc_judge`; ``judged`` maps each rule-unparsed sample to the judge's letter),
the same values are also given with the judge's letters standing in for the unparsed ones:
``circular_accuracy_judged``, ``vanilla_accuracy_judged`` (or ``accuracy_judged``),
``unparsed_judged`` (still unread after the judge) and ``judge_calls``. The rule-only values
above are unchanged by the judge and always reported.
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
    judged_hit: bool = False
    """The hit with the judge's letter standing in for an unparsed rule extraction."""
    judged_prediction: str | None = None
    judge_called: bool = False


def count_value(count: int, n: int) -> MetricValue:
    """A count of samples (``unparsed``, ``refused``) as a metric value."""
    return MetricValue(value=float(count), n=n, higher_is_better=False, unit="samples")


class MultipleChoiceAccuracy(Metric):
    """Rule-extracted multiple-choice accuracy, circular or plain."""

    name = "mc_accuracy"
    version = "1"

    def __init__(
        self,
        *,
        circular: bool,
        extractor: str = "vlmevalkit",
        judged: Mapping[str, str | None] | None = None,
        answered: bool = True,
    ) -> None:
        if extractor not in EXTRACTORS:
            raise ValueError(f"unknown extraction rule {extractor!r}; known: {', '.join(EXTRACTORS)}")
        self.circular = circular
        self.extractor = extractor
        self.judged = judged
        """sample_id -> the judge's letter for rule-unparsed samples; None: no judge."""
        self.answered = answered
        """False for a split without answers (MMBench test): outputs are counted, not scored."""
        self._records: dict[str, MCRecord] = {}

    def update(self, sample: Sample, answer: str) -> dict[str, float]:
        """Extract the letter and score it; returns ``accuracy`` (0/1) and ``unparsed`` (0/1)."""
        if sample.sample_id in self._records:
            raise ValueError(f"sample {sample.sample_id!r} was scored twice")
        meta: Mapping[str, Any] = sample.meta or {}
        options = {str(k): str(v) for k, v in dict(meta["options"]).items()}
        pred = EXTRACTORS[self.extractor](answer, options)
        gold = meta.get("answer")
        hit = pred is not None and pred == gold
        called = pred is None and self.judged is not None and sample.sample_id in self.judged
        jpred = self.judged[sample.sample_id] if called and self.judged is not None else pred
        judged_hit = jpred is not None and jpred == gold
        self._records[sample.sample_id] = MCRecord(
            int(meta["index"]),
            hit,
            pred,
            str(meta.get("category") or ""),
            str(meta.get("l2_category") or ""),
            judged_hit,
            jpred,
            called,
        )
        scores = {"accuracy": float(hit), "unparsed": float(pred is None)}
        if self.judged is not None:
            scores["accuracy_judged"] = float(judged_hit)
        return scores

    def merge(self, other: Metric) -> None:
        """Add another shard's records."""
        if not isinstance(other, MultipleChoiceAccuracy) or (
            other.circular,
            other.extractor,
            other.judged,
        ) != (self.circular, self.extractor, self.judged):
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
        if not self.answered:
            head = "circular_accuracy" if self.circular else "accuracy"
            notes[head] = (
                "not scored: the data has no answers (a test split); the predictions are saved in the "
                "submission file for the benchmark's server"
            )
        else:
            self._headline(values, notes, records, "hit", "", breakdowns=True)
        n = len(records)
        values["unparsed"] = count_value(sum(r.prediction is None for r in records), n)
        values["refused"] = count_value(sum(r.prediction == REFUSED for r in records), n)
        if self.judged is not None and self.answered:
            self._headline(values, notes, records, "judged_hit", "_judged", breakdowns=False)
            values["unparsed_judged"] = count_value(sum(r.judged_prediction is None for r in records), n)
            values["judge_calls"] = count_value(sum(r.judge_called for r in records), n)
        return MetricResult(values=values, notes=notes)

    def _headline(
        self,
        values: dict[str, MetricValue],
        notes: dict[str, str],
        records: list[MCRecord],
        hit: str,
        suffix: str,
        *,
        breakdowns: bool,
    ) -> None:
        """``circular_accuracy`` and ``vanilla_accuracy`` (or ``accuracy``) from the `hit` field."""
        if self.circular:
            groups = self.groups()
            if not groups:
                notes["circular_accuracy" + suffix] = "no base question (index < 1e6) was scored"
                return
            hits = {g: all(getattr(r, hit) for r in recs) for g, recs in groups.items()}
            base = {g: next(r for r in recs if r.index == g) for g, recs in groups.items()}
            values["circular_accuracy" + suffix] = percent_mean([float(h) for h in hits.values()])
            values["vanilla_accuracy" + suffix] = percent_mean([float(getattr(base[g], hit)) for g in groups])
            if breakdowns:
                self._breakdowns(values, "circular_accuracy", [(base[g], float(hits[g])) for g in groups])
        else:
            values["accuracy" + suffix] = percent_mean([float(getattr(r, hit)) for r in records])
            if breakdowns:
                self._breakdowns(values, "accuracy", [(r, float(r.hit)) for r in records])

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
