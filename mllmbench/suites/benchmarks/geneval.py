"""GenEval (djghosh13/geneval) from a local copy of its prompts.

``--data DIR`` holds ``evaluation_metadata.jsonl`` (or ``prompts/evaluation_metadata.jsonl``, as in
the repository): 553 prompts, one JSON object a line (``tag``, ``include``, ``exclude``,
``prompt``). Each prompt becomes `IMAGES_PER_PROMPT` samples (GenEval's default 4), sample id
``<index, 5 digits>_<n>``, each drawn with its own derived seed. At scoring the images are copied
into GenEval's layout next to them (``images/geneval/layout/<index>/metadata.jsonl`` and
``samples/<n>.png``, so GenEval's own scripts can read them) and scored from that layout like
evaluate_images.py + summary_scores.py (`mllmbench.suites.metrics.geneval_score`): Mask2Former
from ``$MLLMBENCH_GENEVAL_DETECTOR`` and CLIP from ``$MLLMBENCH_GENEVAL_CLIP`` (local transformers
directories). Without them the layout is still written and the scores are reported unavailable.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from mllmbench.core.errors import InputError, MllmBenchError
from mllmbench.core.types import Capability
from mllmbench.suites.base import Metric, MetricResult, MetricValue, Sample, Suite

IMAGES_PER_PROMPT = 4
METADATA_FILES = ("evaluation_metadata.jsonl", "prompts/evaluation_metadata.jsonl")
DETECTOR_ENV = "MLLMBENCH_GENEVAL_DETECTOR"
CLIP_ENV = "MLLMBENCH_GENEVAL_CLIP"


class GenEvalMetric(Metric):
    """Writes GenEval's layout and scores it: ``geneval`` (overall, %), ``geneval/<tag>``, per-image decisions."""

    name = "geneval"
    version = "1"

    def __init__(self, detector: str | None, clip: str | None) -> None:
        self._items: dict[str, tuple[int, int, str, Any]] = {}
        self.detector, self.clip = detector, clip

    def update(self, sample: Sample, answer: str) -> dict[str, float]:
        """Remember the generated image file with its prompt index and metadata."""
        self._items[sample.sample_id] = (
            sample.meta["index"],
            sample.meta["n"],
            answer,
            sample.meta["geneval"],
        )
        return {}

    def merge(self, other: Metric) -> None:
        """Take another shard's images."""
        if not isinstance(other, GenEvalMetric):
            raise TypeError(f"cannot merge {type(other).__name__} into GenEvalMetric")
        self._items.update(other._items)

    def write_layout(self) -> tuple[Path, dict[str, str]]:
        """Copy the images into GenEval's layout; (layout root, layout image id -> sample id)."""
        from mllmbench.suites.metrics.geneval_score import folder_name, write_layout

        root = Path(next(iter(self._items.values()))[2]).parent / "layout"
        by_prompt: dict[int, list[tuple[int, str, str, Any]]] = {}
        for sid, (index, n, path, meta) in self._items.items():
            by_prompt.setdefault(index, []).append((n, sid, path, meta))
        ids = {}
        for index, rows in sorted(by_prompt.items()):
            present = sorted(r for r in rows if Path(r[2]).is_file())
            write_layout(root, index, rows[0][3], [r[2] for r in present])
            ids.update({f"{folder_name(index)}/samples/{k:05}.png": r[1] for k, r in enumerate(present)})
        return root, ids

    def compute(self) -> MetricResult:
        """The layout is written; scores when a detector and CLIP are configured."""
        from mllmbench.suites.metrics.geneval_detect import ClipColorClassifier, Mask2FormerDetector
        from mllmbench.suites.metrics.geneval_score import layout_items, score_layout
        from mllmbench.suites.metrics.shapes_eval import summary_dict

        if not self._items:
            return MetricResult(values={}, notes={self.name: "no images were generated"})
        root, ids = self.write_layout()
        if not self.detector or not self.clip:
            why = f"unavailable: set {DETECTOR_ENV} and {CLIP_ENV} (local Mask2Former and CLIP); layout in {root}"
            return MetricResult(values={}, notes={self.name: why})
        prompts = {index: meta for index, _, _, meta in self._items.values()}
        dense = [prompts.get(i, {}) for i in range(max(prompts) + 1)]
        try:
            items, missing = layout_items(root, dense)
            items = [i for i in items if i.item_id in ids]
            scored, _ = score_layout(
                items, Mask2FormerDetector(self.detector), ClipColorClassifier(self.clip)
            )
        except MllmBenchError as exc:
            return MetricResult(values={}, notes={self.name: f"unavailable: {exc}"})
        failed = {ids.get(k, k): v for k, v in scored.failed.items()}
        failed.update(
            {sid: "image missing" for sid, (_, _, p, _) in self._items.items() if not Path(p).is_file()}
        )
        summary = summary_dict(scored, {i.item_id: json.dumps(i.metadata) for i in items})
        per_sample = {ids[k]: {"geneval_correct": float(d["correct"])} for k, d in scored.decisions.items()}
        per_sample.update({sid: {"geneval_failed": 1.0} for sid in failed})
        notes = {f"{self.name}[{k}]": f"failed: {v}" for k, v in failed.items()}
        if summary["overall"] is None:
            return MetricResult(
                values={}, per_sample=per_sample, notes={self.name: "no image could be judged", **notes}
            )
        ctx = {"failed": len(failed), "layout": str(root), "detector": self.detector, "clip": self.clip}
        values = {
            self.name: MetricValue(value=summary["overall"], n=summary["images"], unit="%", context=ctx)
        }
        for tag, v in summary["tasks"].items():
            values[f"{self.name}/{tag}"] = MetricValue(value=v, n=summary["counts"][tag][1], unit="%")
        values["geneval_correct_prompts"] = MetricValue(
            value=summary["correct_prompts"], n=len(prompts), unit="%"
        )
        return MetricResult(values=values, per_sample=per_sample, notes=notes)


