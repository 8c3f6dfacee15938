"""CLIP score from a local transformers CLIP checkpoint (METRICS.md §4).

Two named conventions, both reproduced exactly (choose one and report its name):

* ``torchmetrics`` (`TORCHMETRICS`, the usual text-to-image practice): per sample
  ``100 * cos``; the corpus value is ``max(mean, 0)``, the clamp applied to the **mean** (quirk
  Q16). Text goes through ``CLIPProcessor(padding=True)`` without truncation; a batch longer than
  the text model's ``max_position_embeddings`` (77) is **sliced** to 77 tokens, which drops the
  EOT token, so the pooled embedding of such a caption is not an EOT embedding (quirk Q17: with
  ``eos_token_id == 2`` configs transformers pools at the highest token id, otherwise at position
  0). Images go through the checkpoint's image processor.
* ``clipscore`` (`CLIPSCORE`, Hessel et al. 2021, caption evaluation): the prefix
  ``"A photo depicts "``, truncation to 77 tokens that keeps EOT in the last slot (as
  ``clip.tokenize(truncate=True)``), per sample ``2.5 * max(cos, 0)``, then the mean. Images:
  bicubic short-side resize, centre crop, CLIP mean/std (the repository's transform).

Cosines are computed as torchmetrics does (float32 L2 normalisation of the projected
embeddings). torchmetrics' own ``CLIPScore`` fails on transformers 5, whose
``get_image_features`` returns ``BaseModelOutputWithPooling``; here ``.pooler_output`` (already
projected) is used.
"""

from __future__ import annotations

import enum
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mllmbench.core.errors import ConfigError, InputError
from mllmbench.suites.base import Metric, MetricResult, MetricValue, Sample
from mllmbench.suites.metrics.image_features import CLIP_MEAN, CLIP_STD

if TYPE_CHECKING:
    from PIL.Image import Image

log = logging.getLogger(__name__)


class Clamp(enum.StrEnum):
    """Where the ``max(., 0)`` goes."""

    MEAN = "mean"
    """On the corpus mean (torchmetrics, Q16)."""
    PER_SAMPLE = "per_sample"
    """On each sample before averaging (Hessel)."""


class Truncation(enum.StrEnum):
    """How captions longer than the text model's context are cut."""

    SLICE = "slice"
    """torchmetrics: slice ``input_ids`` to the context length; EOT is lost (Q17)."""
    KEEP_EOT = "keep_eot"
    """``clip.tokenize(truncate=True)`` / tokenizer truncation: EOT stays in the last slot."""


class ImagePreprocess(enum.StrEnum):
    """How images become pixel values."""

    PROCESSOR = "processor"
    """The checkpoint's ``CLIPImageProcessor`` (torchmetrics)."""
    OPENAI_CLIP = "openai_clip"
    """torchvision Resize(bicubic, short side) + CenterCrop + ToTensor + Normalize (Hessel, OpenAI)."""


