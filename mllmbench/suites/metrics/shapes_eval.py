"""``shapes_eval``: generated Shapes images judged against their prompts' metadata, GenEval's way.

`score_items` opens each image, runs the Shapes judge (`shapes_judge.decide`) and applies GenEval's
rules to the prompt's metadata; `summarize` then gives per tag the share of correct images and
``overall``, the unweighted mean of the tag scores, both in percent. An image that is missing or
unreadable, or a prompt whose metadata has no valid tag, is a failed item: named in the notes
and in ``failed``, never scored, the rest scored.

`ShapesEvalMetric` is the t2i suite's metric: ``shapes_eval``, ``shapes_eval/<tag>``,
``fd_shapes_judge`` and ``kid_shapes_judge`` (Fréchet distance and KID of the judge's features of
the generated images against the reference images: the offline stand-ins for FID/KID when no
Inception weights are at hand), and per sample ``shapes_eval_correct`` (1/0) or ``shapes_eval_failed``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mllmbench.core.errors import InputError, MllmBenchError
from mllmbench.suites.base import Metric, MetricResult, MetricValue, Sample
from mllmbench.suites.metrics import geneval_rules

log = logging.getLogger(__name__)

METADATA_KEY = "geneval"
"""Where a sample's metadata sits in `Sample.meta`."""
METADATA_FIELDS = ("tag", "include", "exclude")
KID_SEED = 0
"""Subset draws of ``kid_shapes_judge`` (clean-fid's KID computation, `frechet.kernel_distance`)."""


@dataclass(frozen=True)
class Item:
    """One image to judge: its id, file and its prompt's metadata (as read, unchecked)."""

    item_id: str
    path: str
    metadata: Any


@dataclass
class Scored:
    """Per-item decisions and failures of one scoring pass."""

    decisions: dict[str, dict[str, Any]] = field(default_factory=dict)
    """item id -> {"tag", "correct", "reason"}."""
    failed: dict[str, str] = field(default_factory=dict)
    """item id -> why it was not scored."""
    features: Any = None
    """N x D judge features of the scored images."""


def score_items(items: Sequence[Item], judge: Any, *, batch_size: int = 64) -> Scored:
    """Judge every item; failed items are logged and kept in ``failed``."""
    import numpy as np

    from mllmbench.core.images import open_rgb
    from mllmbench.suites.metrics.shapes_judge.decide import judge_cells

    out = Scored()
    feats = []
    for start in range(0, len(items), batch_size):
        ready, images = [], []
        for item in items[start : start + batch_size]:
            try:
                geneval_rules.check_metadata(item.metadata, f"prompt of {item.item_id}")
                images.append(open_rgb(item.path))
                ready.append(item)
            except InputError as exc:
                log.error("shapes_eval: %s: %s", item.item_id, exc)
                out.failed[item.item_id] = str(exc)
        if not ready:
            continue
        cells, f = judge.predict(images)
        feats.append(f)
        for item, c in zip(ready, cells, strict=True):
            j = judge_cells(c, item.metadata)
            out.decisions[item.item_id] = {
                "tag": item.metadata["tag"],
                "correct": j.correct,
                "reason": j.reason,
            }
    out.features = np.concatenate(feats) if feats else None
    return out


def summary_dict(scored: Scored, keys: Mapping[str, str] | None = None) -> dict[str, Any]:
    """``{"overall", "tasks", "counts", "correct_images", "correct_prompts", "images", "failed"}``, percent."""
    keys = keys or {}
    rows = [(d["tag"], keys.get(i, i), bool(d["correct"])) for i, d in scored.decisions.items()]
    base: dict[str, Any] = {"failed": dict(scored.failed), "images": len(rows)}
    if not rows:
        return {**base, "overall": None, "tasks": {}, "counts": {}}
    s = geneval_rules.summarize(rows)
    return {
        **base,
        "overall": 100 * s.overall,
        "tasks": {tag: 100 * v for tag, v in s.tasks.items()},
        "counts": {tag: list(c) for tag, c in s.task_counts.items()},
        "correct_images": 100 * s.correct_images,
        "correct_prompts": 100 * s.correct_prompts,
    }