class GenEvalSuite(Suite):
    """GenEval's 553 prompts from a local evaluation_metadata.jsonl (see the module docstring)."""

    name = "geneval"
    version = "1"
    requires = Capability.GENERATE
    description = "GenEval (local evaluation_metadata.jsonl): object, count, colour, position checks by Mask2Former + CLIP"
    metric_names = ("geneval", "geneval/<tag>", "geneval_correct_prompts")
    expected_files = ("evaluation_metadata.jsonl",)

    def metadata_file(self) -> Path:
        """The first of `METADATA_FILES` under the data directory."""
        for rel in METADATA_FILES:
            if (self.data_dir / rel).is_file():
                return self.data_dir / rel
        raise InputError(
            f"{self.data_dir}: no {' or '.join(METADATA_FILES)} (a local copy of GenEval's prompts)"
        )

    def load_samples(self, limit: int | None = None) -> list[Sample]:
        """`IMAGES_PER_PROMPT` samples per prompt; metadata problems are scored as failures, not raised."""
        from mllmbench.suites.metrics.geneval_score import folder_name, read_metadata_file

        path = self.metadata_file()
        samples = []
        for index, meta in enumerate(read_metadata_file(path)):
            prompt = meta.get("prompt") if isinstance(meta, dict) else None
            if not isinstance(prompt, str) or not prompt:
                raise InputError(f"{path}: line {index + 1} has no 'prompt'")
            for n in range(IMAGES_PER_PROMPT):
                meta_out = {"index": index, "n": n, "geneval": meta}
                samples.append(
                    Sample(sample_id=f"{folder_name(index)}_{n}", image_paths=(), text=prompt, meta=meta_out)
                )
        return samples[:limit] if limit is not None else samples

    def metrics(self) -> list[Metric]:
        """The GenEval metric with the configured detector and CLIP."""
        return [GenEvalMetric(os.environ.get(DETECTOR_ENV), os.environ.get(CLIP_ENV))]

    def dataset_fingerprint(self) -> str:
        """Hash of the metadata file."""
        from mllmbench.suites.fingerprint import files_fingerprint

        return files_fingerprint([self.metadata_file()])

    def scoring_info(self) -> dict[str, Any]:
        """Recorded in run.json."""
        return {
            "images_per_prompt": IMAGES_PER_PROMPT,
            "detector": os.environ.get(DETECTOR_ENV),
            "clip": os.environ.get(CLIP_ENV),
            "thresholds": {"default": 0.3, "counting": 0.9, "max_objects": 16, "position_dead_zone": 0.1},
            "overall": "unweighted mean of the task scores (summary_scores.py)",
        }
