"""Answer rules and accuracy of the video benchmarks, as their reference code scores them.

* MVBench (lmms-eval ``tasks/mvbench/utils.py`` ``mcq_acc``, read at 1ab9504): the prediction
  and the ground-truth letter are both "processed" (``A. text`` -> ``A``; otherwise punctuation
  stripped VQA-style and the first stand-alone letter A-E taken, case-insensitively, else the
  processed text) and compared. Quirk kept: the period regex's ``sub`` is called with
  ``re.UNICODE`` as its *count* (32). The corpus accuracy counts only answered samples
  (non-empty prediction), as lmms-eval's aggregate does.
* Video-MME (lmms-eval ``tasks/videomme/utils.py`` ``extract_characters_regex``, read at
  0696573): answer prefixes removed (the list has two missing commas, so "The best option is"
  and "Best answer:" only match glued to the next prefix: kept), then the first capital A-D;
  an answer of more than 10 words without one is empty. Correct iff it equals the answer letter.
* ActivityNet-QA (the official accuracy of MILVLG/activitynet-qa: exact match of the answer):
  prediction and answer lower-cased and stripped of surrounding whitespace and a final period.
  lmms-eval scores this benchmark with a GPT judge instead; that is not reproduced here.

`GroupedAccuracy` is the shared streaming metric: overall accuracy plus accuracy per group
(task, duration, question type), in percent with a normal 95% interval.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

from mllmbench.suites.base import Metric, MetricResult, MetricValue, Sample
from mllmbench.suites.metrics.stats import mean_stderr, normal_interval

_PUNCT = [
    ";",
    r"/",
    "[",
    "]",
    '"',
    "{",
    "}",
    "(",
    ")",
    "=",
    "+",
    "\\",
    "_",
    "-",
    ">",
    "<",
    "@",
    "`",
    ",",
    "?",
    "!",
]
_PERIOD_STRIP = re.compile(r"(?!<=\d)(\.)(?!\d)")
_COMMA_STRIP = re.compile(r"(\d)(\,)(\d)")
_OPTION = re.compile(r"^([A-E])\.\s*(.+)$", re.IGNORECASE)


def _mvbench_punctuation(text: str) -> str:
    out = text
    for p in _PUNCT:
        if (p + " " in text or " " + p in text) or (re.search(_COMMA_STRIP, text) is not None):
            out = out.replace(p, "")
        else:
            out = out.replace(p, " ")
    return _PERIOD_STRIP.sub("", out, re.UNICODE)  # the reference passes re.UNICODE as count


def mvbench_process(answer: str) -> str:
    """lmms-eval's ``mcq_acc.process``: an option letter when one can be read, else the cleaned text."""
    match = _OPTION.match(answer.strip())
    if match:
        return match.group(1).upper()
    text = answer.replace("\n", " ").replace("\t", " ").strip()
    text = _mvbench_punctuation(text)
    text = text.strip("'").strip('"').strip(")").strip("(").strip().lower()
    letter = re.search(r"\b([A-E])\b", text, re.IGNORECASE)
    return letter.group(1).upper() if letter else text


def mvbench_correct(gt_letter: str, prediction: str) -> bool:
    """lmms-eval's ``mcq_acc(gt, pred) == 1``."""
    return mvbench_process(prediction) == mvbench_process(gt_letter)


_VIDEOMME_PREFIXES = (
    "The best answer is",
    "The correct answer is",
    "The answer is",
    "The answer",
    # The reference's two missing commas glue these pairs into one string each:
    "The best option isThe correct option is",
    "Best answer:Best option:",
)


def videomme_extract(answer: str) -> str:
    """lmms-eval's Video-MME ``extract_characters_regex``: one letter A-D, or ``""``."""
    s = answer.strip()
    for prefix in _VIDEOMME_PREFIXES:
        s = s.replace(prefix, "")
    if len(s.split()) > 10 and not re.search("[ABCD]", s):
        return ""
    match = re.search(r"[ABCD]", s)
    return match[0] if match else ""


def activitynet_normalize(text: str) -> str:
    """Lower case, surrounding whitespace and one final period removed."""
    text = text.strip().lower()
    return text[:-1].rstrip() if text.endswith(".") else text


class GroupedAccuracy(Metric):
    """Accuracy (percent) overall and per group; `judge(sample, answer)` is None when unanswered.

    Unanswered samples count as wrong unless `skip_unanswered` (lmms-eval's MVBench aggregate).
    """

    version = "1"

    def __init__(
        self,
        name: str,
        judge: Callable[[Sample, str], bool | None],
        group_key: str,
        *,
        skip_unanswered: bool = False,
    ) -> None:
        self.name = name  # type: ignore[misc]  # one class, several named metrics
        self.judge = judge
        self.group_key = group_key
        self.skip_unanswered = skip_unanswered
        self._rows: dict[str, tuple[str, float | None]] = {}

    def update(self, sample: Sample, answer: str) -> dict[str, float]:
        """Score one answer; ``{name: 0 or 1}`` (empty when unanswered and skipped)."""
        if sample.sample_id in self._rows:
            raise ValueError(f"sample {sample.sample_id!r} was scored twice")
        verdict = self.judge(sample, answer)
        value = None if verdict is None and self.skip_unanswered else float(bool(verdict))
        self._rows[sample.sample_id] = (str((sample.meta or {}).get(self.group_key, "")), value)
        return {} if value is None else {self.name: value}

    def merge(self, other: Metric) -> None:
        """Add another shard's rows (same metric, disjoint samples)."""
        if not isinstance(other, GroupedAccuracy) or other.name != self.name:
            raise TypeError(f"can only merge a GroupedAccuracy named {self.name!r}")
        overlap = self._rows.keys() & other._rows.keys()
        if overlap:
            raise ValueError(f"shards overlap, e.g. sample {sorted(overlap)[0]!r}")
        self._rows.update(other._rows)

    def compute(self) -> MetricResult:
        """Overall and per-group accuracy; notes say how many were unanswered and skipped."""
        scored = [(g, v) for g, v in self._rows.values() if v is not None]
        if not scored:
            return MetricResult(values={}, notes={self.name: "no answered samples"})
        values = {self.name: _percent([v for _, v in scored])}
        for group in sorted({g for g, _ in scored if g}):
            values[f"{self.name}/{group}"] = _percent([v for g, v in scored if g == group])
        notes = {}
        skipped = len(self._rows) - len(scored)
        if skipped:
            notes[self.name] = f"{skipped} unanswered sample(s) left out (as the reference aggregate does)"
        return MetricResult(values=values, notes=notes)


def _percent(values: list[float]) -> MetricValue:
    n = len(values)
    mean = 100 * math.fsum(values) / n
    if n < 2:
        return MetricValue(value=mean, n=n, unit="%")
    se = 100 * mean_stderr(values)
    low, high = normal_interval(mean, se)
    return MetricValue(value=mean, n=n, stderr=se, ci_low=low, ci_high=high, ci_method="normal", unit="%")
