"""VQAv2 accuracy exactly as the reference tools compute it (METRICS.md §1.1-§1.3).

Variants (say in every result which one was used):

- ``official`` (default): GT-Vision-Lab/VQA ``vqaEval.py`` HEAD a013f00. With unanimous GT answers
  nothing is normalised, not even the prediction (quirk Q1: "Yes" vs ten "yes" scores 0).
- ``official_pre2021``: the same file before a013f00, behind numbers published before 2021. The
  prediction is always normalised; GT answers are only punctuation-processed (no whitespace
  cleaning, no digit/article step), and only when they are not unanimous.
- ``lmms_eval``: lmms-eval ``vqav2`` at 75571cf. Prediction and GT are always normalised.
- ``vlmevalkit``: VLMEvalKit ``vqa_score``. Always normalised, with the corrected period regex
  (quirk Q5: ``2.`` stays ``2.``).

Per question, ``acc = mean_i min(1, #{j != i : gt_j == pred} / 3)`` over the K answers.
"""

from __future__ import annotations

import enum
import math
import statistics
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mllmbench.suites.base import Metric, MetricResult, MetricValue, Sample
from mllmbench.suites.metrics.stats import mean_stderr, normal_interval
from mllmbench.suites.metrics.vqa_normalize import (
    PERIOD_STRIP_VLMEVALKIT,
    clean_whitespace,
    process_digit_article,
    process_punctuation,
)

PRECISION = 2
"""The reference's ``n=2``: outputs are rounded to 2 decimals; aggregates use unrounded values."""


class VQAVariant(enum.StrEnum):
    """Which reference implementation to reproduce."""

    OFFICIAL = "official"
    OFFICIAL_PRE2021 = "official_pre2021"
    LMMS_EVAL = "lmms_eval"
    VLMEVALKIT = "vlmevalkit"


@dataclass(frozen=True)
class VQAItem:
    """What the scorer needs of one question."""

    question_id: Hashable
    answers: tuple[str, ...]
    """The human answers (10 in VQAv2), raw."""
    question_type: str = ""
    answer_type: str = ""
    answer_keys: tuple[Hashable, ...] | None = None
    """The other fields of each answer dict (e.g. ``(answer_confidence, answer_id)``). The reference
    leaves one answer out by comparing whole dicts; None means every answer is distinct."""


