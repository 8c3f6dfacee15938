"""clean-fid's Inception-v3 feature (FID proper, METRICS.md §3.2) from local weights only.

Modes ``clean`` and ``legacy_tensorflow`` run the TorchScript file ``inception-2015-12-05.pt``
(the TF 2015-12-05 graph ported by NVIDIA); ``legacy_pytorch`` runs pytorch-fid's network with
``pt_inception-2015-12-05-6726825d.pth``. Preprocessing is clean-fid's own: its
``build_resizer(mode)`` and the tensor conversion of its ``ResizeDataset``, so the features equal
clean-fid's on the same images. A missing file raises `MissingResourceError`; nothing is fetched.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from mllmbench.core.errors import MissingResourceError
from mllmbench.core.paths import cache_root
from mllmbench.suites.metrics.image_features import (
    ExtractorInfo,
    FeatureExtractor,
    ResizeMode,
    torch_device,
    weights_hash,
)

TORCHSCRIPT_INCEPTION_FILE = "inception-2015-12-05.pt"
TORCHSCRIPT_INCEPTION_URL = (
    "https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/metrics/inception-2015-12-05.pt"
)
PYTORCH_FID_INCEPTION_FILE = "pt_inception-2015-12-05-6726825d.pth"
PYTORCH_FID_INCEPTION_URL = (
    "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
    "pt_inception-2015-12-05-6726825d.pth"
)
INCEPTION_WEIGHTS_ENV = "MLLMBENCH_INCEPTION_WEIGHTS"
"""Path of ``inception-2015-12-05.pt`` (modes clean and legacy_tensorflow)."""
PT_INCEPTION_WEIGHTS_ENV = "MLLMBENCH_PT_INCEPTION_WEIGHTS"
"""Path of ``pt_inception-2015-12-05-6726825d.pth`` (mode legacy_pytorch)."""
CLEANFID_DOWNLOAD_DIR = Path("/tmp")
"""Where clean-fid's ``feature_extractor`` downloads the TorchScript file on Linux and macOS."""


def find_inception_weights(mode: ResizeMode, explicit: str | Path | None = None) -> Path:
    """Locate the Inception weights for `mode` without downloading.

    Order: `explicit`, the environment variable, ``<cache_root>/weights/<file>``, then where
    clean-fid / pytorch-fid keep their download (``/tmp`` for the TorchScript file, torch hub's
    ``checkpoints/`` for the pytorch-fid file).
    """
    torchscript = mode is not ResizeMode.LEGACY_PYTORCH
    fname = TORCHSCRIPT_INCEPTION_FILE if torchscript else PYTORCH_FID_INCEPTION_FILE
    env = INCEPTION_WEIGHTS_ENV if torchscript else PT_INCEPTION_WEIGHTS_ENV
    url = TORCHSCRIPT_INCEPTION_URL if torchscript else PYTORCH_FID_INCEPTION_URL
    if explicit is not None:
        p = Path(explicit).expanduser()
        if p.is_dir():
            p = p / fname
        if not p.is_file():
            raise MissingResourceError(
                f"Inception weights not found at {p} (mode {mode.value} needs {fname})"
            )
        return p
    candidates: list[Path] = []
    if os.environ.get(env):
        candidates.append(Path(os.environ[env]).expanduser())
    candidates.append(cache_root() / "weights" / fname)
    if torchscript:
        candidates.append(CLEANFID_DOWNLOAD_DIR / fname)
    else:
        import torch.hub

        candidates.append(Path(torch.hub.get_dir()) / "checkpoints" / fname)
    for c in candidates:
        if c.is_file():
            return c
    searched = ", ".join(str(c) for c in candidates)
    raise MissingResourceError(
        f"FID mode {mode.value} needs the Inception weights file {fname}, which mllm-bench never downloads. "
        f"Get it on a machine with internet ({url}) and put it at {cache_root() / 'weights' / fname}, "
        f"or point at it with --inception-weights PATH or the environment variable {env}. "
        f"Searched: {searched}"
    )


