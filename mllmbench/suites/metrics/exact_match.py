"""Exact match as lmms-eval scores GQA (METRICS.md §1.3, row ``lmms-eval gqa``).

lmms-eval's generic ``exact_match`` (a port of the HF ``evaluate`` metric) with
``ignore_case: true`` and ``ignore_punctuation: true``: both strings are lowercased, then every
``string.punctuation`` character is deleted from both; there is no whitespace normalisation.
The framework strips the generation before (the suite's ``extract_answer`` does that here).
The score is 1 or 0; with several references the best one counts (GQA has one).
"""

from __future__ import annotations

import string
from collections.abc import Sequence

from mllmbench.suites.base import Metric, MetricResult, Sample
from mllmbench.suites.metrics.evalai_vqa import percent_mean

_DELETE_PUNCTUATION = str.maketrans("", "", string.punctuation)


def normalize_exact(text: str, *, ignore_case: bool = True, ignore_punctuation: bool = True) -> str:
    """The comparison form of one string."""
    if ignore_case:
        text = text.lower()
    if ignore_punctuation:
        text = text.translate(_DELETE_PUNCTUATION)
    return text


def exact_match(
    prediction: str, references: Sequence[str], *, ignore_case: bool = True, ignore_punctuation: bool = True
) -> float:
    """1.0 when the prediction equals one of the references after normalisation, else 0.0."""
    if not references:
        raise ValueError("exact match needs at least one reference")
    pred = normalize_exact(prediction, ignore_case=ignore_case, ignore_punctuation=ignore_punctuation)
    return float(
        any(
            pred == normalize_exact(r, ignore_case=ignore_case, ignore_punctuation=ignore_punctuation)
            for r in references
        )
    )


class ExactMatch(Metric):
    """Streaming exact match in percent, with a breakdown by one ``sample.meta`` field.

    `breakdown` names the meta key (e.g. ``structural`` for GQA's question types); its values
    give ``exact_match/<value>``.
    """

    name = "exact_match"
    version = "1"

    def __init__(
        self, *, ignore_case: bool = True, ignore_punctuation: bool = True, breakdown: str | None = None
    ) -> None:
        self.ignore_case = ignore_case
        self.ignore_punctuation = ignore_punctuation
        self.breakdown = breakdown
        self._records: dict[str, tuple[float, str]] = {}

    def _settings(self) -> tuple[bool, bool, str | None]:
        return self.ignore_case, self.ignore_punctuation, self.breakdown

    def update(self, sample: Sample, answer: str) -> dict[str, float]:
        """Score one answer; returns ``{"exact_match": 0.0 or 1.0}``."""
        if sample.sample_id in self._records:
            raise ValueError(f"sample {sample.sample_id!r} was scored twice")
        if not sample.references:
            raise ValueError(f"sample {sample.sample_id!r} has no reference answer")
        score = exact_match(
            answer,
            sample.references,
            ignore_case=self.ignore_case,
            ignore_punctuation=self.ignore_punctuation,
        )
        group = str((sample.meta or {}).get(self.breakdown) or "") if self.breakdown else ""
        self._records[sample.sample_id] = (score, group)
        return {self.name: score}

    def merge(self, other: Metric) -> None:
        """Add another shard's records (same settings, disjoint sample ids)."""
        if not isinstance(other, ExactMatch) or other._settings() != self._settings():
            raise TypeError("can only merge an ExactMatch with the same settings")
        overlap = self._records.keys() & other._records.keys()
        if overlap:
            raise ValueError(f"shards overlap, e.g. sample {sorted(overlap)[0]!r}")
        self._records.update(other._records)

    def compute(self) -> MetricResult:
        """Overall and per-group accuracy in percent (SE = sample sd / sqrt(n))."""
        if not self._records:
            return MetricResult(values={}, notes={self.name: "no samples were scored"})
        values = {self.name: percent_mean([s for s, _ in self._records.values()])}
        groups: dict[str, list[float]] = {}
        for score, group in self._records.values():
            if group:
                groups.setdefault(group, []).append(score)
        for group in sorted(groups):
            values[f"{self.name}/{group}"] = percent_mean(groups[group])
        return MetricResult(values=values)
