"""MME scores (BENCHMARK-RULES.md §4): per subtask acc + acc+, perception and cognition totals.

Answer parsing (the suite records which):

* ``official`` (default): MME's ``eval_tool/calculation.py``: the output is lower-cased; exactly
  ``yes``/``no`` is that answer; else ``yes`` within the first 4 characters gives yes, else ``no``
  within them gives no, else ``other`` (wrong, and counted as ``unparsed``).
* ``lmms_eval``: lmms-eval ``tasks/mme/utils.py::parse_pred_ans``: lower-cased, stripped and
  ``.`` removed first; a single ``y``/``n`` is yes/no; then the same prefix rule.

Per subtask: ``acc`` = 100 x share of questions right; ``acc_plus`` = 100 x share of images with
both questions right; score = acc + acc_plus (max 200). ``perception`` sums the 10 perception
subtasks present (max 2000), ``cognition`` the 4 cognition ones (max 800). Images are grouped by
``meta["image_key"]`` (lmms-eval's ``question_id``, the image path), which must hold 2 questions.
"""

from __future__ import annotations

from collections import defaultdict

from mllmbench.suites.base import Metric, MetricResult, MetricValue, Sample
from mllmbench.suites.metrics.circular import count_value

PERCEPTION = (
    "existence",
    "count",
    "position",
    "color",
    "posters",
    "celebrity",
    "scene",
    "landmark",
    "artwork",
    "OCR",
)
COGNITION = ("commonsense_reasoning", "numerical_calculation", "text_translation", "code_reasoning")
RULES = ("official", "lmms_eval")


def _prefix_rule(pred: str) -> str:
    if pred in ("yes", "no"):
        return pred
    head = pred[:4]
    return "yes" if "yes" in head else "no" if "no" in head else "other"


def parse_official(output: str) -> str:
    """MME ``calculation.py``: ``yes``, ``no`` or ``other``."""
    return _prefix_rule(output.lower())


def parse_lmms_eval(output: str) -> str:
    """lmms-eval ``parse_pred_ans``: ``yes``, ``no`` or ``other``."""
    pred = output.lower().strip().replace(".", "")
    if len(pred) == 1:
        return {"y": "yes", "n": "no"}.get(pred, "other")
    return _prefix_rule(pred)


class MMEScore(Metric):
    """Streaming MME scoring."""

    name = "mme"
    version = "1"

    def __init__(self, rule: str = "official") -> None:
        if rule not in RULES:
            raise ValueError(f"unknown MME answer rule {rule!r}; known: {', '.join(RULES)}")
        self.rule = rule
        self._records: dict[str, tuple[str, str, bool, bool]] = {}

    def update(self, sample: Sample, answer: str) -> dict[str, float]:
        """Parse one answer; returns ``accuracy`` and ``unparsed`` (0/1)."""
        if sample.sample_id in self._records:
            raise ValueError(f"sample {sample.sample_id!r} was scored twice")
        gold = str(sample.references[0]).lower().strip().replace(".", "")
        pred = parse_official(answer) if self.rule == "official" else parse_lmms_eval(answer)
        meta = sample.meta or {}
        self._records[sample.sample_id] = (
            str(meta["category"]),
            str(meta["image_key"]),
            pred == gold,
            pred == "other",
        )
        return {"accuracy": float(pred == gold), "unparsed": float(pred == "other")}

    def merge(self, other: Metric) -> None:
        """Add another shard's records."""
        if not isinstance(other, MMEScore) or other.rule != self.rule:
            raise TypeError("can only merge an MMEScore with the same rule")
        overlap = self._records.keys() & other._records.keys()
        if overlap:
            raise ValueError(f"shards overlap, e.g. sample {sorted(overlap)[0]!r}")
        self._records.update(other._records)

    def compute(self) -> MetricResult:
        """Per-subtask acc, acc_plus, score; perception and cognition totals; unparsed."""
        if not self._records:
            return MetricResult(values={}, notes={self.name: "no samples were scored"})
        images: dict[str, dict[str, list[bool]]] = defaultdict(lambda: defaultdict(list))
        for cat, key, hit, _ in self._records.values():
            images[cat][key].append(hit)
        values: dict[str, MetricValue] = {}
        notes: dict[str, str] = {}
        totals = {"perception": 0.0, "cognition": 0.0}
        for cat in sorted(images):
            groups = images[cat]
            odd = [k for k, v in groups.items() if len(v) != 2]
            if odd:
                notes[f"score/{cat}"] = f"image {odd[0]!r} has {len(groups[odd[0]])} question(s), MME pairs 2"
            hits = [h for v in groups.values() for h in v]
            acc = 100 * sum(hits) / len(hits)
            acc_plus = 100 * sum(all(v) and len(v) == 2 for v in groups.values()) / len(groups)
            values[f"acc/{cat}"] = MetricValue(acc, len(hits), unit="%")
            values[f"acc_plus/{cat}"] = MetricValue(acc_plus, len(groups), unit="%")
            values[f"score/{cat}"] = MetricValue(acc + acc_plus, len(hits), unit="points")
            if cat in PERCEPTION:
                totals["perception"] += acc + acc_plus
            elif cat in COGNITION:
                totals["cognition"] += acc + acc_plus
        n = len(self._records)
        for which, cats in (("perception", PERCEPTION), ("cognition", COGNITION)):
            present = [c for c in cats if c in images]
            if present:
                values[which] = MetricValue(totals[which], n, unit="points")
                if len(present) < len(cats):
                    notes[which] = f"sum over {len(present)} of the {len(cats)} subtasks"
        values["unparsed"] = count_value(sum(r[3] for r in self._records.values()), n)
        return MetricResult(values=values, notes=notes)
