"""Text-to-image on COCO val2014 captions: the FID-30K prompt list and its real-image reference.

Official layout: ``captions_val2014.json`` (or ``annotations/captions_val2014.json``, from
annotations_trainval2014.zip) beside the COCO ``val2014/`` folder. There is no parquet layout.

Prompts: 30,000 val2014 images drawn by seed, one caption each (`select_prompts`: a hash of
seed and ids, so the list is fixed for a seed on any machine); the caption is the prompt as it
is. Each sample's ``meta["reference_image"]`` is the real image the caption describes.

Reference statistics: the selected real images, centre-cropped to a square and resized to
256x256 (PIL bicubic), through the same extractor as the generated images (which get the same
crop and resize); cached under ``cache_root()/fid_stats`` by extractor, preprocessing and the
prompt list's fingerprint (`reference_stats`).

Metrics, computed when the run is scored: `DeferredFID` (clean-fid Inception-v3, ``clean``
mode; its weights must be local, see ``inception_features.find_inception_weights``) and
`DeferredCLIPScore` (``$MLLMBENCH_CLIP_MODEL``). Either one reports itself unavailable in the
run's notes, with the reason, when its weights are missing.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mllmbench.core.errors import InputError
from mllmbench.core.types import Capability
from mllmbench.suites.base import Metric, Sample
from mllmbench.suites.benchmarks.coco2017_cap import COCO_DOWNLOAD
from mllmbench.suites.benchmarks.common import BenchmarkSuite, DataFile
from mllmbench.suites.benchmarks.vqav2 import COCO_VAL2014
from mllmbench.suites.fingerprint import files_fingerprint

if TYPE_CHECKING:
    from mllmbench.suites.formats.coco_prompts import PromptChoice
    from mllmbench.suites.metrics.frechet import FeatureStats
    from mllmbench.suites.metrics.image_features import FeatureExtractor

N_PROMPTS = 30_000
PROMPT_SEED = 0
REFERENCE_RESOLUTION = 256


class CocoT2ISuite(BenchmarkSuite):
    """COCO val2014 captions as text-to-image prompts (FID-30K protocol)."""

    name = "coco_t2i"
    version = "1"
    title = "COCO val2014 captions"
    description = "COCO val2014 captions as prompts (30k by seed), FID vs the real images, CLIP score"
    requires = Capability.GENERATE
    metric_names = ("fid", "clip_score")
    official = (
        DataFile(
            "captions_val2014.json",
            f"{COCO_DOWNLOAD}, annotations_trainval2014.zip",
            alternatives=("annotations/captions_val2014.json",),
        ),
        DataFile("val2014/", COCO_VAL2014),
    )
    prompt = "{caption}"
    n_prompts = N_PROMPTS
    seed = PROMPT_SEED
    reference_resolution = REFERENCE_RESOLUTION

    def prompt_list(self) -> tuple[PromptChoice, ...]:
        """The full selected list (before any subset or limit), read once per suite object."""
        cached: tuple[PromptChoice, ...] | None = getattr(self, "_prompts", None)
        if cached is not None:
            return cached
        from mllmbench.suites.formats.coco_captions import load_coco_captions
        from mllmbench.suites.formats.coco_prompts import select_prompts

        data = load_coco_captions(
            self.official_path(self.official[0].path), image_dir=self.official_path(self.official[1].path)
        )
        self._prompts = select_prompts(data, self.n_prompts, self.seed)
        return self._prompts

    def official_samples(self) -> list[Sample]:
        """One prompt per selected image, in selection order."""
        return [
            Sample(
                sample_id=str(p.image_id),
                image_paths=(),
                text=p.caption,
                meta={
                    "image_id": p.image_id,
                    "file_name": p.file_name,
                    "reference_image": str(p.image_path),
                    "rank": p.rank,
                },
            )
            for p in self.prompt_list()
        ]

    def reference_image_paths(self) -> list[Path]:
        """The real images of the whole prompt list (the FID reference set)."""
        return [Path(str(p.image_path)) for p in self.prompt_list()]

    def reference_stats(self, extractor: FeatureExtractor) -> FeatureStats:
        """Feature statistics of the reference images, computed once per extractor and cached."""
        from mllmbench.suites.metrics.deferred_image_metrics import center_crop_resize
        from mllmbench.suites.metrics.frechet import FeatureStats
        from mllmbench.suites.metrics.reference_stats import ReferenceStatsKey, cached_reference_stats

        paths = self.reference_image_paths()
        key = ReferenceStatsKey(
            dataset="coco2014-val-captions",
            fingerprint=self.prompt_list_fingerprint(),
            split=f"val2014-{len(paths)}-seed{self.seed}",
            resolution=str(self.reference_resolution),
            mode=f"center-crop+bicubic{self.reference_resolution}+{extractor.info.preprocessing}",
            extractor=extractor.info.name,
            weights_hash=extractor.info.weights_hash,
        )

        def compute() -> FeatureStats:
            stats = FeatureStats(extractor.dim)
            for start in range(0, len(paths), 64):
                chunk = paths[start : start + 64]
                stats.update(extractor([center_crop_resize(p, self.reference_resolution) for p in chunk]))
            return stats

        for p in paths:
            if not p.is_file():
                raise InputError(f"suite {self.name!r}: reference image not found: {p}")
        return cached_reference_stats(key, compute)

    def prompt_list_fingerprint(self) -> str:
        """Hash of the captions file, the seed and the list size."""
        base = files_fingerprint(self.data_files())
        return hashlib.sha256(f"{base}:{self.seed}:{self.n_prompts}".encode()).hexdigest()[:16]

    def dataset_fingerprint(self) -> str:
        """The prompt list's fingerprint, with the subset file when one is given."""
        parts = [self.prompt_list_fingerprint()]
        if self.subset_file is not None:
            parts.append(files_fingerprint([self.subset_file]))
        return parts[0] if len(parts) == 1 else hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]

    def metrics(self) -> list[Metric]:
        """FID against the reference statistics and CLIP score, both computed at scoring time."""
        from mllmbench.suites.metrics.deferred_image_metrics import DeferredCLIPScore, DeferredFID

        return [DeferredFID(self.reference_stats, resolution=self.reference_resolution), DeferredCLIPScore()]

    def scoring_info(self) -> dict[str, Any]:
        """Protocol, reference preprocessing and extractors."""
        return {
            **super().scoring_info(),
            "prompt": "the selected caption as it is",
            "protocol": f"{self.n_prompts} val2014 images by seed {self.seed}, one caption each (sha256 ranking)",
            "reference_images": "the selected real images",
            "preprocessing": f"centre crop to square, PIL bicubic resize to {self.reference_resolution} (real and generated)",
            "fid_extractor": "clean-fid Inception-v3 (TF 2015-12-05 weights), clean mode",
            "clip_score": "torchmetrics convention, CLIP checkpoint from $MLLMBENCH_CLIP_MODEL",
        }
