"""VQA accuracy as lmms-eval scores TextVQA, VizWiz-VQA and OK-VQA (METRICS.md §1.2, §1.3).

The prediction and every GT answer go through lmms-eval's ``EvalAIAnswerProcessor()`` (its
``__call__``: `evalai_normalize`). Each answer i is then left out **by index** and
``acc_i = min(1, #{j != i : gt_j == pred} / 3)``; the question's accuracy is
``statistics.mean(acc_i)``. This is the MMF ``TextVQAAccuracyEvaluator`` number too (§1.3).

Questions without answers: lmms-eval's VizWiz and OK-VQA code score them 0; its TextVQA code
fails (``statistics.mean([])``), so here they are an error unless ``empty_answers="zero"``.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from mllmbench.suites.base import Metric, MetricResult, MetricValue, Sample
from mllmbench.suites.metrics.stats import mean_stderr, normal_interval
from mllmbench.suites.metrics.vqa_normalize import (
    clean_whitespace,
    process_digit_article,
    process_punctuation,
)


def evalai_word_tokenize(text: str) -> str:
    """``EvalAIAnswerProcessor.word_tokenize``: lowercase, drop ``,`` and ``?``, split ``'s``, strip."""
    return text.lower().replace(",", "").replace("?", "").replace("'s", " 's").strip()


def evalai_normalize(text: str) -> str:
    """``EvalAIAnswerProcessor()(text)``: tokenize, whitespace, punctuation, digits and articles."""
    return process_digit_article(process_punctuation(clean_whitespace(evalai_word_tokenize(text))))


def evalai_accuracy(prediction: str, answers: Sequence[str], *, empty_score: float | None = None) -> float:
    """Accuracy of one prediction in [0, 1] against its GT answers, leave-one-out by index."""
    if not answers:
        if empty_score is None:
            raise ValueError("a question needs at least one ground-truth answer")
        return empty_score
    pred = evalai_normalize(prediction)
    gts = [evalai_normalize(a) for a in answers]
    accs = []
    for i in range(len(gts)):
        matching = [g for j, g in enumerate(gts) if j != i and g == pred]
        accs.append(min(1, float(len(matching)) / 3))
    return float(statistics.mean(accs))


@dataclass(frozen=True)
class _Record:
    accuracy: float
    answer_type: str


class EvalAIVQAAccuracy(Metric):
    """Streaming lmms-eval TextVQA-style accuracy, in percent, with per-answer-type values.

    ``sample.references`` are the GT answers; ``sample.meta["answer_type"]`` (when present and
    non-empty) gives the breakdown ``vqa_accuracy/<answer_type>``.
    """

    name = "vqa_accuracy"
    version = "1"

    def __init__(self, empty_answers: str = "error") -> None:
        if empty_answers not in ("error", "zero"):
            raise ValueError("empty_answers must be 'error' or 'zero'")
        self.empty_answers = empty_answers
        self._records: dict[str, _Record] = {}

    def update(self, sample: Sample, answer: str) -> dict[str, float]:
        """Score one answer; returns ``{"vqa_accuracy": acc}`` with acc in [0, 1]."""
        if sample.sample_id in self._records:
            raise ValueError(f"sample {sample.sample_id!r} was scored twice")
        if not sample.references and self.empty_answers == "error":
            raise ValueError(f"sample {sample.sample_id!r} has no reference answers")
        acc = evalai_accuracy(answer, sample.references, empty_score=0.0)
        meta = sample.meta or {}
        self._records[sample.sample_id] = _Record(acc, str(meta.get("answer_type") or ""))
        return {self.name: acc}

    def merge(self, other: Metric) -> None:
        """Add another shard's records (disjoint sample ids, same empty-answer rule)."""
        if not isinstance(other, EvalAIVQAAccuracy) or other.empty_answers != self.empty_answers:
            raise TypeError("can only merge an EvalAIVQAAccuracy with the same empty-answer rule")
        overlap = self._records.keys() & other._records.keys()
        if overlap:
            raise ValueError(f"shards overlap, e.g. sample {sorted(overlap)[0]!r}")
        self._records.update(other._records)

    def compute(self) -> MetricResult:
        """Overall and per-answer-type accuracy in percent (SE = sample sd / sqrt(n))."""
        if not self._records:
            return MetricResult(values={}, notes={self.name: "no samples were scored"})
        records = list(self._records.values())
        values = {self.name: percent_mean([r.accuracy for r in records])}
        by_type: dict[str, list[float]] = {}
        for r in records:
            if r.answer_type:
                by_type.setdefault(r.answer_type, []).append(r.accuracy)
        for answer_type in sorted(by_type):
            values[f"{self.name}/{answer_type}"] = percent_mean(by_type[answer_type])
        return MetricResult(values=values)


def percent_mean(scores: Sequence[float]) -> MetricValue:
    """The mean of per-sample scores in [0, 1], as percent, with SE and a normal 95% interval."""
    n = len(scores)
    mean = 100 * math.fsum(scores) / n
    if n < 2:
        return MetricValue(value=mean, n=n, unit="%")
    se = 100 * mean_stderr(scores)
    low, high = normal_interval(mean, se)
    return MetricValue(value=mean, n=n, stderr=se, ci_low=low, ci_high=high, ci_method="normal", unit="%")