def prompt_metadata(prompts: str | Path) -> dict[Any, dict[str, Any]]:
    """image id -> the GenEval-style fields (tag, include, exclude) of its first annotation."""
    from mllmbench.core.jsonio import read_json

    doc = read_json(prompts, what="prompts file")
    annotations = doc.get("annotations") if isinstance(doc, dict) else None
    if not isinstance(annotations, list):
        raise InputError(f"{prompts}: need a COCO-captions-style object with an 'annotations' list")
    meta: dict[Any, dict[str, Any]] = {}
    for ann in annotations:
        if isinstance(ann, dict) and ann.get("image_id") not in meta:
            meta[ann.get("image_id")] = {k: ann[k] for k in METADATA_FIELDS if k in ann}
    return meta


class ShapesEvalMetric(Metric):
    """The t2i suite's judge-based scores (see the module docstring)."""

    name = "shapes_eval"
    version = "1"

    def __init__(
        self, reference_paths: Callable[[], list[Path]] | None = None, judge_path: str | None = None
    ) -> None:
        self._items: dict[str, Item] = {}
        self.reference_paths = reference_paths
        self.judge_path = judge_path

    def update(self, sample: Sample, answer: str) -> dict[str, float]:
        """Remember the generated image file and the sample's metadata."""
        self._items[sample.sample_id] = Item(sample.sample_id, answer, sample.meta.get(METADATA_KEY) or {})
        return {}

    def merge(self, other: Metric) -> None:
        """Take another shard's images."""
        if not isinstance(other, ShapesEvalMetric):
            raise TypeError(f"cannot merge {type(other).__name__} into ShapesEvalMetric")
        self._items.update(other._items)

    def _distances(self, judge: Any, feats: Any) -> dict[str, MetricValue]:
        """``fd_shapes_judge`` and ``kid_shapes_judge`` of the generated images' judge features
        against the reference images' (none without references or with fewer than 2 images)."""
        from mllmbench.core.images import open_rgb
        from mllmbench.suites.metrics.frechet import fid_from_features, kernel_distance

        if self.reference_paths is None or feats is None or len(feats) < 2:
            return {}
        refs = self.reference_paths()
        ref_feats = judge.features([open_rgb(p) for p in refs])
        context = {"reference_images": len(refs)}
        fd = fid_from_features(feats, ref_feats, check_imaginary=False)
        kid = kernel_distance(feats, ref_feats, seed=KID_SEED)
        return {
            "fd_shapes_judge": MetricValue(value=fd, n=len(feats), higher_is_better=False, context=context),
            "kid_shapes_judge": MetricValue(
                value=kid, n=len(feats), higher_is_better=False, context={**context, "seed": KID_SEED}
            ),
        }

    def compute(self) -> MetricResult:
        """``shapes_eval`` (percent), ``shapes_eval/<tag>``, ``fd_shapes_judge``, per-sample decisions."""
        from mllmbench.suites.metrics.shapes_judge.decide import ShapesJudge

        if not self._items:
            return MetricResult(values={}, notes={self.name: "no images were generated"})
        try:
            judge = ShapesJudge(self.judge_path)
        except MllmBenchError as exc:
            return MetricResult(values={}, notes={self.name: f"unavailable: {exc}"})
        scored = score_items(list(self._items.values()), judge)
        per_sample: dict[str, dict[str, float]] = {
            i: {"shapes_eval_correct": float(d["correct"])} for i, d in scored.decisions.items()
        }
        per_sample.update({i: {"shapes_eval_failed": 1.0} for i in scored.failed})
        notes = {f"{self.name}[{i}]": f"failed: {why}" for i, why in scored.failed.items()}
        summary = summary_dict(scored)
        if summary["overall"] is None:
            return MetricResult(
                values={}, per_sample=per_sample, notes={self.name: "no image could be judged", **notes}
            )
        context = {"failed": len(scored.failed), "judge": str(judge.path), "rules": "GenEval (geneval_rules)"}
        values = {
            self.name: MetricValue(value=summary["overall"], n=summary["images"], unit="%", context=context)
        }
        for tag, v in summary["tasks"].items():
            values[f"{self.name}/{tag}"] = MetricValue(value=v, n=summary["counts"][tag][1], unit="%")
        values.update(self._distances(judge, scored.features))
        return MetricResult(values=values, per_sample=per_sample, notes=notes)
