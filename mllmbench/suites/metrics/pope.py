"""POPE: yes/no object-hallucination scores (BENCHMARK-RULES.md §3).

Answer rules (the suite records which one it used):

* ``pope`` (default): the original POPE / LLaVA ``eval_pope.py``: keep the text before the first
  ``.``, delete commas, split on single spaces; if ``No``, ``not`` or ``no`` is a word the answer
  is no, otherwise **yes** (so ``NO`` and ``I don't know`` count as yes, as in the reference).
  Outputs whose words hold none of ``yes``/``no``/``not`` (any case) are counted as ``unparsed``
  although the reference rule scores them as yes.
* ``lmms_eval``: lmms-eval ``tasks/pope/utils.py``: the output lower-cased and stripped must be
  exactly ``yes`` or ``no``; anything else is wrong for accuracy, left out of TP/FP/FN, and
  counted as ``unparsed``.

Positive = yes. accuracy = (TP+TN)/N, precision = TP/(TP+FP), recall = TP/(TP+FN),
F1 = 2PR/(P+R) (0 where undefined; the original script would divide by zero), and
``yes_ratio`` = share of **predicted** yes over all N (lmms-eval's own yes-ratio counts the
ground truth instead: a constant 0.5 on balanced splits). All in percent, overall and per
``category`` (the POPE split: adversarial, popular, random) as ``<metric>/split=<category>``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mllmbench.suites.base import Metric, MetricResult, MetricValue, Sample
from mllmbench.suites.metrics.circular import count_value
from mllmbench.suites.metrics.evalai_vqa import percent_mean

RULES = ("pope", "lmms_eval")


def pope_answer(text: str) -> str:
    """The original POPE rule: ``yes`` or ``no``, never anything else."""
    if "." in text:
        text = text.split(".")[0]
    words = text.replace(",", "").split(" ")
    return "no" if ("No" in words or "not" in words or "no" in words) else "yes"


def pope_unparsed(text: str) -> bool:
    """Whether the original rule fell back to its default (no yes/no/not word in any case)."""
    if "." in text:
        text = text.split(".")[0]
    words = {w.lower() for w in text.replace(",", "").split(" ")}
    return not words & {"yes", "no", "not"}


def lmms_eval_answer(text: str) -> str | None:
    """lmms-eval's exact rule: ``yes``, ``no`` or None."""
    pred = text.lower().strip()
    return pred if pred in ("yes", "no") else None


@dataclass(frozen=True)
class PopeRecord:
    gold: str
    pred: str | None
    unparsed: bool
    category: str


def _ratio(num: int, den: int) -> float:
    return num / den if den else 0.0


def pope_scores(records: Sequence[PopeRecord]) -> dict[str, MetricValue]:
    """accuracy, precision, recall, f1, yes_ratio (percent) and unparsed of one set of records."""
    n = len(records)
    tp = sum(r.gold == "yes" and r.pred == "yes" for r in records)
    fp = sum(r.gold == "no" and r.pred == "yes" for r in records)
    fn = sum(r.gold == "yes" and r.pred == "no" for r in records)
    precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "accuracy": percent_mean([float(r.pred == r.gold) for r in records]),
        "precision": MetricValue(100 * precision, tp + fp, unit="%"),
        "recall": MetricValue(100 * recall, tp + fn, unit="%"),
        "f1": MetricValue(100 * f1, n, unit="%"),
        "yes_ratio": MetricValue(100 * _ratio(sum(r.pred == "yes" for r in records), n), n, unit="%"),
        "unparsed": count_value(sum(r.unparsed for r in records), n),
    }


class PopeMetric(Metric):
    """Streaming POPE scores; ``meta["category"]`` names the split."""

    name = "pope"
    version = "1"

    def __init__(self, rule: str = "pope") -> None:
        if rule not in RULES:
            raise ValueError(f"unknown POPE answer rule {rule!r}; known: {', '.join(RULES)}")
        self.rule = rule
        self._records: dict[str, PopeRecord] = {}

    def update(self, sample: Sample, answer: str) -> dict[str, float]:
        """Parse and score one answer."""
        if sample.sample_id in self._records:
            raise ValueError(f"sample {sample.sample_id!r} was scored twice")
        gold = str(sample.references[0]).lower().strip()
        if gold not in ("yes", "no"):
            raise ValueError(f"sample {sample.sample_id!r}: gold answer {gold!r} is not yes or no")
        if self.rule == "pope":
            pred: str | None = pope_answer(answer)
            unparsed = pope_unparsed(answer)
        else:
            pred = lmms_eval_answer(answer)
            unparsed = pred is None
        category = str((sample.meta or {}).get("category") or "")
        self._records[sample.sample_id] = PopeRecord(gold, pred, unparsed, category)
        return {"accuracy": float(pred == gold), "unparsed": float(unparsed)}

    def merge(self, other: Metric) -> None:
        """Add another shard's records."""
        if not isinstance(other, PopeMetric) or other.rule != self.rule:
            raise TypeError("can only merge a PopeMetric with the same rule")
        overlap = self._records.keys() & other._records.keys()
        if overlap:
            raise ValueError(f"shards overlap, e.g. sample {sorted(overlap)[0]!r}")
        self._records.update(other._records)

    def compute(self) -> MetricResult:
        """Overall and per-split scores."""
        records = list(self._records.values())
        if not records:
            return MetricResult(values={}, notes={self.name: "no samples were scored"})
        values = pope_scores(records)
        for cat in sorted({r.category for r in records if r.category}):
            part = pope_scores([r for r in records if r.category == cat])
            values.update({f"{k}/split={cat}": v for k, v in part.items()})
        return MetricResult(values=values)
