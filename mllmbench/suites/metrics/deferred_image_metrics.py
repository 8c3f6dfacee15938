"""FID and CLIP score for a text-to-image suite whose models load only when scores are due.

A generation run calls ``update(sample, answer)`` with `answer` the path of the generated
image; these metrics only remember it. `compute` then builds the feature extractor (the
Inception weights, a CLIP checkpoint), the reference statistics, and delegates to
`fid.FIDMetric` and `clip_score.CLIPScoreMetric`. A missing weight file or a bad image does not
sink a finished run: the metric is reported unavailable in ``notes`` with the reason, and the
generated images stay on disk for ``mllm-bench score fid``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mllmbench.core.errors import MllmBenchError
from mllmbench.suites.base import Metric, MetricResult, Sample

if TYPE_CHECKING:
    import numpy as np

    from mllmbench.suites.metrics.frechet import FeatureStats
    from mllmbench.suites.metrics.image_features import FeatureExtractor

log = logging.getLogger(__name__)

CLIP_MODEL_ENV = "MLLMBENCH_CLIP_MODEL"
"""A local transformers CLIP directory for the CLIP score."""


def default_inception() -> FeatureExtractor:
    """clean-fid's Inception-v3 in ``clean`` mode (weights found locally or an error saying where)."""
    from mllmbench.suites.metrics.image_features import ResizeMode
    from mllmbench.suites.metrics.inception_features import InceptionExtractor

    return InceptionExtractor(ResizeMode.CLEAN)


def center_crop_resize(path: str | Path, size: int) -> np.ndarray:
    """An image file, centre-cropped to a square and resized to `size` (PIL bicubic), uint8 HWC."""
    import numpy as np
    from PIL import Image

    from mllmbench.core.images import open_rgb

    img = open_rgb(path)
    w, h = img.size
    side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    img = img.crop((left, top, left + side, top + side)).resize((size, size), Image.Resampling.BICUBIC)
    return np.asarray(img)


class _GeneratedImages(Metric):
    """Remembers sample id -> (generated image path, prompt)."""

    def __init__(self) -> None:
        self._items: dict[str, tuple[str, str]] = {}

    def update(self, sample: Sample, answer: str) -> dict[str, float]:
        """Remember the generated image file; nothing is scored yet."""
        if sample.sample_id in self._items:
            raise ValueError(f"sample {sample.sample_id!r} was scored twice")
        self._items[sample.sample_id] = (answer, sample.text)
        return {}

    def merge(self, other: Metric) -> None:
        """Take another shard's images (disjoint sample ids)."""
        if type(other) is not type(self):
            raise TypeError(f"cannot merge {type(other).__name__} into {type(self).__name__}")
        assert isinstance(other, _GeneratedImages)
        overlap = self._items.keys() & other._items.keys()
        if overlap:
            raise ValueError(f"shards overlap, e.g. sample {sorted(overlap)[0]!r}")
        self._items.update(other._items)

    def _unavailable(self, exc: MllmBenchError) -> MetricResult:
        log.error("%s unavailable: %s", self.name, exc)
        return MetricResult(values={}, notes={self.name: f"unavailable: {exc}"})


class DeferredFID(_GeneratedImages):
    """FID of the generated images against reference statistics made with the same extractor.

    `reference` maps the extractor to the real-image statistics (cached by the suite);
    generated images are centre-cropped and resized to `resolution` first, like the real ones.
    """

    name = "fid"
    version = "1"

    def __init__(
        self,
        reference: Callable[[FeatureExtractor], FeatureStats],
        *,
        resolution: int,
        extractor: Callable[[], FeatureExtractor] = default_inception,
        batch_size: int = 64,
    ) -> None:
        super().__init__()
        self.reference = reference
        self.resolution = resolution
        self.extractor = extractor
        self.batch_size = batch_size

    def compute(self) -> MetricResult:
        """``{"fid": value}``, or a note saying why it could not be computed."""
        from mllmbench.suites.metrics.fid import FIDMetric

        if not self._items:
            return MetricResult(values={}, notes={self.name: "no images were generated"})
        try:
            extractor = self.extractor()
            metric = FIDMetric(extractor, self.reference(extractor), batch_size=self.batch_size)
            paths = [path for path, _ in self._items.values()]
            for start in range(0, len(paths), self.batch_size):
                chunk = paths[start : start + self.batch_size]
                metric.update_images([center_crop_resize(p, self.resolution) for p in chunk])
            result = metric.compute()
        except MllmBenchError as exc:
            return self._unavailable(exc)
        return result


class DeferredCLIPScore(_GeneratedImages):
    """CLIP score (torchmetrics convention) of each generated image with its prompt.

    The CLIP checkpoint is `model_path`, else ``$MLLMBENCH_CLIP_MODEL``; without one the score
    is reported unavailable.
    """

    name = "clip_score"
    version = "1"

    def __init__(self, model_path: str | Path | None = None, *, batch_size: int = 32) -> None:
        super().__init__()
        self.model_path = model_path
        self.batch_size = batch_size

    def resolve_model(self) -> Path | None:
        """The CLIP directory to use, or None when none is configured."""
        if self.model_path is not None:
            return Path(self.model_path)
        env = os.environ.get(CLIP_MODEL_ENV)
        return Path(env).expanduser() if env else None

    def compute(self) -> MetricResult:
        """The CLIP score with per-sample values, or a note saying why it is missing."""
        from mllmbench.suites.metrics.clip_score import CLIPScoreMetric, ClipScorer

        if not self._items:
            return MetricResult(values={}, notes={self.name: "no images were generated"})
        path = self.resolve_model()
        if path is None:
            return MetricResult(
                values={},
                notes={
                    self.name: f"unavailable: no CLIP checkpoint (set {CLIP_MODEL_ENV} to a local CLIPModel folder)"
                },
            )
        try:
            metric = CLIPScoreMetric(ClipScorer(path, batch_size=self.batch_size))
            for sample_id, (image, text) in self._items.items():
                metric.update(Sample(sample_id=sample_id, image_paths=(), text=text), image)
            result = metric.compute()
        except MllmBenchError as exc:
            return self._unavailable(exc)
        return result

    def describe(self) -> dict[str, Any]:
        """Where the checkpoint comes from."""
        path = self.resolve_model()
        return {"model": str(path) if path else None, "env": CLIP_MODEL_ENV}
