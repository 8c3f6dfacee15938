"""Text-to-image suites: prompts whose real images are the references.

`T2IFormatSuite` reads a COCO-captions-style prompts file (``{"images": [{"id", "file_name"}],
"annotations": [{"image_id", "caption"}]}``, file names relative to the image folder): one
sample per image, its first caption as the prompt (as it is, no template), its image as the
reference. The built-in ``t2i`` suite is the Shapes text-to-image split (``t2i/prompts.json`` and
``images/``, generated offline on first use); ``--data DIR`` points it at any directory with the
same layout. For the COCO-30k protocol use the ``coco_t2i`` suite.

The runner asks the adapter for one image per prompt, each drawn with a seed derived from the
run seed, the suite and the sample id, saves it as ``RUN_DIR/images/t2i/<sample_id>_0.png`` and
scores the saved files:

* ``fid`` / ``kid`` (clean-fid's Inception-v3, mode recorded) or ``fd_clip`` / ``kid_clip`` and
  ``fd_dinov2`` / ``kid_dinov2`` with local CLIP / DINOv2 models, against the reference images
  of the *whole* prompts file (a fixed reference set, so runs with different ``--limit`` share
  it); reference statistics are cached under ``cache_root()/fid_stats`` by dataset
  fingerprint, extractor, preprocessing and weights hash. Both sides go through the
  extractor's own preprocessing only, as clean-fid's ``fid_folder`` does, so the value equals
  ``mllm-bench score fid --real DIR/images --fake RUN_DIR/images/t2i`` when every prompt ran;
* ``clip_score`` (torchmetrics convention) and ``clipscore`` (Hessel et al.) of each image
  with its prompt;
* ``images_per_second``, ``nfe``, ``sequential_calls``, ``image_tokens``, per-stage seconds per
  image and peak memory.

Choosing extractors and the CLIP model: ``--fid-extractor``, ``--fid-mode``, ``--clip-model`` (run
settings, in the run identity), defaulting to the environment variables ``MLLMBENCH_FID_EXTRACTOR``
(``inception`` by default; ``dinov2:PATH``, ``clip:PATH``, comma-separated, or ``none``),
``MLLMBENCH_FID_MODE`` (``clean``, ``legacy_pytorch``, ``legacy_tensorflow``) and
``MLLMBENCH_CLIP_MODEL`` (see `mllmbench.suites.t2i_metrics`). Every configured file is looked
for when the samples are loaded, before the model is: without the Inception weights file (and
no other extractor chosen) the run stops with a `MissingResourceError` naming the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from mllmbench.core.errors import InputError
from mllmbench.core.types import Capability
from mllmbench.suites import shapes
from mllmbench.suites.base import Metric, Sample, Suite
from mllmbench.suites.fingerprint import files_fingerprint
from mllmbench.suites.t2i_metrics import (
    FrechetKernelMetric,
    GenerationEfficiency,
    PromptClipScores,
    T2IMetricConfig,
)

if TYPE_CHECKING:
    from mllmbench.suites.formats.coco_captions import CocoCaptionDataset
    from mllmbench.suites.metrics.frechet import FeatureStats
    from mllmbench.suites.metrics.image_features import FeatureExtractor


class T2IFormatSuite(Suite):
    """Text-to-image over a COCO-captions-style prompts file and its reference image folder."""

    requires = Capability.GENERATE
    metric_names: ClassVar[tuple[str, ...]] = (
        "fid",
        "kid",
        "fd_clip",
        "kid_clip",
        "fd_dinov2",
        "kid_dinov2",
        "clip_score",
        "clipscore",
        "images_per_second",
        "nfe",
        "sequential_calls",
        "image_tokens",
    )
    prompts_file: ClassVar[str] = "t2i/prompts.json"
    images_dir: ClassVar[str] = "images"
    reference_batch_size: ClassVar[int] = 64

    def __init__(self, data_dir: Path | None = None) -> None:
        super().__init__(data_dir)
        self._config: T2IMetricConfig | None = None
        self._data: CocoCaptionDataset | None = None
        self._fingerprint: str | None = None

    # --- configuration ---------------------------------------------------------------------
    def metric_config(self) -> T2IMetricConfig:
        """The extractors and CLIP model: the run's (`use_scoring_settings`), else the environment's."""
        if self._config is None:
            self._config = T2IMetricConfig.from_env()
        return self._config

    def use_scoring_settings(
        self, *, fid_extractor: str | None, fid_mode: str | None, clip_model: str | None
    ) -> dict[str, str | None]:
        """Score with these choices (None: the environment's, else the default); returns the resolved
        values as `RunConfig` fields, which the runner records in the run identity."""
        self._config = T2IMetricConfig.resolve(extractor=fid_extractor, mode=fid_mode, clip_model=clip_model)
        return self._config.settings()

    # --- samples ---------------------------------------------------------------------------
    def dataset(self) -> CocoCaptionDataset:
        """The prompts file, read and validated once (every image file must exist)."""
        if self._data is None:
            from mllmbench.suites.formats.coco_captions import load_coco_captions

            data = load_coco_captions(
                self.data_dir / self.prompts_file, image_dir=self.data_dir / self.images_dir
            )
            for im in data.images:
                if im.image_path is None or not Path(im.image_path).is_file():
                    raise InputError(
                        f"{data.path}: reference image of image id {im.image_id!r} not found: {im.image_path}"
                    )
            self._data = data
        return self._data

    def load_samples(self, limit: int | None = None) -> list[Sample]:
        """One prompt per image, in the file's order; checks the metrics' files first.

        Raises:
            MissingResourceError: a configured extractor or CLIP model file is missing.
            InputError: a malformed prompts file or a missing reference image.
        """
        self.metric_config().check(self.name)
        images = self.dataset().images
        images = images[:limit] if limit is not None else images
        return [
            Sample(
                sample_id=str(im.image_id),
                image_paths=(),
                text=im.references[0],
                meta={
                    "image_id": im.image_id,
                    "file_name": im.file_name,
                    "reference_image": str(im.image_path),
                },
            )
            for im in images
        ]

    def reference_image_paths(self) -> list[Path]:
        """The reference set: every image of the prompts file (independent of ``--limit``)."""
        return [Path(str(im.image_path)) for im in self.dataset().images]

    # --- scoring ---------------------------------------------------------------------------
    def reference_stats(self, extractor: FeatureExtractor) -> FeatureStats:
        """Features of the reference images through `extractor`, computed once and cached."""
        import numpy as np

        from mllmbench.core.images import open_rgb
        from mllmbench.suites.metrics.frechet import FeatureStats
        from mllmbench.suites.metrics.reference_stats import ReferenceStatsKey, cached_reference_stats

        paths = self.reference_image_paths()
        key = ReferenceStatsKey(
            dataset=f"{self.name}:{self.data_dir.resolve()}",
            fingerprint=self.dataset_fingerprint(),
            split=f"{self.prompts_file}-{len(paths)}",
            resolution="native",
            mode=extractor.info.preprocessing,
            extractor=extractor.info.name,
            weights_hash=extractor.info.weights_hash,
        )

        def compute() -> FeatureStats:
            stats = FeatureStats(extractor.dim, keep_features=True)
            for start in range(0, len(paths), self.reference_batch_size):
                chunk = paths[start : start + self.reference_batch_size]
                stats.update(extractor([np.array(open_rgb(p)) for p in chunk]))
            return stats

        return cached_reference_stats(key, compute, need_features=True)

    def metrics(self) -> list[Metric]:
        """FD + KID per configured extractor, both CLIP scores, and the generation cost."""
        config = self.metric_config()
        out: list[Metric] = [
            FrechetKernelMetric(choice, config.mode, self.reference_stats) for choice in config.extractors
        ]
        out.append(PromptClipScores(config.clip_model))
        out.append(GenerationEfficiency())
        return out

    def dataset_fingerprint(self) -> str:
        """Hash of the prompts file and every reference image (bytes)."""
        if self._fingerprint is None:
            files = [self.data_dir / self.prompts_file, *self.reference_image_paths()]
            self._fingerprint = files_fingerprint(files)
        return self._fingerprint

    def scoring_info(self) -> dict[str, Any]:
        """Recorded in run.json next to the metrics."""
        return {
            "prompt": "the prompts file's first caption per image, as it is",
            "reference_images": f"every image of {self.prompts_file} ({self.images_dir}/)",
            "images_per_prompt": 1,
            "seeds": "derive_seed(run seed, suite, sample id) per prompt",
            "preprocessing": "none before the extractor (clean-fid folder style)",
            **self.metric_config().describe(),
        }


class ShapesT2ISuite(T2IFormatSuite):
    """Text-to-image on the synthetic Shapes set: one prompt per image, the image as reference."""

    name = "t2i"
    version = "2"
    description = "Text-to-image on built-in Shapes (or any COCO-captions-style prompts dir via --data): FID/KID, CLIP score, shapes_eval (GenEval-style judge), images/s, NFE"
    metric_names: ClassVar[tuple[str, ...]] = (
        *T2IFormatSuite.metric_names,
        "shapes_eval",
        "fd_shapes_judge",
        "kid_shapes_judge",
    )
    prompts_file = shapes.T2I_PROMPTS
    images_dir = shapes.IMAGES_DIR
    expected_files = (shapes.T2I_PROMPTS, shapes.IMAGES_DIR + "/")

    @classmethod
    def default_data_dir(cls) -> Path:
        """The Shapes set in the user cache, generated if missing."""
        return shapes.ensure_shapes()

    def load_samples(self, limit: int | None = None) -> list[Sample]:
        """The prompts, each sample's meta also holding its GenEval-style metadata (``geneval``)."""
        import dataclasses

        from mllmbench.suites.metrics.shapes_eval import METADATA_KEY, prompt_metadata

        meta = prompt_metadata(self.data_dir / self.prompts_file)
        return [
            dataclasses.replace(s, meta={**s.meta, METADATA_KEY: meta.get(s.meta["image_id"], {})})
            for s in super().load_samples(limit)
        ]

    def metrics(self) -> list[Metric]:
        """The text-to-image metrics plus ``shapes_eval`` (the offline Shapes judge, GenEval's rules)."""
        from mllmbench.suites.metrics.shapes_eval import ShapesEvalMetric

        return [*super().metrics(), ShapesEvalMetric(self.reference_image_paths)]
