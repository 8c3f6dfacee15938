"""Word error rate of transcripts with jiwer (the ASR suite's metric).

Corpus WER is jiwer's: the summed substitutions, deletions and insertions over the summed
reference words (not a mean of per-sample rates). Both sides are normalised the same way first
(`normalize`: lower case, punctuation removed except apostrophes, whitespace collapsed), as the
Whisper and lmms-eval ASR tasks do in spirit; the normalisation is recorded with the result.
Values are in percent; lower is better.
"""

from __future__ import annotations

import re

from mllmbench.suites.base import Metric, MetricResult, MetricValue, Sample

NORMALIZATION = "lowercase, strip punctuation except apostrophes, collapse whitespace"


def normalize(text: str) -> str:
    """Lower case, punctuation (but apostrophes) to spaces, whitespace collapsed."""
    return " ".join(re.sub(r"[^\w\s']", " ", text.lower()).split())


def word_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """(substitutions + deletions + insertions, reference words) after `normalize`, via jiwer."""
    import jiwer

    ref, hyp = normalize(reference), normalize(hypothesis)
    if not ref:
        return len(hyp.split()), 0
    out = jiwer.process_words(ref, hyp or "")
    return out.substitutions + out.deletions + out.insertions, len(ref.split())


class WordErrorRate(Metric):
    """Streaming corpus WER: per-sample WER at `update`, summed errors over summed words at the end."""

    name = "wer"
    version = "1"

    def __init__(self) -> None:
        self._errors: dict[str, tuple[int, int]] = {}

    def update(self, sample: Sample, answer: str) -> dict[str, float]:
        """Score one transcript against ``sample.references[0]``."""
        if not sample.references:
            raise ValueError(f"sample {sample.sample_id!r} has no reference transcript")
        if sample.sample_id in self._errors:
            raise ValueError(f"sample {sample.sample_id!r} was scored twice")
        errors, words = word_errors(sample.references[0], answer)
        self._errors[sample.sample_id] = (errors, words)
        return {"wer": errors / words if words else float(errors > 0)}

    def merge(self, other: Metric) -> None:
        """Add another shard's counts (disjoint sample ids)."""
        if not isinstance(other, WordErrorRate):
            raise TypeError("can only merge a WordErrorRate")
        overlap = self._errors.keys() & other._errors.keys()
        if overlap:
            raise ValueError(f"shards overlap, e.g. sample {sorted(overlap)[0]!r}")
        self._errors.update(other._errors)

    def compute(self) -> MetricResult:
        """Corpus WER in percent (summed errors over summed reference words)."""
        words = sum(w for _, w in self._errors.values())
        if not words:
            return MetricResult(values={}, notes={self.name: "no reference words were scored"})
        errors = sum(e for e, _ in self._errors.values())
        value = MetricValue(
            value=100 * errors / words,
            n=len(self._errors),
            higher_is_better=False,
            unit="%",
            context={"normalization": NORMALIZATION, "implementation": "jiwer"},
        )
        return MetricResult(values={self.name: value})
