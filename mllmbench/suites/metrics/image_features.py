"""Image feature extractors for Fréchet distances and KID (METRICS.md §3.2, §3.4).

One small interface, `FeatureExtractor`: ``info`` (name, dim, weights hash, preprocessing) and
``__call__(images) -> float64 (N, d)``, where images are a uint8 NHWC array or a list of PIL
images. Three families:

* `inception_features.InceptionExtractor` (its own module, which imports this one; build any
  of the three from a spec with `extractors.load_extractor`): clean-fid's Inception-v3 (the TF 2015-12-05
  weights) with clean-fid's three preprocessing modes (`ResizeMode`).
* `ClipImageExtractor`: a local transformers ``CLIPModel`` (CLIP-FID), preprocessed as clean-fid
  does for its CLIP features (bicubic short-side resize, centre crop, CLIP mean/std).
* `Dinov2Extractor`: a local transformers ``Dinov2Model`` (FD_DINOv2), preprocessed as dgm-eval
  does (224x224 bicubic, ImageNet mean/std), feature = final-norm CLS token.

Nothing is ever downloaded: a missing file raises `MissingResourceError` saying which file,
where to put it and how to point at it. Heavy imports (torch, transformers) happen on use.
"""

from __future__ import annotations

import abc
import enum
import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mllmbench.core.errors import ConfigError, InputError, MissingResourceError
from mllmbench.core.hashing import named_files_sha256, sha256_of

if TYPE_CHECKING:
    from PIL.Image import Image

    from mllmbench.suites.metrics.frechet import FeatureStats

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = frozenset({".bmp", ".jpg", ".jpeg", ".pgm", ".png", ".ppm", ".tif", ".tiff", ".webp"})
"""clean-fid's image extensions (case-insensitive), without its ``.npy`` images."""

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class ResizeMode(enum.StrEnum):
    """clean-fid's preprocessing modes for the Inception feature (METRICS.md §3.2 table)."""

    CLEAN = "clean"
    """PIL bicubic per channel in float32 to 299x299, no re-quantisation; ``(x - 128) / 128``."""
    LEGACY_PYTORCH = "legacy_pytorch"
    """PyTorch bilinear (align_corners=False) to 299; the pytorch-fid network on ``x / 255``."""
    LEGACY_TENSORFLOW = "legacy_tensorflow"
    """No resize outside; the TorchScript network resizes like TF1 bilinear inside."""


class DinoResize(enum.StrEnum):
    """dgm-eval's two resizes for DINOv2 (both bicubic to 224x224)."""

    TORCHVISION = "torchvision"
    """dgm-eval's default: torchvision ``Resize((224, 224), BICUBIC)`` on the PIL image (uint8)."""
    CLEAN = "clean"
    """dgm-eval ``--clean_resize``: PIL bicubic per channel in float32, no re-quantisation."""


@dataclass(frozen=True)
class ExtractorInfo:
    """What produced a feature set; recorded with every FD/KID value and in cache keys."""

    name: str
    """Extractor family: ``inception_v3_tf2015``, ``clip`` or ``dinov2``."""
    dim: int
    """Feature dimension."""
    weights_hash: str
    """sha256 of the weight file(s) and config."""
    preprocessing: str
    """The resize/normalisation used, e.g. ``clean`` or ``dgm-eval torchvision bicubic 224``."""
    weights_path: str
    """The local file or directory the weights were read from."""

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {
            "name": self.name,
            "dim": self.dim,
            "weights_hash": self.weights_hash,
            "preprocessing": self.preprocessing,
            "weights_path": self.weights_path,
        }


class FeatureExtractor(abc.ABC):
    """Images in, float64 features out."""

    info: ExtractorInfo

    @property
    def name(self) -> str:
        """The extractor family name."""
        return self.info.name

    @property
    def dim(self) -> int:
        """The feature dimension."""
        return self.info.dim

    @property
    def weights_hash(self) -> str:
        """sha256 of the weights."""
        return self.info.weights_hash

    def __call__(self, images: np.ndarray | Sequence[Image] | Sequence[np.ndarray]) -> np.ndarray:
        """Features of a batch: uint8 NHWC array, or a list of PIL images / HWC uint8 arrays."""
        arrays = to_uint8_images(images)
        if not arrays:
            return np.zeros((0, self.dim), dtype=np.float64)
        return np.asarray(self._features(arrays), dtype=np.float64)

    @abc.abstractmethod
    def _features(self, images: list[np.ndarray]) -> np.ndarray:
        """Features of RGB uint8 HWC images."""


