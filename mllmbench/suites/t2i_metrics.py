"""What the text-to-image suite scores, and how a user chooses the extractors and the CLIP model.

Choices come from the run's settings (``--fid-extractor``, ``--fid-mode``, ``--clip-model``:
`RunConfig` fields, part of the run identity), else from the environment, read when the suite is
used (never at import); the resolved values are recorded in ``run.json`` (``config``,
``scoring`` and every value's ``context``):

* ``MLLMBENCH_FID_EXTRACTOR``: comma-separated feature extractors for the distribution metrics,
  default ``inception``. ``inception`` gives ``fid`` and ``kid`` exactly as clean-fid computes
  them (Inception-v3 TF 2015-12-05 weights, found by
  `inception_features.find_inception_weights`: ``$MLLMBENCH_INCEPTION_WEIGHTS``, the cache,
  clean-fid's ``/tmp`` download); ``clip:PATH`` gives ``fd_clip`` and ``kid_clip``;
  ``dinov2:PATH`` gives ``fd_dinov2`` and ``kid_dinov2`` (PATH: a local transformers model
  directory); ``none`` turns the distribution metrics off (the images stay on disk for
  ``mllm-bench score fid``).
* ``MLLMBENCH_FID_MODE``: clean-fid's preprocessing for ``inception``: ``clean`` (default),
  ``legacy_pytorch`` or ``legacy_tensorflow``.
* ``MLLMBENCH_CLIP_MODEL``: a local CLIP directory for the CLIP score, reported in both
  conventions: ``clip_score`` (torchmetrics: 100 x cos, clamp on the mean) and ``clipscore``
  (Hessel et al.: 2.5 x max(cos, 0), "A photo depicts " prefix). Unset: the CLIP score is
  reported unavailable in the run's notes (the same variable as the ``coco_t2i`` suite's).

`T2IMetricConfig.check` finds every configured file before the model is loaded, so a missing
Inception file or model directory stops the run with a `MissingResourceError` naming it.

Metrics remember each generated image path and do all the work in ``compute`` (extractors and
CLIP load once, when the run is scored): `FrechetKernelMetric` (FD + KID of one extractor, the
features extracted once), `PromptClipScores`, and `GenerationEfficiency` (images per second, NFE,
image tokens, stage times and peak memory from the logged records).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mllmbench.core.errors import ConfigError, MissingResourceError, MllmBenchError
from mllmbench.suites.base import Metric, MetricResult, MetricValue, Sample

if TYPE_CHECKING:
    from mllmbench.suites.metrics.frechet import FeatureStats
    from mllmbench.suites.metrics.image_features import FeatureExtractor

log = logging.getLogger(__name__)

FID_EXTRACTOR_ENV = "MLLMBENCH_FID_EXTRACTOR"
FID_MODE_ENV = "MLLMBENCH_FID_MODE"
CLIP_MODEL_ENV = "MLLMBENCH_CLIP_MODEL"
DEFAULT_EXTRACTORS = "inception"
KID_SUBSETS = 100
KID_SUBSET_SIZE = 1000
KID_SEED = 0
MIB = 2**20


@dataclass(frozen=True)
class ExtractorChoice:
    """One feature extractor of the distribution metrics."""

    kind: str
    """``inception``, ``clip`` or ``dinov2``."""
    path: str | None = None
    """The local model directory (clip, dinov2)."""

    @property
    def spec(self) -> str:
        """The `extractors.load_extractor` spec."""
        return self.kind if self.path is None else f"{self.kind}:{self.path}"

    @property
    def fd_name(self) -> str:
        """``fid`` for Inception (FID proper), else ``fd_<kind>``."""
        return "fid" if self.kind == "inception" else f"fd_{self.kind}"

    @property
    def kid_name(self) -> str:
        """``kid`` for Inception, else ``kid_<kind>``."""
        return "kid" if self.kind == "inception" else f"kid_{self.kind}"


def parse_extractors(text: str) -> tuple[ExtractorChoice, ...]:
    """``inception,dinov2:/m/dino`` -> choices; ``none`` -> (); `ConfigError` on anything else."""
    items = [t.strip() for t in text.split(",") if t.strip()]
    if items == ["none"]:
        return ()
    out: list[ExtractorChoice] = []
    for item in items:
        kind, _, path = item.partition(":")
        if kind == "inception" and not path:
            out.append(ExtractorChoice("inception"))
        elif kind in ("clip", "dinov2") and path:
            out.append(ExtractorChoice(kind, str(Path(path).expanduser())))
        else:
            raise ConfigError(
                f"{FID_EXTRACTOR_ENV}={text!r}: {item!r} is not an extractor; use inception, clip:PATH, "
                f"dinov2:PATH (comma-separated) or none"
            )
    kinds = [c.kind for c in out]
    if len(set(kinds)) != len(kinds) or not out:
        raise ConfigError(f"{FID_EXTRACTOR_ENV}={text!r}: name each extractor kind once")
    return tuple(out)


@dataclass(frozen=True)
class T2IMetricConfig:
    """The extractors, Inception mode and CLIP model one run scores with."""

    extractors: tuple[ExtractorChoice, ...] = (ExtractorChoice("inception"),)
    mode: str = "clean"
    """clean-fid mode of the Inception extractor."""
    clip_model: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> T2IMetricConfig:
        """Read `FID_EXTRACTOR_ENV`, `FID_MODE_ENV` and `CLIP_MODEL_ENV` (see the module docstring)."""
        return cls.resolve(environ=environ)

    @classmethod
    def resolve(
        cls,
        *,
        extractor: str | None = None,
        mode: str | None = None,
        clip_model: str | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> T2IMetricConfig:
        """The run's choices (``--fid-extractor``, ``--fid-mode``, ``--clip-model``); each one left
        None comes from its environment variable, else the default."""
        from mllmbench.suites.metrics.image_features import ResizeMode

        env = os.environ if environ is None else environ
        mode = mode or env.get(FID_MODE_ENV) or ResizeMode.CLEAN.value
        if mode not in {m.value for m in ResizeMode}:
            raise ConfigError(f"{FID_MODE_ENV}={mode!r}: use one of {', '.join(m.value for m in ResizeMode)}")
        clip = clip_model or env.get(CLIP_MODEL_ENV)
        return cls(
            extractors=parse_extractors(extractor or env.get(FID_EXTRACTOR_ENV) or DEFAULT_EXTRACTORS),
            mode=mode,
            clip_model=str(Path(clip).expanduser()) if clip else None,
        )

    def settings(self) -> dict[str, str | None]:
        """The resolved choices as `RunConfig` fields (``fid_extractor``, ``fid_mode``, ``clip_model``)."""
        return {
            "fid_extractor": ",".join(c.spec for c in self.extractors) or "none",
            "fid_mode": self.mode,
            "clip_model": self.clip_model,
        }

    def check(self, suite: str) -> None:
        """Find every configured weight file now; `MissingResourceError` names what is missing."""
        from mllmbench.suites.metrics.image_features import ResizeMode, local_model_dir
        from mllmbench.suites.metrics.inception_features import find_inception_weights

        for choice in self.extractors:
            if choice.kind == "inception":
                try:
                    find_inception_weights(ResizeMode(self.mode))
                except MissingResourceError as exc:
                    raise MissingResourceError(
                        f"suite {suite!r} computes FID with clean-fid's Inception: {exc}. To score with "
                        f"another extractor set {FID_EXTRACTOR_ENV}=dinov2:PATH or clip:PATH (a local model "
                        f"directory), or {FID_EXTRACTOR_ENV}=none to only generate"
                    ) from None
            else:
                local_model_dir(str(choice.path), "CLIP" if choice.kind == "clip" else "DINOv2")
        if self.clip_model is not None:
            local_model_dir(self.clip_model, f"CLIP ({CLIP_MODEL_ENV})")

    def describe(self) -> dict[str, Any]:
        """What `scoring_info` records."""
        return {
            "fd_extractors": [c.spec for c in self.extractors],
            "fid_mode": self.mode,
            "clip_model": self.clip_model,
            "clip_score_conventions": ["clip_score: torchmetrics", "clipscore: Hessel et al. 2021"],
            "kid": {"num_subsets": KID_SUBSETS, "max_subset_size": KID_SUBSET_SIZE, "seed": KID_SEED},
            "choose_with": [FID_EXTRACTOR_ENV, FID_MODE_ENV, CLIP_MODEL_ENV],
        }


class _GeneratedImages(Metric):
    """Remembers sample id -> (generated image path, prompt); scores at `compute`."""

    def __init__(self) -> None:
        self._items: dict[str, tuple[str, str]] = {}

    def update(self, sample: Sample, answer: str) -> dict[str, float]:
        """Remember the generated image file `answer` (the sample's first image)."""
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


def _with_context(value: MetricValue, **extra: Any) -> MetricValue:
    return dataclasses.replace(value, context={**(value.context or {}), **extra})


class FrechetKernelMetric(_GeneratedImages):
    """Fréchet distance and KID of the generated images against the reference images, one extractor.

    The generated features are extracted once and fed to `fid.FIDMetric` and `fid.KIDMetric`;
    `reference` gives the reference statistics (with features) for an extractor.
    """

    version = "1"

    def __init__(
        self,
        choice: ExtractorChoice,
        mode: str,
        reference: Callable[[FeatureExtractor], FeatureStats],
        *,
        batch_size: int = 64,
    ) -> None:
        super().__init__()
        self.choice = choice
        self.mode = mode
        self.reference = reference
        self.batch_size = batch_size
        self.name = choice.fd_name  # type: ignore[misc]  # one instance per extractor

    def load_extractor(self) -> FeatureExtractor:
        """The configured extractor (clean-fid mode for Inception, default preprocessing otherwise)."""
        from mllmbench.suites.metrics.extractors import load_extractor

        mode = self.mode if self.choice.kind == "inception" else None
        return load_extractor(self.choice.spec, mode=mode, batch_size=self.batch_size)

    def compute(self) -> MetricResult:
        """``{fd_name: ..., kid_name: ...}``, or a note saying why they could not be computed."""
        import numpy as np

        from mllmbench.core.images import open_rgb
        from mllmbench.suites.metrics.fid import FIDMetric, KIDMetric

        if not self._items:
            return MetricResult(values={}, notes={self.name: "no images were generated"})
        try:
            extractor = self.load_extractor()
            reference = self.reference(extractor)
            fid = FIDMetric(extractor, reference, batch_size=self.batch_size)
            kid = KIDMetric(
                extractor,
                reference,
                batch_size=self.batch_size,
                num_subsets=KID_SUBSETS,
                max_subset_size=KID_SUBSET_SIZE,
                seed=KID_SEED,
            )
            paths = [path for path, _ in self._items.values()]
            for start in range(0, len(paths), self.batch_size):
                feats = extractor([np.array(open_rgb(p)) for p in paths[start : start + self.batch_size]])
                fid.update_features(feats)
                kid.update_features(feats)
            fid_result, kid_result = fid.compute(), kid.compute()
        except MllmBenchError as exc:
            return self._unavailable(exc)
        values: dict[str, MetricValue] = {}
        notes: dict[str, str] = {}
        extra = {"extractor_spec": self.choice.spec, "preprocessing": "the extractor's own (no crop)"}
        if self.choice.kind == "inception":
            extra["fid_mode"] = self.mode
        for result, source, target in (
            (fid_result, "fid", self.choice.fd_name),
            (kid_result, "kid", self.choice.kid_name),
        ):
            if source in result.values:
                values[target] = _with_context(result.values[source], **extra)
            if source in result.notes:
                notes[target] = result.notes[source]
        return MetricResult(values=values, notes=notes)


class PromptClipScores(_GeneratedImages):
    """CLIP score of each generated image with its prompt, in both conventions.

    ``clip_score``: torchmetrics (100 x cos, clamp on the mean); ``clipscore``: Hessel et al.
    (2.5 x max(cos, 0) with the "A photo depicts " prefix). One CLIP model, loaded at `compute`.
    """

    name = "clip_score"
    version = "1"
    CONVENTION_NAMES = {"torchmetrics": "clip_score", "clipscore": "clipscore"}

    def __init__(self, model_path: str | None, *, batch_size: int = 32) -> None:
        super().__init__()
        self.model_path = model_path
        self.batch_size = batch_size

    def compute(self) -> MetricResult:
        """Both corpus scores with per-sample values, or a note saying why they are missing."""
        from mllmbench.suites.metrics.clip_score import CONVENTIONS, CLIPScoreMetric, ClipScorer

        if not self._items:
            return MetricResult(values={}, notes={self.name: "no images were generated"})
        if self.model_path is None:
            return MetricResult(
                values={},
                notes={
                    self.name: f"unavailable: no CLIP model (set {CLIP_MODEL_ENV} to a local CLIPModel directory)"
                },
            )
        values: dict[str, MetricValue] = {}
        per_sample: dict[str, dict[str, float]] = {}
        try:
            scorer = ClipScorer(self.model_path, batch_size=self.batch_size)
            for convention, target in self.CONVENTION_NAMES.items():
                metric = CLIPScoreMetric(scorer, CONVENTIONS[convention])
                for sample_id, (path, text) in self._items.items():
                    metric.update(Sample(sample_id=sample_id, image_paths=(), text=text), path)
                result = metric.compute()
                values[target] = result.values[CLIPScoreMetric.name]
                for sid, scores in result.per_sample.items():
                    per_sample.setdefault(sid, {})[target] = scores[CLIPScoreMetric.name]
        except MllmBenchError as exc:
            return self._unavailable(exc)
        return MetricResult(values=values, per_sample=per_sample)


class GenerationEfficiency(Metric):
    """Cost of generation from the logged records.

    * ``images_per_second``: images over the summed wall time of the adapter calls;
    * ``nfe``: generator forward passes per image (steps x guidance multiplier), mean;
    * ``sequential_calls``: generator forward calls that ran one after another per image, mean
      (recorded by runs made since it was added);
    * ``image_tokens``: discrete image tokens generated per image, mean (0 for diffusion);
    * ``seconds_per_image_<stage>``: each stage's call time over its images (``rewrite``, ``draw``...);
    * ``peak_rss`` and, on CUDA, ``cuda_max_allocated``: the peak over the calls, MiB.

    Each value's context holds the run's device, dtype and batch size.
    """

    name = "generation_efficiency"
    version = "1"

    def __init__(self) -> None:
        self._rows: dict[str, dict[str, Any]] = {}
        self._context: dict[str, Any] = {}

    def set_run_context(self, context: Mapping[str, Any]) -> None:
        """Keep the run's device, dtype and batch size for every value's context."""
        self._context = dict(context)

    def update(self, sample: Sample, answer: str) -> dict[str, float]:
        """Nothing to learn from the path alone (the runner feeds records through `update_record`)."""
        return {}

    def update_record(self, sample: Sample, record: Mapping[str, Any]) -> dict[str, float]:
        """Keep the timing, images, NFE, image tokens and memory of one logged sample."""
        timing = record.get("timing") or {}
        generation = record.get("generation") or {}
        images = record.get("generated_images") or []
        self._rows[sample.sample_id] = {
            "images": len(images) if isinstance(images, list) else 1,
            "call_share": float(timing.get("call_seconds", 0.0))
            / max(1, int(timing.get("call_requests") or timing.get("batch_size") or 1)),
            "stages": {
                stage: float(v) / max(1, int(timing.get("batch_size", 1)))
                for stage, v in (timing.get("stage_seconds") or {}).items()
            },
            "nfe": generation.get("nfe"),
            "sequential_calls": generation.get("sequential_calls"),
            "image_tokens": (record.get("tokens") or {}).get("image", 0),
            "memory": dict(record.get("memory") or {}),
        }
        return {}

    def merge(self, other: Metric) -> None:
        """Take another shard's rows."""
        if not isinstance(other, GenerationEfficiency):
            raise TypeError(f"cannot merge {type(other).__name__} into GenerationEfficiency")
        self._rows.update(other._rows)

    def _value(self, value: float, n: int, unit: str, higher: bool) -> MetricValue:
        return MetricValue(value=value, n=n, higher_is_better=higher, unit=unit, context=dict(self._context))

    def compute(self) -> MetricResult:
        """The figures listed in the class docstring."""
        rows = list(self._rows.values())
        if not rows:
            return MetricResult(values={}, notes={self.name: "no sample finished"})
        n_images = sum(r["images"] for r in rows)
        seconds = math.fsum(r["call_share"] for r in rows)
        values: dict[str, MetricValue] = {}
        if seconds > 0:
            values["images_per_second"] = self._value(n_images / seconds, len(rows), "images/s", True)
        nfes = [float(r["nfe"]) for r in rows if r["nfe"] is not None]
        if nfes:
            values["nfe"] = self._value(math.fsum(nfes) / len(nfes), len(nfes), "evaluations/image", False)
        calls = [float(r["sequential_calls"]) for r in rows if r["sequential_calls"] is not None]
        if calls:
            values["sequential_calls"] = self._value(
                math.fsum(calls) / len(calls), len(calls), "calls/image", False
            )
        tokens = [float(r["image_tokens"] or 0) for r in rows]
        values["image_tokens"] = self._value(
            math.fsum(tokens) / len(tokens), len(tokens), "tokens/image", False
        )
        for stage in sorted({s for r in rows for s in r["stages"]}):
            total = math.fsum(r["stages"].get(stage, 0.0) for r in rows)
            values[f"seconds_per_image_{stage}"] = self._value(
                total / max(1, n_images), len(rows), "s", False
            )
        for metric, key in (
            ("peak_rss", "peak_rss_bytes"),
            ("cuda_max_allocated", "cuda_max_allocated_bytes"),
        ):
            peaks = [int(r["memory"][key]) for r in rows if isinstance(r["memory"].get(key), int)]
            if peaks:
                values[metric] = self._value(max(peaks) / MIB, len(peaks), "MiB", False)
        return MetricResult(values=values)
