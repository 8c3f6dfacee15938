"""Memory of model calls, measured as METRICS.md §5 prescribes.

* `MemoryTracker` - the peak memory of one region: on CUDA ``max_memory_allocated`` and
  ``max_memory_reserved`` after ``reset_peak_memory_stats`` (and the NVML peaks when
  ``pynvml`` is importable); always the peak resident memory of the process (the kernel's
  VmHWM where it can be reset, else a polling thread).
* `weights_bytes` - parameter and buffer bytes of a loaded model, shared storage counted once.
* `free_accelerator_memory` - release cached accelerator memory after an out-of-memory error.

Every CUDA call sits behind `is_cuda`, so CPU runs never touch CUDA-only APIs. torch is
imported inside functions only. Timing lives in `mllmbench.core.profiling`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

log = logging.getLogger(__name__)

MIB = 2**20
"""Memory figures are reported in MiB (2**20 bytes), not optimum-benchmark's MB (1e6, quirk Q19)."""
POLL_SECONDS = 0.01
"""Interval of the NVML poller (optimum-benchmark's 10 ms) and of the fallback RSS poller."""

_PROC_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")
_VMHWM = re.compile(rb"^VmHWM:\s+(\d+)\s+kB", re.MULTILINE)


def is_cuda(device: str) -> bool:
    """Whether `device` names a CUDA device (the guard in front of every CUDA-only call)."""
    return str(device).startswith("cuda")


def current_rss_bytes() -> int:
    """Resident memory of this process now."""
    import psutil

    return int(psutil.Process().memory_info().rss)


def _read_vmhwm() -> int | None:
    try:
        match = _VMHWM.search(_PROC_STATUS.read_bytes())
    except OSError:
        return None
    return int(match.group(1)) * 1024 if match else None


def _reset_vmhwm() -> bool:
    """Reset the kernel's peak-RSS counter of this process (Linux >= 4.0); False when refused."""
    try:
        with _CLEAR_REFS.open("w") as fh:
            fh.write("5")
    except OSError:
        return False
    return _read_vmhwm() is not None


class _Poller:
    """A daemon thread calling `sample` every `POLL_SECONDS` and keeping the maxima it returns."""

    def __init__(self, sample: Callable[[], dict[str, int]]) -> None:
        self._sample = sample
        self.peaks: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="mllmbench-memory-poller", daemon=True)

    def _take(self) -> None:
        try:
            values = self._sample()
        except Exception as exc:  # noqa: BLE001 - a failed poll must not break the measured call
            log.debug("memory poll failed: %s", exc)
            return
        for key, value in values.items():
            self.peaks[key] = max(self.peaks.get(key, 0), value)

    def _loop(self) -> None:
        while not self._stop.wait(POLL_SECONDS):
            self._take()

    def start(self) -> None:
        self._take()
        self._thread.start()

    def stop(self) -> dict[str, int]:
        self._stop.set()
        self._thread.join()
        self._take()
        return self.peaks


def _nvml_sampler(device: str) -> Callable[[], dict[str, int]] | None:
    """A function reading NVML's device-used and this process's GPU memory; None without pynvml."""
    try:
        import pynvml  # type: ignore[import-not-found]
        import torch

        pynvml.nvmlInit()
        index = torch.device(device).index or 0
        try:
            nvml_index = torch.cuda._get_nvml_device_index(index)  # honours CUDA_VISIBLE_DEVICES
        except Exception:  # noqa: BLE001 - private helper; plain index when it is missing
            nvml_index = index
        handle = pynvml.nvmlDeviceGetHandleByIndex(nvml_index)
    except Exception as exc:  # noqa: BLE001 - NVML is optional
        log.debug("no NVML memory figures: %s", exc)
        return None
    pid = os.getpid()

    def sample() -> dict[str, int]:
        out = {"nvml_device_used_bytes": int(pynvml.nvmlDeviceGetMemoryInfo(handle).used)}
        mine = [
            p.usedGpuMemory
            for p in pynvml.nvmlDeviceGetComputeRunningProcesses(handle)
            if p.pid == pid and p.usedGpuMemory is not None
        ]
        if mine:
            out["nvml_process_bytes"] = int(sum(mine))
        return out

    return sample