def to_uint8_images(images: np.ndarray | Sequence[Image] | Sequence[np.ndarray]) -> list[np.ndarray]:
    """Turn a batch into a list of RGB uint8 HWC arrays (PIL images go through ``convert('RGB')``)."""
    from PIL import Image as PILImage

    if isinstance(images, np.ndarray):
        if images.ndim == 3:
            images = images[None]
        if images.ndim != 4:
            raise InputError(f"an image batch must be NHWC, got an array of shape {images.shape}")
        items: Sequence[Any] = list(images)
    else:
        items = images
    out = []
    for i, im in enumerate(items):
        arr = np.asarray(im.convert("RGB")) if isinstance(im, PILImage.Image) else np.asarray(im)
        if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] != 3:
            raise InputError(f"image {i} of the batch must be RGB uint8 HxWx3, got {arr.dtype} {arr.shape}")
        out.append(arr)
    return out


def torch_device(device: str | None) -> Any:
    """`device` as a torch device; by default CUDA when available, else the CPU."""
    import torch

    if device:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@functools.lru_cache(maxsize=64)
def _hash_files(paths: tuple[str, ...], stamps: tuple[tuple[int, int], ...]) -> str:
    del stamps  # part of the cache key only: a rewritten file gets hashed again
    return named_files_sha256(((Path(p).name, p) for p in paths), separator="")


def weights_hash(path: str | Path) -> str:
    """sha256 of a weight file, or of a model directory's config and weight files (sorted)."""
    p = Path(path)
    if p.is_file():
        files = [p]
    else:
        suffixes = {".safetensors", ".bin", ".pt", ".pth", ".json"}
        files = sorted(f for f in p.iterdir() if f.is_file() and f.suffix in suffixes)
    stamps = tuple((f.stat().st_size, f.stat().st_mtime_ns) for f in files)
    return _hash_files(tuple(str(f) for f in files), stamps)


def local_model_dir(path: str | Path, kind: str) -> Path:
    """`path` as a local transformers model directory; `MissingResourceError` when it is not one."""
    p = Path(path).expanduser()
    if not (p / "config.json").is_file():
        raise MissingResourceError(
            f"{kind} model directory not found or has no config.json: {p}. mllm-bench never downloads "
            f"weights: save a local copy there (save_pretrained, or a hub snapshot made on a machine "
            f"with internet)"
        )
    return p


def load_local_hf_model(path: Path, expected_types: tuple[str, ...], loader_name: str) -> Any:
    """Load ``transformers.<loader_name>`` from `path` offline, checking the config's model type."""
    import transformers

    config = transformers.AutoConfig.from_pretrained(str(path), local_files_only=True)
    if config.model_type not in expected_types:
        raise ConfigError(f"{path} holds a {config.model_type!r} model; expected one of {expected_types}")
    loader = getattr(transformers, loader_name)
    return loader.from_pretrained(str(path), local_files_only=True).eval()


class ClipImageExtractor(FeatureExtractor):
    """Projected CLIP image embeddings (clean-fid's ``clip_vit_b_32`` features, any local CLIP)."""

    def __init__(self, model_path: str | Path, *, device: str | None = None, batch_size: int = 64) -> None:
        path = local_model_dir(model_path, "CLIP")
        self.device = torch_device(device)
        self.batch_size = batch_size
        self._model = load_local_hf_model(path, ("clip",), "CLIPModel").to(self.device)
        self.size = int(self._model.config.vision_config.image_size)
        self.info = ExtractorInfo(
            name="clip",
            dim=int(self._model.config.projection_dim),
            weights_hash=weights_hash(path),
            preprocessing=f"clean-fid clip: bicubic short side {self.size}, centre crop, CLIP mean/std",
            weights_path=str(path),
        )

    def _pixel_values(self, images: Sequence[np.ndarray]) -> Any:
        """clean-fid ``img_preprocess_clip`` + ``ResizeDataset`` + ``CLIP_fx`` normalisation.

        The elementwise steps run once on the stacked batch (the same values as per image).
        """
        import torch
        import torchvision.transforms as T
        from PIL import Image as PILImage

        crop = T.Compose(
            [T.Resize(self.size, interpolation=T.InterpolationMode.BICUBIC), T.CenterCrop(self.size)]
        )
        arrays = [
            np.asarray(crop(PILImage.fromarray(im).convert("RGB"))).clip(0, 255).astype(np.uint8)
            for im in images
        ]
        x = torch.stack([T.ToTensor()(a) for a in arrays]) * 255
        return T.Normalize(CLIP_MEAN, CLIP_STD)(x / 255.0)

    def _features(self, images: list[np.ndarray]) -> np.ndarray:
        import torch

        out = []
        with torch.no_grad():
            for start in range(0, len(images), self.batch_size):
                x = self._pixel_values(images[start : start + self.batch_size])
                feats = self._model.get_image_features(pixel_values=x.to(self.device))
                # transformers 5 returns BaseModelOutputWithPooling (projection in pooler_output).
                feats = feats if isinstance(feats, torch.Tensor) else feats.pooler_output
                out.append(feats.detach().cpu().double().numpy())
        return np.concatenate(out, axis=0)


