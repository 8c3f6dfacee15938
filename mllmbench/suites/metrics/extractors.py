"""Build a feature extractor from its spec: ``inception``, ``clip:PATH`` or ``dinov2:PATH``.

Sits above `image_features` (the interface, CLIP and DINOv2) and `inception_features`, so
neither of those imports the other's dependants: the import graph has no cycle.
"""

from __future__ import annotations

from pathlib import Path

from mllmbench.core.errors import ConfigError
from mllmbench.suites.metrics.image_features import (
    ClipImageExtractor,
    DinoResize,
    Dinov2Extractor,
    FeatureExtractor,
    ResizeMode,
)
from mllmbench.suites.metrics.inception_features import InceptionExtractor


def load_extractor(
    spec: str,
    *,
    mode: ResizeMode | str | None = None,
    inception_weights: str | Path | None = None,
    device: str | None = None,
    batch_size: int = 64,
) -> FeatureExtractor:
    """Build an extractor from ``inception``, ``clip:PATH`` or ``dinov2:PATH``.

    `mode` is the clean-fid mode for Inception (default ``clean``); for DINOv2 ``clean`` selects
    dgm-eval's clean resize (default: its torchvision resize); CLIP has one preprocessing.
    """
    kind, _, path = spec.partition(":")
    if kind == "inception" and not path:
        return InceptionExtractor(
            ResizeMode(mode or ResizeMode.CLEAN), inception_weights, device=device, batch_size=batch_size
        )
    if kind in ("clip", "dinov2") and path:
        if kind == "clip":
            if mode not in (None, ResizeMode.CLEAN.value):
                raise ConfigError(f"mode {mode} applies to the Inception extractor only, not to clip")
            return ClipImageExtractor(path, device=device, batch_size=batch_size)
        if mode not in (None, ResizeMode.CLEAN.value):
            raise ConfigError(
                f"mode {mode} applies to the Inception extractor only; dinov2 accepts only 'clean'"
            )
        resize = DinoResize.CLEAN if mode == ResizeMode.CLEAN.value else DinoResize.TORCHVISION
        return Dinov2Extractor(path, resize, device=device, batch_size=batch_size)
    raise ConfigError(f"unknown extractor {spec!r}: use inception, clip:PATH or dinov2:PATH")
