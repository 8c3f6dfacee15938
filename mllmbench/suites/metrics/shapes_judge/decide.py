"""Judging images against GenEval-style metadata with the Shapes judge.

Each cell's most likely non-empty shape becomes a detection with that shape's probability as its
confidence, the cell's colour and its predicted box (scaled to the image's own size). Detections
are kept and judged by GenEval's rules (`mllmbench.suites.metrics.geneval_rules`): confidence above
0.3 (0.9 for counting), colours from the judge's colour head, positions from its boxes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mllmbench.suites.metrics import geneval_rules
from mllmbench.suites.metrics.geneval_rules import Detection


@dataclass(frozen=True)
class Judgement:
    """One image judged against one prompt's metadata."""

    correct: bool
    reason: str
    detections: dict[str, list[Detection]]
    """Kept detections per class."""


class ShapesJudge:
    """The loaded judge (fp32 on CPU, one batch at a time)."""

    def __init__(self, path: str | Path | None = None, *, batch_size: int = 64) -> None:
        import torch

        from mllmbench.core.errors import MissingResourceError
        from mllmbench.suites.metrics.shapes_judge import CHECKPOINT_DIR
        from mllmbench.suites.metrics.shapes_judge.model import ShapesJudgeModel

        self.path = Path(path) if path is not None else CHECKPOINT_DIR
        if not (self.path / "model.safetensors").is_file():
            raise MissingResourceError(
                f"Shapes judge checkpoint not found: {self.path / 'model.safetensors'}"
            )
        self.model = ShapesJudgeModel.from_pretrained(self.path, dtype=torch.float32).eval()
        self.config = self.model.config
        self.batch_size = batch_size

    def predict(
        self, images: Sequence[Any]
    ) -> tuple[list[list[tuple[str, float, str, tuple[float, ...]]]], Any]:
        """Per image its cells as (shape or ``empty``, confidence, colour, box in pixels), and the features."""
        import numpy as np
        import torch

        from mllmbench.suites.metrics.shapes_judge.model import preprocess

        cells_out: list[list[tuple[str, float, str, tuple[float, ...]]]] = []
        features = []
        labels = self.config.shape_labels
        for start in range(0, len(images), self.batch_size):
            chunk = images[start : start + self.batch_size]
            sizes = [
                (im.size if hasattr(im, "size") and not hasattr(im, "shape") else (im.shape[1], im.shape[0]))
                for im in chunk
            ]
            with torch.no_grad():
                out = self.model(preprocess(list(chunk), self.config.input_size))
            probs = out.shape_logits.softmax(-1)
            best = probs[..., 1:].argmax(-1) + 1
            colors = out.color_logits.argmax(-1)
            for b, (w, h) in enumerate(sizes):
                row: list[tuple[str, float, str, tuple[float, ...]]] = []
                for c in range(probs.shape[1]):
                    cx, cy, hw, hh = out.boxes[b, c].tolist()
                    box: tuple[float, ...] = ((cx - hw) * w, (cy - hh) * h, (cx + hw) * w, (cy + hh) * h)
                    k = int(best[b, c])
                    row.append((labels[k], float(probs[b, c, k]), self.config.colors[int(colors[b, c])], box))
                cells_out.append(row)
            features.append(out.features.numpy().astype(np.float64))
        return cells_out, (
            np.concatenate(features) if features else np.zeros((0, 2 * self.config.channels[-1]))
        )

    def features(self, images: Sequence[Any]) -> Any:
        """N x D features (mean and max of the cell features) for a Fréchet distance."""
        return self.predict(images)[1]


def candidates(cells: Sequence[tuple[str, float, str, tuple[float, ...]]]) -> dict[str, list[Detection]]:
    """The cells' detections per shape class, before thresholds."""
    out: dict[str, list[Detection]] = {}
    for shape, score, color, box in cells:
        x1, y1, x2, y2 = box
        out.setdefault(shape, []).append(Detection(box=(x1, y1, x2, y2), score=score, color=color))
    return out


def judge_cells(
    cells: Sequence[tuple[str, float, str, tuple[float, ...]]], metadata: Mapping[str, Any]
) -> Judgement:
    """GenEval's decision for one image's judge output against `metadata`."""
    kept = geneval_rules.select_detections(candidates(cells), geneval_rules.confidence_threshold(metadata))
    correct, reason = geneval_rules.evaluate(kept, metadata, geneval_rules.judge_colors)
    return Judgement(correct=correct, reason=reason, detections=kept)