class MemoryTracker:
    """Peak memory of the region inside ``with``; the figures are in `figures` afterwards (bytes).

    Always: ``peak_rss_bytes`` (peak resident memory of the process during the region, from
    the kernel's VmHWM after resetting it, or else polled with psutil) and
    ``rss_before_bytes``. On a CUDA device also ``cuda_max_allocated_bytes`` and
    ``cuda_max_reserved_bytes`` (after ``reset_peak_memory_stats``, with a synchronize on both
    sides), ``cuda_allocated_before_bytes``, and the NVML peaks ``nvml_process_peak_bytes`` /
    ``nvml_device_peak_bytes`` (whole device: other processes and the CUDA context included)
    when ``pynvml`` is importable.
    """

    def __init__(self, device: str = "cpu") -> None:
        self.device = device
        self.figures: dict[str, Any] = {}
        self._rss_poller: _Poller | None = None
        self._nvml_poller: _Poller | None = None
        self._vmhwm = False

    def __enter__(self) -> MemoryTracker:
        self.figures = {"rss_before_bytes": current_rss_bytes()}
        if is_cuda(self.device):
            import torch

            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self.figures["cuda_allocated_before_bytes"] = int(torch.cuda.memory_allocated(self.device))
            sampler = _nvml_sampler(self.device)
            if sampler is not None:
                self._nvml_poller = _Poller(sampler)
                self._nvml_poller.start()
        self._vmhwm = _reset_vmhwm()
        if not self._vmhwm:
            self._rss_poller = _Poller(lambda: {"rss": current_rss_bytes()})
            self._rss_poller.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if is_cuda(self.device):
            import torch

            with contextlib.suppress(RuntimeError):  # a failed call may leave the device unusable
                torch.cuda.synchronize(self.device)
                self.figures["cuda_max_allocated_bytes"] = int(torch.cuda.max_memory_allocated(self.device))
                self.figures["cuda_max_reserved_bytes"] = int(torch.cuda.max_memory_reserved(self.device))
        if self._nvml_poller is not None:
            peaks = self._nvml_poller.stop()
            if "nvml_process_bytes" in peaks:
                self.figures["nvml_process_peak_bytes"] = peaks["nvml_process_bytes"]
            if "nvml_device_used_bytes" in peaks:
                self.figures["nvml_device_peak_bytes"] = peaks["nvml_device_used_bytes"]
            self._nvml_poller = None
        if self._vmhwm:
            peak = _read_vmhwm()
            self.figures["peak_rss_bytes"] = peak if peak is not None else current_rss_bytes()
            self.figures["rss_peak_method"] = "vmhwm"
        else:
            assert self._rss_poller is not None
            self.figures["peak_rss_bytes"] = self._rss_poller.stop().get("rss", current_rss_bytes())
            self.figures["rss_peak_method"] = "polled"
            self._rss_poller = None


def weights_bytes(model: Any) -> int:
    """Bytes of the model's parameters and buffers (each tensor storage counted once)."""
    seen: set[tuple[str, int, int]] = set()
    total = 0
    for tensor in (*model.parameters(), *model.buffers()):
        key = (tensor.device.type, tensor.device.index or 0, tensor.untyped_storage().data_ptr())
        if tensor.device.type == "meta" or key in seen:
            continue
        seen.add(key)
        total += tensor.untyped_storage().nbytes()
    return total


def free_accelerator_memory(device: str) -> None:
    """Release cached accelerator memory after an out-of-memory error (no-op on the CPU)."""
    if not is_cuda(device):
        return
    import gc

    import torch

    gc.collect()
    torch.cuda.empty_cache()
