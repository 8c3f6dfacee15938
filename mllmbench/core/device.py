"""The one device policy of `run` and `score`: CPU unless a device is asked for.

`check_device` validates the spelling (``cpu``, ``cuda``, ``cuda:N``) without importing torch, so
a typo fails before anything loads; `resolve_device` also checks that an asked-for CUDA device
exists, with a clear error when it does not.
"""

from __future__ import annotations

import re

from mllmbench.core.errors import ConfigError

DEFAULT_DEVICE = "cpu"
"""Runs and scoring use the CPU unless ``--device`` asks for an accelerator."""
DTYPES = ("float32", "bfloat16", "float16")
"""Weight and activation dtypes a run accepts (``--dtype``)."""
_DEVICE = re.compile(r"^(cpu|cuda(:\d+)?)$")


def check_device(device: str | None, *, flag: str = "--device") -> str:
    """`device` (None: `DEFAULT_DEVICE`) if it is ``cpu``, ``cuda`` or ``cuda:N``; else `ConfigError`."""
    if device is None:
        return DEFAULT_DEVICE
    if not isinstance(device, str) or not _DEVICE.match(device):
        raise ConfigError(f"{flag} must be cpu, cuda or cuda:N, got {device!r}")
    return device


def check_dtype(dtype: str, *, flag: str = "--dtype") -> str:
    """`dtype` if it is one of `DTYPES`; else `ConfigError`."""
    if dtype not in DTYPES:
        raise ConfigError(f"{flag} must be one of {', '.join(DTYPES)}, got {dtype!r}")
    return dtype


def resolve_device(device: str | None, *, flag: str = "--device") -> str:
    """`check_device`, then make sure an asked-for CUDA device is there (imports torch only then)."""
    device = check_device(device, flag=flag)
    if device == "cpu":
        return device
    import torch

    if not torch.cuda.is_available():
        raise ConfigError(f"{flag} {device}: CUDA is not available on this machine; use --device cpu")
    index = int(device.partition(":")[2] or 0)
    if index >= torch.cuda.device_count():
        raise ConfigError(
            f"{flag} {device}: this machine has {torch.cuda.device_count()} CUDA device(s) (cuda:0...)"
        )
    return device
