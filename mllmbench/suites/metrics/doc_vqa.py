"""OCR and document scores: ANLS (DocVQA, InfoVQA), ChartQA relaxed accuracy, OCRBench.

* ANLS (lmms-eval ``api/metrics.py::anls``, from Qwen-VL ``infographicsvqa_eval.py``;
  BENCHMARK-RULES.md §8): both strings stripped, lower-cased, whitespace collapsed; NL =
  Levenshtein(gt, pred) / max(len(gt), len(pred)) with the lengths of the **un-normalised**
  strings (a quirk kept); s = 1 - min over gold answers of NL, set to 0 when s < 0.5 (so NL = 0.5
  exactly scores 0.5). Mean over questions, in percent.
* ChartQA relaxed accuracy (lmms-eval ``tasks/chartqa/utils.py::relaxed_correctness``; §7):
  both parsed as float (a trailing ``%`` divides by 100); when the prediction is a number and the
  gold a non-zero number, correct iff |pred - gold| / |gold| <= 0.05; otherwise case-insensitive
  exact string match (gold ``0`` therefore needs the string). The prediction is not stripped.
* OCRBench (lmms-eval ``tasks/ocrbench/utils.py``; §9): 1 point when a gold answer, folded from
  fullwidth ASCII, lower-cased, stripped and with newlines as spaces, is a substring of the
  prediction treated the same way (``HME100k``: all spaces removed, case kept). Reported as the
  sum of points (``ocrbench_score``, out of 1000 on the full set) and per ``question_type``.

An empty answer is counted as ``unparsed`` (and scores what the rule gives it, usually 0).
"""

from __future__ import annotations

from collections.abc import Sequence

from mllmbench.suites.base import Metric, MetricResult, MetricValue, Sample
from mllmbench.suites.metrics.circular import count_value
from mllmbench.suites.metrics.evalai_vqa import percent_mean

ANLS_THRESHOLD = 0.5


def levenshtein(a: str, b: str) -> int:
    """Edit distance (insertions, deletions, substitutions of one character each)."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def anls(prediction: str, golds: Sequence[str], threshold: float = ANLS_THRESHOLD) -> float:
    """ANLS of one question, in [0, 1]."""
    det = " ".join(prediction.strip().lower().split())
    values = []
    for gold in golds:
        gt = " ".join(gold.strip().lower().split())
        length = max(len(gold.upper()), len(prediction.upper()))
        values.append(0.0 if length == 0 else levenshtein(gt, det) / length)
    score = 1 - min(values)
    return 0.0 if score < threshold else score


def _to_float(text: str) -> float | None:
    try:
        return float(text.rstrip("%")) / 100.0 if text.endswith("%") else float(text)
    except ValueError:
        return None


def relaxed_correctness(prediction: str, target: str, max_relative_change: float = 0.05) -> bool:
    """ChartQA's relaxed match of one prediction against one gold answer."""
    pred, gold = _to_float(prediction), _to_float(target)
    if pred is not None and gold:
        return abs(pred - gold) / abs(gold) <= max_relative_change
    return prediction.lower() == target.lower()


def _fold_fullwidth(text: str) -> str:
    return "".join(
        chr(ord(c) - 0xFEE0) if 0xFF01 <= ord(c) <= 0xFF5E else " " if ord(c) == 0x3000 else c for c in text
    )


def ocrbench_hit(prediction: str, golds: Sequence[str], dataset: str) -> float:
    """1.0 when a normalised gold answer is a substring of the normalised prediction."""
    pred = prediction.strip()
    for gold in golds:
        if dataset == "HME100k":
            g, p = (x.strip().replace("\n", " ").replace(" ", "") for x in (gold, pred))
        else:
            g, p = (_fold_fullwidth(x).lower().strip().replace("\n", " ") for x in (gold, pred))
        if g in p:
            return 1.0
    return 0.0


KINDS = ("anls", "relaxed_accuracy", "ocrbench")


class DocVQAScore(Metric):
    """ANLS, relaxed accuracy or OCRBench points; breakdown by ``meta[breakdown]``."""

    name = "doc_vqa"
    version = "1"

    def __init__(self, kind: str, breakdown: str | None = None) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown score {kind!r}; known: {', '.join(KINDS)}")
        self.kind = kind
        self.breakdown = breakdown
        self._records: dict[str, tuple[float, str, bool]] = {}

    def _score(self, sample: Sample, answer: str) -> float:
        golds = list(sample.references)
        if self.kind == "anls":
            return anls(answer, golds)
        if self.kind == "relaxed_accuracy":
            return float(any(relaxed_correctness(answer, g) for g in golds))
        return ocrbench_hit(answer, golds, str((sample.meta or {}).get("dataset") or ""))

    def update(self, sample: Sample, answer: str) -> dict[str, float]:
        """Score one answer."""
        if sample.sample_id in self._records:
            raise ValueError(f"sample {sample.sample_id!r} was scored twice")
        if not sample.references:
            raise ValueError(f"sample {sample.sample_id!r} has no gold answer")
        score = self._score(sample, answer)
        group = str((sample.meta or {}).get(self.breakdown) or "") if self.breakdown else ""
        self._records[sample.sample_id] = (score, group, not answer.strip())
        return {self.kind: score, "unparsed": float(not answer.strip())}

    def merge(self, other: Metric) -> None:
        """Add another shard's records."""
        if not isinstance(other, DocVQAScore) or (other.kind, other.breakdown) != (self.kind, self.breakdown):
            raise TypeError("can only merge a DocVQAScore with the same settings")
        self._records.update(other._records)

    def _value(self, scores: list[float]) -> MetricValue:
        if self.kind == "ocrbench":
            return MetricValue(float(sum(scores)), len(scores), unit="points")
        return percent_mean(scores)

    def compute(self) -> MetricResult:
        """Overall and per-group values, and the unparsed count."""
        if not self._records:
            return MetricResult(values={}, notes={self.name: "no samples were scored"})
        head = "ocrbench_score" if self.kind == "ocrbench" else self.kind
        scores = [s for s, _, _ in self._records.values()]
        values = {head: self._value(scores)}
        groups: dict[str, list[float]] = {}
        for s, g, _ in self._records.values():
            if g:
                groups.setdefault(g, []).append(s)
        for g in sorted(groups):
            values[f"{head}/{self.breakdown}={g}"] = self._value(groups[g])
        values["unparsed"] = count_value(sum(u for _, _, u in self._records.values()), len(scores))
        return MetricResult(values=values)
