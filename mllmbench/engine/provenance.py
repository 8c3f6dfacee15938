"""Provenance recorded in every run: versions, git commit, device, seeds, config hash."""

from __future__ import annotations

import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from mllmbench import __version__
from mllmbench.core.hashing import json_sha256

LIBRARIES = (
    "torch",
    "torchvision",
    "transformers",
    "tokenizers",
    "accelerate",
    "torchmetrics",
    "pycocoevalcap",
    "pycocotools",
    "clean-fid",
    "diffusers",
    "numpy",
    "scipy",
    "pandas",
    "pillow",
)


def library_versions() -> dict[str, str | None]:
    """Installed versions of the libraries that can change numbers (None when absent)."""
    out: dict[str, str | None] = {}
    for name in LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def git_commit(path: Path | None = None) -> str | None:
    """The commit of the mllm-bench source tree when it is a git checkout (None otherwise)."""
    where = path or Path(__file__).resolve().parents[2]
    try:
        res = subprocess.run(
            ["git", "-C", str(where), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if res.returncode != 0:
        return None
    sha = res.stdout.strip()
    dirty = subprocess.run(
        ["git", "-C", str(where), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
        timeout=5,
        check=False,
    )
    return sha + ("-dirty" if dirty.stdout.strip() else "")


def device_info(device: str) -> dict[str, Any]:
    """Device name and accelerator details; CUDA-only calls happen only for CUDA devices."""
    info: dict[str, Any] = {"device": device, "cpu": platform.processor() or platform.machine()}
    import torch

    info["torch_threads"] = torch.get_num_threads()
    if device.startswith("cuda") and torch.cuda.is_available():
        idx = torch.device(device).index or 0
        props = torch.cuda.get_device_properties(idx)
        info["device_name"] = props.name
        info["cuda"] = torch.version.cuda
        info["gpu_memory_bytes"] = int(props.total_memory)
        try:
            import pynvml  # type: ignore[import-not-found]

            pynvml.nvmlInit()
            info["driver"] = pynvml.nvmlSystemGetDriverVersion()
        except Exception:  # noqa: BLE001 - NVML is optional
            info["driver"] = None
    else:
        info["device_name"] = f"cpu:{platform.machine()}"
        info["cuda"] = None
    return info


def collect_versions_only() -> dict[str, Any]:
    """Package and library versions, without touching any device."""
    return {"mllm_bench": __version__, "libraries": library_versions()}


def collect(device: str) -> dict[str, Any]:
    """Everything needed to say where a number came from."""
    return {
        "mllm_bench": __version__,
        "git_commit": git_commit(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "libraries": library_versions(),
        **device_info(device),
    }


def config_hash(config: dict[str, Any]) -> str:
    """Stable short hash of a JSON-able config (sorted keys); names the run."""
    return json_sha256(config, separators=(",", ":"), default=str)[:12]