class Dinov2Extractor(FeatureExtractor):
    """DINOv2 final-norm CLS token (FD_DINOv2, dgm-eval preprocessing)."""

    def __init__(
        self,
        model_path: str | Path,
        resize: DinoResize = DinoResize.TORCHVISION,
        *,
        resolution: int = 224,
        device: str | None = None,
        batch_size: int = 64,
    ) -> None:
        path = local_model_dir(model_path, "DINOv2")
        self.resize = DinoResize(resize)
        self.resolution = resolution
        self.device = torch_device(device)
        self.batch_size = batch_size
        self._model = load_local_hf_model(path, ("dinov2", "dinov2_with_registers"), "AutoModel").to(
            self.device
        )
        self.info = ExtractorInfo(
            name="dinov2",
            dim=int(self._model.config.hidden_size),
            weights_hash=weights_hash(path),
            preprocessing=f"dgm-eval {self.resize.value} bicubic {resolution}, ImageNet mean/std",
            weights_path=str(path),
        )

    def _pixel_values(self, images: Sequence[np.ndarray]) -> Any:
        """dgm-eval ``DINOv2Encoder.transform``; the normalisation runs once on the stacked batch."""
        import torch
        import torchvision.transforms as T
        from PIL import Image as PILImage

        size = (self.resolution, self.resolution)
        if self.resize is DinoResize.CLEAN:
            from cleanfid.resize import make_resizer

            resize_f = make_resizer("PIL", False, "bicubic", size)
            x = torch.stack([T.functional.to_tensor(resize_f(im.astype(np.float32))) for im in images]) / 255
        else:
            resize = T.Resize(size, T.InterpolationMode.BICUBIC)
            x = torch.stack([T.ToTensor()(resize(PILImage.fromarray(im))) for im in images])
        return T.Normalize(IMAGENET_MEAN, IMAGENET_STD)(x)

    def _features(self, images: list[np.ndarray]) -> np.ndarray:
        import torch

        out = []
        with torch.no_grad():
            for start in range(0, len(images), self.batch_size):
                x = self._pixel_values(images[start : start + self.batch_size])
                pooled = self._model(pixel_values=x.to(self.device)).pooler_output
                out.append(pooled.detach().cpu().double().numpy())
        return np.concatenate(out, axis=0)


def list_image_files(folder: str | Path) -> list[Path]:
    """Image files under `folder` (recursive, sorted like clean-fid); any other file is an error.

    Hidden files (``.name``) are ignored. A ``.npy`` inside a folder is refused: feature
    matrices are passed as files, not folder members.
    """
    root = Path(folder)
    if not root.exists():
        raise InputError(f"image folder not found: {root}")
    if not root.is_dir():
        raise InputError(f"not a folder: {root}")
    files: list[Path] = []
    for p in root.rglob("*"):
        if p.name.startswith(".") or not p.is_file():
            continue
        if p.suffix.lower() not in IMAGE_EXTENSIONS:
            raise InputError(
                f"not an image file (extension {p.suffix or 'none'}): {p}; expected only "
                f"{', '.join(sorted(IMAGE_EXTENSIONS))} in {root}"
            )
        files.append(p)
    if not files:
        raise InputError(f"image folder is empty (no {', '.join(sorted(IMAGE_EXTENSIONS))} files): {root}")
    return sorted(files, key=str)


def folder_features(
    folder: str | Path, extractor: FeatureExtractor, *, keep_features: bool = False, batch_size: int = 64
) -> FeatureStats:
    """Stream the images of a folder through `extractor` into `FeatureStats`."""
    from mllmbench.core.images import open_rgb
    from mllmbench.suites.metrics.frechet import FeatureStats

    files = list_image_files(folder)
    stats = FeatureStats(extractor.dim, keep_features=keep_features)
    for start in range(0, len(files), batch_size):
        chunk = files[start : start + batch_size]
        stats.update(extractor([np.array(open_rgb(f)) for f in chunk]))
    log.info("extracted %s features of %d images from %s", extractor.name, stats.n, folder)
    return stats


def folder_fingerprint(folder: str | Path) -> str:
    """A cheap id of a folder's image files: relative paths, sizes and modification times."""
    root = Path(folder)
    return sha256_of(
        f"{f.relative_to(root)}\0{st.st_size}\0{st.st_mtime_ns}\n"
        for f in list_image_files(root)
        for st in (f.stat(),)
    )