@dataclass(frozen=True)
class ClipScoreConvention:
    """A complete, named CLIP-score recipe."""

    name: str
    scale: float
    clamp: Clamp
    truncation: Truncation
    prefix: str
    """Text prepended to every caption."""
    image_preprocess: ImagePreprocess

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form (recorded next to the score)."""
        return {
            "name": self.name,
            "scale": self.scale,
            "clamp": self.clamp.value,
            "truncation": self.truncation.value,
            "prefix": self.prefix,
            "image_preprocess": self.image_preprocess.value,
        }


TORCHMETRICS = ClipScoreConvention(
    "torchmetrics", 100.0, Clamp.MEAN, Truncation.SLICE, "", ImagePreprocess.PROCESSOR
)
CLIPSCORE = ClipScoreConvention(
    "clipscore", 2.5, Clamp.PER_SAMPLE, Truncation.KEEP_EOT, "A photo depicts ", ImagePreprocess.OPENAI_CLIP
)
CONVENTIONS: dict[str, ClipScoreConvention] = {c.name: c for c in (TORCHMETRICS, CLIPSCORE)}


def get_convention(name: str) -> ClipScoreConvention:
    """Look a convention up by name."""
    try:
        return CONVENTIONS[name]
    except KeyError:
        raise ConfigError(
            f"unknown CLIP score convention {name!r}; choose from {sorted(CONVENTIONS)}"
        ) from None


class ClipScorer:
    """A local ``CLIPModel`` + ``CLIPProcessor`` that embeds images and captions."""

    def __init__(self, model_path: str | Path, *, device: str | None = None, batch_size: int = 32) -> None:
        import torch
        import transformers

        from mllmbench.suites.metrics.image_features import load_local_hf_model, local_model_dir, weights_hash

        path = local_model_dir(model_path, "CLIP")
        self.device = (
            torch.device(device) if device else torch.device("cuda" if torch.cuda.is_available() else "cpu")
        )
        self.batch_size = batch_size
        self.model = load_local_hf_model(path, ("clip",), "CLIPModel").to(self.device)
        self.processor = transformers.CLIPProcessor.from_pretrained(str(path), local_files_only=True)
        self.max_positions = int(self.model.config.text_config.max_position_embeddings)
        self.image_size = int(self.model.config.vision_config.image_size)
        self.model_path = str(path)
        self.weights_hash = weights_hash(path)

    def _pixels_openai(self, img: np.ndarray) -> Any:
        import torchvision.transforms as T
        from PIL import Image as PILImage

        transform = T.Compose(
            [
                T.Resize(self.image_size, interpolation=T.InterpolationMode.BICUBIC),
                T.CenterCrop(self.image_size),
                T.ToTensor(),
                T.Normalize(CLIP_MEAN, CLIP_STD),
            ]
        )
        return transform(PILImage.fromarray(img))

    def image_embeddings(self, images: Sequence[np.ndarray], preprocess: ImagePreprocess) -> Any:
        """Projected image embeddings (float32 tensor, N x projection_dim)."""
        import torch

        out = []
        with torch.no_grad():
            for start in range(0, len(images), self.batch_size):
                chunk = list(images[start : start + self.batch_size])
                if preprocess is ImagePreprocess.PROCESSOR:
                    pixels = self.processor(images=chunk, return_tensors="pt", padding=True)["pixel_values"]
                else:
                    pixels = torch.stack([self._pixels_openai(im) for im in chunk])
                out.append(_pooled(self.model.get_image_features(pixel_values=pixels.to(self.device))))
        return torch.cat(out)

    def text_embeddings(self, texts: Sequence[str], truncation: Truncation) -> Any:
        """Projected text embeddings (float32 tensor), truncated per `truncation`."""
        import torch

        out = []
        with torch.no_grad():
            for start in range(0, len(texts), self.batch_size):
                chunk = list(texts[start : start + self.batch_size])
                if truncation is Truncation.KEEP_EOT:
                    enc = self.processor(
                        text=chunk,
                        return_tensors="pt",
                        padding=True,
                        truncation=True,
                        max_length=self.max_positions,
                    )
                else:
                    enc = self.processor(text=chunk, return_tensors="pt", padding=True)
                    if enc["attention_mask"].shape[-1] > self.max_positions:
                        log.warning(
                            "captions longer than %d tokens are sliced (torchmetrics, Q17)",
                            self.max_positions,
                        )
                        enc["attention_mask"] = enc["attention_mask"][..., : self.max_positions]
                        enc["input_ids"] = enc["input_ids"][..., : self.max_positions]
                feats = self.model.get_text_features(
                    enc["input_ids"].to(self.device), enc["attention_mask"].to(self.device)
                )
                out.append(_pooled(feats))
        return torch.cat(out)


def _pooled(output: Any) -> Any:
    """transformers 5 returns ``BaseModelOutputWithPooling`` (projection in ``pooler_output``)."""
    import torch

    return output if isinstance(output, torch.Tensor) else output.pooler_output


def clip_cosines(
    scorer: ClipScorer,
    images: Sequence[Image] | Sequence[np.ndarray] | np.ndarray,
    texts: Sequence[str],
    convention: ClipScoreConvention = TORCHMETRICS,
) -> np.ndarray:
    """Per-sample cosine between each image and its caption (float64 of the float32 result)."""
    from mllmbench.suites.metrics.image_features import to_uint8_images

    arrays = to_uint8_images(images)
    if len(arrays) != len(texts):
        raise InputError(f"{len(arrays)} images but {len(texts)} captions")
    if not arrays:
        return np.zeros(0, dtype=np.float64)
    img = scorer.image_embeddings(arrays, convention.image_preprocess)
    txt = scorer.text_embeddings([convention.prefix + t for t in texts], convention.truncation)
    img = img / img.norm(p=2, dim=-1, keepdim=True)
    txt = txt / txt.norm(p=2, dim=-1, keepdim=True)
    return (img * txt).sum(dim=-1).cpu().double().numpy()


def per_sample_scores(cosines: np.ndarray, convention: ClipScoreConvention) -> np.ndarray:
    """``scale * cos``, clamped at 0 per sample only for `Clamp.PER_SAMPLE`."""
    scaled = convention.scale * np.asarray(cosines, dtype=np.float64)
    return np.maximum(scaled, 0.0) if convention.clamp is Clamp.PER_SAMPLE else scaled


def aggregate_scores(per_sample: np.ndarray, convention: ClipScoreConvention) -> float:
    """The corpus value: the mean (order-independent ``fsum``), clamped at 0 for `Clamp.MEAN`."""
    values = np.asarray(per_sample, dtype=np.float64)
    if values.size == 0:
        raise InputError("CLIP score of an empty set")
    mean = math.fsum(values.tolist()) / values.size
    return max(mean, 0.0) if convention.clamp is Clamp.MEAN else mean


def clip_score(
    scorer: ClipScorer,
    images: Sequence[Image] | Sequence[np.ndarray] | np.ndarray,
    texts: Sequence[str],
    convention: ClipScoreConvention = TORCHMETRICS,
) -> float:
    """The corpus CLIP score of image/caption pairs under `convention`."""
    return aggregate_scores(
        per_sample_scores(clip_cosines(scorer, images, texts, convention), convention), convention
    )


class CLIPScoreMetric(Metric):
    """Streaming CLIP score for a text-to-image suite.

    ``update(sample, answer)``: `answer` is the path of the image generated for ``sample.text``.
    Images are scored in batches; per-sample values appear in ``compute().per_sample``. Shards
    merge by sample id.
    """

    name = "clip_score"
    version = "1"

    def __init__(self, scorer: ClipScorer, convention: ClipScoreConvention = TORCHMETRICS) -> None:
        self.scorer = scorer
        self.convention = convention
        self._cosines: dict[str, float] = {}
        self._pending: list[tuple[str, str, str]] = []

    def update(self, sample: Sample, answer: str) -> dict[str, float]:
        """Queue the generated image `answer` (a file path) with the prompt ``sample.text``."""
        self._pending.append((sample.sample_id, answer, sample.text))
        if len(self._pending) >= self.scorer.batch_size:
            self.flush()
        return {}

    def update_images(self, sample_ids: Sequence[str], images: Sequence[Any], texts: Sequence[str]) -> None:
        """Score in-memory images (PIL or uint8 HWC) with their captions right away."""
        cos = clip_cosines(self.scorer, images, texts, self.convention)
        self._add(sample_ids, cos)

    def flush(self) -> None:
        """Score the queued image files."""
        if not self._pending:
            return
        from mllmbench.core.images import open_rgb

        ids, paths, texts = zip(*self._pending, strict=True)
        self._pending = []
        self.update_images(ids, [np.array(open_rgb(p)) for p in paths], texts)

    def _add(self, sample_ids: Sequence[str], cosines: np.ndarray) -> None:
        for sid, c in zip(sample_ids, cosines, strict=True):
            if sid in self._cosines:
                raise InputError(f"CLIP score: sample {sid!r} was scored twice")
            self._cosines[sid] = float(c)

    def merge(self, other: Metric) -> None:
        """Fold another shard in (same convention; sample ids must not overlap)."""
        if not isinstance(other, CLIPScoreMetric) or other.convention != self.convention:
            raise InputError("can only merge CLIPScoreMetric shards with the same convention")
        self.flush()
        other.flush()
        ids = list(other._cosines)
        self._add(ids, np.asarray([other._cosines[i] for i in ids]))

    def compute(self) -> MetricResult:
        """Corpus score, its standard error and the per-sample scores."""
        self.flush()
        if not self._cosines:
            return MetricResult(values={}, notes={self.name: "no images were scored"})
        ids = sorted(self._cosines)
        per = per_sample_scores(np.asarray([self._cosines[i] for i in ids]), self.convention)
        value = aggregate_scores(per, self.convention)
        stderr = float(np.std(per, ddof=1) / math.sqrt(per.size)) if per.size > 1 else None
        return MetricResult(
            values={
                self.name: MetricValue(
                    value=value,
                    n=per.size,
                    stderr=stderr,
                    higher_is_better=True,
                    context={
                        "convention": self.convention.to_dict(),
                        "model_path": self.scorer.model_path,
                        "weights_hash": self.scorer.weights_hash,
                    },
                )
            },
            per_sample={sid: {self.name: float(v)} for sid, v in zip(ids, per, strict=True)},
        )