@dataclass(frozen=True)
class VQAScore:
    """The result of `score_vqa`, shaped like ``VQAEval.accuracy`` plus the per-question values."""

    variant: VQAVariant
    overall: float
    """Percent, rounded to 2 decimals like the reference."""
    per_question_type: dict[str, float]
    per_answer_type: dict[str, float]
    per_question: dict[Hashable, float]
    """``evalQA``: percent, rounded to 2 decimals."""
    accuracies: dict[Hashable, float] = field(default_factory=dict)
    """Unrounded per-question accuracy in [0, 1]."""

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of ``mllm-bench score vqa --json``."""
        return {
            "overall": self.overall,
            "perQuestionType": dict(self.per_question_type),
            "perAnswerType": dict(self.per_answer_type),
            "variant": self.variant.value,
        }


def _leave_one_out(prediction: str, answers: Sequence[str], keys: Sequence[Hashable] | None) -> list[float]:
    """``gtAcc``: for each answer i, min(1, #{answers unequal to answer i that equal pred} / 3).

    The reference drops answer i by comparing whole answer dicts (``item != gtAnsDatum``); `keys`
    stand for the dicts' other fields. Without keys, the index makes every answer distinct.
    """
    if keys is None:
        records: list[tuple[str, Hashable]] = [(a, j) for j, a in enumerate(answers)]
    else:
        records = list(zip(answers, keys, strict=True))
    accs = []
    for current in records:
        matching = sum(1 for rec in records if rec != current and rec[0] == prediction)
        accs.append(min(1, float(matching) / 3))
    return accs


def normalized_pair(prediction: str, answers: Sequence[str], variant: VQAVariant) -> tuple[str, list[str]]:
    """The prediction and GT answers as the chosen reference compares them."""
    if variant is VQAVariant.OFFICIAL:
        gts = [clean_whitespace(a) for a in answers]
        pred = clean_whitespace(prediction)
        if len(set(gts)) > 1:
            gts = [process_digit_article(process_punctuation(a)) for a in gts]
            pred = process_digit_article(process_punctuation(pred))
        return pred, gts
    if variant is VQAVariant.OFFICIAL_PRE2021:
        pred = process_digit_article(process_punctuation(clean_whitespace(prediction)))
        gts = list(answers)
        if len(set(gts)) > 1:
            gts = [process_punctuation(a) for a in gts]
        return pred, gts
    if variant is VQAVariant.LMMS_EVAL:
        pred = process_digit_article(process_punctuation(clean_whitespace(prediction.strip())))
        return pred, [process_digit_article(process_punctuation(clean_whitespace(a))) for a in answers]
    if variant is VQAVariant.VLMEVALKIT:
        period = PERIOD_STRIP_VLMEVALKIT
        pred = process_digit_article(process_punctuation(clean_whitespace(prediction), period))
        return pred, [
            process_digit_article(process_punctuation(clean_whitespace(a), period)) for a in answers
        ]
    raise ValueError(f"unknown VQA variant {variant!r}")


def question_accuracy(
    prediction: str,
    answers: Sequence[str],
    variant: VQAVariant | str = VQAVariant.OFFICIAL,
    answer_keys: Sequence[Hashable] | None = None,
) -> float:
    """Accuracy of one prediction in [0, 1] (0, .3, .6, .9 or 1 with 10 distinct answers)."""
    variant = VQAVariant(variant)
    if not answers:
        raise ValueError("a VQA question needs at least one ground-truth answer")
    pred, gts = normalized_pair(prediction, answers, variant)
    keys = None if variant is VQAVariant.VLMEVALKIT else answer_keys
    accs = _leave_one_out(pred, gts, keys)
    if variant is VQAVariant.LMMS_EVAL:
        return float(statistics.mean(accs))
    return float(sum(accs)) / len(accs)


def _percent(values: Sequence[float]) -> float:
    """The reference's ``round(100*float(sum(acc))/len(acc), n)``."""
    return round(100 * float(sum(values)) / len(values), PRECISION)


def score_vqa(
    items: Sequence[VQAItem],
    predictions: Mapping[Any, str],
    variant: VQAVariant | str = VQAVariant.OFFICIAL,
) -> VQAScore:
    """Score every item (in order) like ``VQAEval.evaluate()``; `predictions` must cover all items."""
    variant = VQAVariant(variant)
    if not items:
        raise ValueError("no questions to score")
    acc_all: list[float] = []
    by_qtype: dict[str, list[float]] = {}
    by_atype: dict[str, list[float]] = {}
    accuracies: dict[Hashable, float] = {}
    for item in items:
        acc = question_accuracy(predictions[item.question_id], item.answers, variant, item.answer_keys)
        acc_all.append(acc)
        by_qtype.setdefault(item.question_type, []).append(acc)
        by_atype.setdefault(item.answer_type, []).append(acc)
        accuracies[item.question_id] = acc
    return VQAScore(
        variant=variant,
        overall=_percent(acc_all),
        per_question_type={t: _percent(v) for t, v in by_qtype.items()},
        per_answer_type={t: _percent(v) for t, v in by_atype.items()},
        per_question={q: round(100 * a, PRECISION) for q, a in accuracies.items()},
        accuracies=accuracies,
    )


@dataclass(frozen=True)
class _Record:
    sample_id: str
    accuracy: float
    answer_type: str
    question_type: str


class VQAAccuracy(Metric):
    """Streaming VQA accuracy: per-sample scores at `update`, mean with its standard error at the end.

    ``sample.references`` are the GT answers; ``sample.meta`` may carry ``question_type``,
    ``answer_type`` and ``answer_keys`` (see `VQAItem`). Values are in percent.
    """

    name = "vqa_accuracy"
    version = "1"

    def __init__(self, variant: VQAVariant | str = VQAVariant.OFFICIAL) -> None:
        self.variant = VQAVariant(variant)
        self._records: list[_Record] = []
        self._ids: set[str] = set()

    def update(self, sample: Sample, answer: str) -> dict[str, float]:
        """Score one answer; returns ``{"vqa_accuracy": acc}`` with acc in [0, 1]."""
        if not sample.references:
            raise ValueError(f"sample {sample.sample_id!r} has no reference answers")
        if sample.sample_id in self._ids:
            raise ValueError(f"sample {sample.sample_id!r} was scored twice")
        meta = sample.meta or {}
        keys = meta.get("answer_keys")  # lists after a JSON round trip; compared by equality only
        keys = tuple(tuple(k) if isinstance(k, list) else k for k in keys) if keys else None
        acc = question_accuracy(answer, sample.references, self.variant, keys)
        self._ids.add(sample.sample_id)
        self._records.append(
            _Record(
                sample.sample_id, acc, str(meta.get("answer_type", "")), str(meta.get("question_type", ""))
            )
        )
        return {"vqa_accuracy": acc}

    def merge(self, other: Metric) -> None:
        """Add another shard's records (same variant, disjoint sample ids)."""
        if not isinstance(other, VQAAccuracy) or other.variant is not self.variant:
            raise TypeError("can only merge a VQAAccuracy of the same variant")
        overlap = self._ids & other._ids
        if overlap:
            raise ValueError(f"shards overlap, e.g. sample {sorted(overlap)[0]!r}")
        self._records.extend(other._records)
        self._ids |= other._ids

    def compute(self) -> MetricResult:
        """Overall and per-answer-type accuracy in percent, with SE = sample sd / sqrt(n)."""
        if not self._records:
            return MetricResult(values={}, notes={self.name: "no samples were scored"})
        values = {self.name: _mean_value([r.accuracy for r in self._records])}
        by_type: dict[str, list[float]] = {}
        for r in self._records:
            if r.answer_type:
                by_type.setdefault(r.answer_type, []).append(r.accuracy)
        for answer_type in sorted(by_type):
            values[f"{self.name}/{answer_type}"] = _mean_value(by_type[answer_type])
        return MetricResult(values=values)


def _mean_value(accs: Sequence[float]) -> MetricValue:
    """Mean in percent with its lmms-eval style standard error and a normal 95% interval."""
    n = len(accs)
    mean = 100 * math.fsum(accs) / n
    if n < 2:
        return MetricValue(value=mean, n=n, unit="%")
    se = 100 * mean_stderr(accs)
    low, high = normal_interval(mean, se)
    return MetricValue(value=mean, n=n, stderr=se, ci_low=low, ci_high=high, ci_method="normal", unit="%")
