"""Streaming FID and KID metrics for a text-to-image suite (the functional core is `frechet`).

Both compare the images a model generates against fixed reference statistics of real images
(computed once with the same extractor, e.g. through `reference_stats.cached_reference_stats`).

API for the suite: build the metric with an extractor and the reference, then either

* ``update(sample, answer)`` with `answer` the path of the generated image file (queued and
  extracted in batches of ``batch_size``), or
* ``update_images(images)`` with in-memory images (uint8 NHWC or PIL), or
* ``update_features(feats)`` with features already extracted by the same extractor.

``merge`` folds another shard in (sufficient statistics add; KID features concatenate, this
shard first), and ``compute`` returns ``{"fid": ...}`` or ``{"kid": ...}``. The generated set
comes first in every distance, as in clean-fid's ``fid_folder`` / ``kid_folder``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from mllmbench.core.errors import InputError
from mllmbench.suites.base import Metric, MetricResult, MetricValue, Sample
from mllmbench.suites.metrics.frechet import FeatureStats, fd_from_stats, kernel_distance
from mllmbench.suites.metrics.image_features import ExtractorInfo, FeatureExtractor


class _GeneratedFeatureMetric(Metric):
    """Shared plumbing: a queue of generated image files and the generated-feature statistics."""

    keep_features: ClassVar[bool] = False

    def __init__(
        self, extractor: FeatureExtractor | ExtractorInfo, reference: FeatureStats, batch_size: int
    ) -> None:
        self.extractor = extractor if isinstance(extractor, FeatureExtractor) else None
        self.info = extractor.info if isinstance(extractor, FeatureExtractor) else extractor
        if reference.dim != self.info.dim:
            raise InputError(
                f"reference features have dimension {reference.dim}, the extractor gives {self.info.dim}"
            )
        self.reference = reference
        self.batch_size = batch_size
        self.generated = FeatureStats(self.info.dim, keep_features=self.keep_features)
        self._pending: list[str] = []

    def update(self, sample: Sample, answer: str) -> dict[str, float]:
        """Queue the generated image file `answer`; distribution metrics have no per-sample value."""
        del sample
        self._pending.append(answer)
        if len(self._pending) >= self.batch_size:
            self.flush()
        return {}

    def update_images(self, images: np.ndarray | Sequence[Any]) -> None:
        """Extract and add in-memory generated images."""
        if self.extractor is None:
            raise InputError(f"{self.name}: built from features only (no extractor); use update_features")
        self.generated.update(self.extractor(images))

    def update_features(self, feats: np.ndarray) -> None:
        """Add generated-image features made by the same extractor."""
        self.generated.update(feats)

    def flush(self) -> None:
        """Extract the queued image files."""
        if not self._pending:
            return
        from mllmbench.core.images import open_rgb

        paths, self._pending = self._pending, []
        self.update_images([np.array(open_rgb(p)) for p in paths])

    def merge(self, other: Metric) -> None:
        """Fold in another shard built with the same extractor and reference."""
        if type(other) is not type(self):
            raise InputError(f"cannot merge {type(other).__name__} into {type(self).__name__}")
        assert isinstance(other, _GeneratedFeatureMetric)
        if other.info != self.info:
            raise InputError(f"{self.name}: cannot merge shards made with different extractors")
        self.flush()
        other.flush()
        self.generated.merge(other.generated)

    def describe(self) -> dict[str, Any]:
        """Provenance to record next to the value: extractor, preprocessing, sample counts."""
        return {
            "extractor": self.info.to_dict(),
            "n_generated": self.generated.n,
            "n_reference": self.reference.n,
        }


class FIDMetric(_GeneratedFeatureMetric):
    """Fréchet distance between generated and reference features (pytorch-fid sqrtm form)."""

    name = "fid"
    version = "1"

    def __init__(
        self,
        extractor: FeatureExtractor | ExtractorInfo,
        reference: FeatureStats,
        *,
        batch_size: int = 64,
        check_imaginary: bool = True,
    ) -> None:
        super().__init__(extractor, reference, batch_size)
        self.check_imaginary = check_imaginary

    def compute(self) -> MetricResult:
        """``{"fid": value}``; fewer than 2 generated images is reported in ``notes``."""
        self.flush()
        if self.generated.n < 2:
            return MetricResult(
                values={}, notes={self.name: f"needs at least 2 images, got {self.generated.n}"}
            )
        value = fd_from_stats(self.generated, self.reference, check_imaginary=self.check_imaginary)
        return MetricResult(
            values={
                self.name: MetricValue(
                    value=value, n=self.generated.n, higher_is_better=False, context=self.describe()
                )
            }
        )


class KIDMetric(_GeneratedFeatureMetric):
    """clean-fid KID between generated and reference features, with a fixed subset seed."""

    name = "kid"
    version = "1"
    keep_features = True

    def __init__(
        self,
        extractor: FeatureExtractor | ExtractorInfo,
        reference: FeatureStats,
        *,
        batch_size: int = 64,
        num_subsets: int = 100,
        max_subset_size: int = 1000,
        seed: int = 0,
    ) -> None:
        if not reference.keep_features:
            raise InputError("KID needs the reference features themselves (FeatureStats(keep_features=True))")
        super().__init__(extractor, reference, batch_size)
        self.num_subsets = num_subsets
        self.max_subset_size = max_subset_size
        self.seed = seed

    def compute(self) -> MetricResult:
        """``{"kid": value}`` (not scaled by 1e3)."""
        self.flush()
        if min(self.generated.n, self.reference.n) < 2:
            return MetricResult(
                values={}, notes={self.name: f"needs at least 2 images, got {self.generated.n}"}
            )
        value = kernel_distance(
            self.generated.features(),
            self.reference.features(),
            self.num_subsets,
            self.max_subset_size,
            self.seed,
        )
        return MetricResult(
            values={
                self.name: MetricValue(
                    value=value, n=self.generated.n, higher_is_better=False, context=self.describe()
                )
            }
        )

    def describe(self) -> dict[str, Any]:
        """Provenance plus the subset settings."""
        return {
            **super().describe(),
            "num_subsets": self.num_subsets,
            "max_subset_size": self.max_subset_size,
            "seed": self.seed,
        }