class InceptionExtractor(FeatureExtractor):
    """clean-fid's Inception-v3 pool3 feature (2048-d) with one of clean-fid's modes."""

    def __init__(
        self,
        mode: ResizeMode = ResizeMode.CLEAN,
        weights: str | Path | None = None,
        *,
        device: str | None = None,
        batch_size: int = 64,
    ) -> None:
        import torch

        self.mode = ResizeMode(mode)
        self.batch_size = batch_size
        self.device = torch_device(device)
        path = find_inception_weights(self.mode, weights)
        if self.mode is ResizeMode.LEGACY_PYTORCH:
            self._model = _load_pytorch_fid_inception(path).to(self.device).eval()
        else:
            try:
                self._model = torch.jit.load(str(path), map_location=self.device).eval()
            except (RuntimeError, ValueError) as exc:
                raise MissingResourceError(
                    f"{path} is not a readable TorchScript Inception file: {exc}"
                ) from None
        with warnings.catch_warnings():
            # clean-fid's PyTorch resizer calls warnings.filterwarnings("ignore") process-wide.
            from cleanfid.resize import build_resizer

            self._resize = build_resizer(self.mode.value)
        self.info = ExtractorInfo(
            name="inception_v3_tf2015",
            dim=2048,
            weights_hash=weights_hash(path),
            preprocessing=self.mode.value,
            weights_path=str(path),
        )

    def _to_tensor(self, img: np.ndarray) -> Any:
        """clean-fid ``ResizeDataset.__getitem__`` after loading: resize, then to a CHW tensor."""
        import torchvision

        resized = self._resize(img)
        to_tensor = torchvision.transforms.ToTensor()
        if resized.dtype == np.uint8:
            return to_tensor(np.array(resized)) * 255
        return to_tensor(resized)

    def _forward(self, x: Any) -> Any:
        bs = x.shape[0]
        if self.mode is ResizeMode.LEGACY_PYTORCH:
            return self._model(x / 255)[0].squeeze(-1).squeeze(-1)
        if self.mode is ResizeMode.LEGACY_TENSORFLOW:
            return self._model(x, return_features=True).view((bs, 2048))
        return self._model.layers.forward((x - 128) / 128).view((bs, 2048))

    def _features(self, images: list[np.ndarray]) -> np.ndarray:
        import torch

        tensors = [self._to_tensor(im) for im in images]
        out = []
        with torch.no_grad():
            for batch in _same_shape_batches(tensors, self.batch_size):
                out.append(self._forward(torch.stack(batch).to(self.device)).detach().cpu().numpy())
        return np.concatenate(out, axis=0)


def _same_shape_batches(tensors: list[Any], batch_size: int) -> Iterator[list[Any]]:
    """Consecutive runs of equal-shaped tensors, at most `batch_size` long (legacy_tensorflow
    feeds raw sizes to the network, which cannot be stacked when they differ)."""
    batch: list[Any] = []
    for t in tensors:
        if batch and (len(batch) == batch_size or t.shape != batch[0].shape):
            yield batch
            batch = []
        batch.append(t)
    if batch:
        yield batch


def _load_pytorch_fid_inception(path: Path) -> Any:
    """clean-fid's ``InceptionV3(output_blocks=[3], resize_input=False)`` with local weights.

    clean-fid builds the network through ``load_state_dict_from_url``; it is pointed at the local
    file for the duration of the construction, so nothing is fetched.
    """
    import pickle
    from unittest import mock

    import torch
    from cleanfid import inception_pytorch

    def local_state_dict(url: str, progress: bool = False) -> Any:
        del url, progress
        return torch.load(str(path), map_location="cpu", weights_only=True)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # torchvision's `pretrained=` deprecation
        with mock.patch.object(inception_pytorch, "load_state_dict_from_url", local_state_dict):
            try:
                return inception_pytorch.InceptionV3(output_blocks=[3], resize_input=False)
            except (RuntimeError, KeyError, OSError, pickle.UnpicklingError) as exc:
                raise MissingResourceError(
                    f"{path} is not a pytorch-fid Inception state dict: {exc}"
                ) from None
