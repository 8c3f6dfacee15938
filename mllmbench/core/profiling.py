"""Timing and memory of model calls, measured as METRICS.md §5 prescribes.

* `Timeline` - labelled timestamps, from ``time.perf_counter`` on the CPU or from CUDA events
  on a GPU (recorded on the device's stream without synchronising, read after one
  synchronize at the end, like optimum-benchmark's per-token mode).
* `GenerateProfiler` - wraps one ``model.generate`` call: a stopping criterion marks the moment
  each new token has been appended (every step), forward hooks on the vision encoder and
  connector modules mark their entry and exit. From the marks: prefill (generate start to the
  first token, vision inside), decode (first token to generate end), vision + connector time,
  and the per-step token times.
* `MemoryTracker` - the peak memory of one region: on CUDA ``max_memory_allocated`` and
  ``max_memory_reserved`` after ``reset_peak_memory_stats`` (and the NVML peaks when
  ``pynvml`` is importable); always the peak resident memory of the process.
* `sample_timing` - the per-sample figures (TTFT, E2EL, TPOT, ITL) from a `GenerationProfile`.

Every CUDA call sits behind a check that the device is a CUDA device, so CPU runs never touch
CUDA-only APIs. torch is imported inside functions only.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from mllmbench.core.types import GenerationProfile

log = logging.getLogger(__name__)

HOST_CLOCK = "perf_counter"
CUDA_CLOCK = "cuda_events"
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


# --- clocks -------------------------------------------------------------------------------
class Timeline:
    """Labelled marks on one clock; `seconds` gives each mark's time since the first mark.

    On CUDA each mark records an event on the device's current stream, so marking never
    synchronises; `seconds` synchronises once on the last event before reading them.
    ``event_factory`` replaces ``torch.cuda.Event(enable_timing=True)`` (tests).
    """

    def __init__(self, device: str = "cpu", *, event_factory: Callable[[], Any] | None = None) -> None:
        self.device = device
        self.cuda = is_cuda(device) or event_factory is not None
        self.clock = CUDA_CLOCK if self.cuda else HOST_CLOCK
        self._labels: list[str] = []
        self._stamps: list[Any] = []
        self._stream: Any = None
        self._new_event = event_factory
        if self.cuda and event_factory is None:
            import torch

            self._stream = torch.cuda.current_stream(torch.device(device))
            self._new_event = lambda: torch.cuda.Event(enable_timing=True)

    def mark(self, label: str) -> None:
        """Stamp the current position of the host (CPU) or of the device stream (CUDA)."""
        if self.cuda:
            assert self._new_event is not None
            event = self._new_event()
            event.record(self._stream)
            self._stamps.append(event)
        else:
            self._stamps.append(time.perf_counter())
        self._labels.append(label)

    def seconds(self) -> list[tuple[str, float]]:
        """``(label, seconds since the first mark)`` for every mark, in order."""
        if not self._stamps:
            return []
        if self.cuda:
            self._stamps[-1].synchronize()
            first = self._stamps[0]
            times = [first.elapsed_time(event) / 1000.0 for event in self._stamps]
        else:
            times = [t - self._stamps[0] for t in self._stamps]
        return list(zip(self._labels, times, strict=True))


# --- generate -----------------------------------------------------------------------------
@dataclass(frozen=True)
class GenerateTimes:
    """What `GenerateProfiler` measured of one generate call (batch-level)."""

    prefill_seconds: float
    """Generate start to the first token of the batch (vision encoder and connector inside)."""
    decode_seconds: float
    """First token to generate end."""
    vision_seconds: float | None
    """Time inside the vision encoder and connector modules; None when none was hooked."""
    step_seconds: tuple[float, ...]
    """When each generation step's token was appended, seconds since generate start."""
    total_seconds: float
    """Generate start to generate end on the same clock."""
    clock: str


class GenerateProfiler:
    """Times one (or several consecutive) ``generate`` calls of a model; use as a context manager.

    ``with profiler: model.generate(..., stopping_criteria=profiler.stopping_criteria())``
    then `times`. The vision modules are the encoder and connector submodules; nested or
    overlapping calls among them count once (the clock runs while any of them is active).
    """

    def __init__(
        self,
        device: str,
        vision_modules: Iterable[Any] = (),
        *,
        event_factory: Callable[[], Any] | None = None,
    ) -> None:
        self.timeline = Timeline(device, event_factory=event_factory)
        self._modules = list(vision_modules)
        self._handles: list[Any] = []
        self._depth = 0

    def stopping_criteria(self) -> Any:
        """A ``StoppingCriteria`` that never stops generation and marks each appended token."""
        return _token_marker_class()(self.timeline)

    def add_to(self, generate_kwargs: Mapping[str, Any]) -> dict[str, Any]:
        """`generate_kwargs` with the token marker appended to any ``stopping_criteria`` given."""
        from transformers import StoppingCriteriaList

        kwargs = dict(generate_kwargs)
        criteria = StoppingCriteriaList(kwargs.get("stopping_criteria") or [])
        criteria.append(self.stopping_criteria())
        kwargs["stopping_criteria"] = criteria
        return kwargs

    def __enter__(self) -> GenerateProfiler:
        for module in self._modules:
            self._handles.append(module.register_forward_pre_hook(self._enter_vision))
            self._handles.append(module.register_forward_hook(self._exit_vision))
        self.timeline.mark("start")
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.timeline.mark("end")
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        self._depth = 0

    def _enter_vision(self, module: Any, args: Any) -> None:
        if self._depth == 0:
            self.timeline.mark("vision_enter")
        self._depth += 1

    def _exit_vision(self, module: Any, args: Any, output: Any) -> None:
        self._depth -= 1
        if self._depth == 0:
            self.timeline.mark("vision_exit")

    def times(self) -> GenerateTimes:
        """Read the marks (synchronises once on CUDA)."""
        marks = self.timeline.seconds()
        steps = tuple(t for label, t in marks if label == "token")
        end = next(t for label, t in reversed(marks) if label == "end")
        vision: float | None = None
        if self._modules:
            vision = 0.0
            entered: float | None = None
            for label, t in marks:
                if label == "vision_enter":
                    entered = t
                elif label == "vision_exit" and entered is not None:
                    vision += t - entered
                    entered = None
        first = steps[0] if steps else end
        return GenerateTimes(
            prefill_seconds=first,
            decode_seconds=end - first,
            vision_seconds=vision,
            step_seconds=steps,
            total_seconds=end,
            clock=self.timeline.clock,
        )


_MARKER_CLASS: type | None = None


def _token_marker_class() -> type:
    """The ``StoppingCriteria`` subclass, built on first use so importing this module stays light."""
    global _MARKER_CLASS
    if _MARKER_CLASS is None:
        import torch
        from transformers import StoppingCriteria

        class TokenMarker(StoppingCriteria):  # type: ignore[misc]
            """Called by ``generate`` right after each step appends its tokens; never stops."""

            def __init__(self, timeline: Timeline) -> None:
                self.timeline = timeline
                self._never: Any = None

            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
                self.timeline.mark("token")
                never = self._never
                if never is None or never.shape[0] != input_ids.shape[0] or never.device != input_ids.device:
                    never = torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
                    self._never = never
                return never

            def __deepcopy__(self, memo: dict[int, Any]) -> Any:
                return self  # a copied marker would stamp a timeline nobody reads

        _MARKER_CLASS = TokenMarker
    return _MARKER_CLASS


def sample_timing(profile: GenerationProfile) -> dict[str, Any]:
    """Per-sample figures of METRICS.md §5.5 from a sample's `GenerationProfile`.

    * ``ttft_seconds`` = preprocessing + generate start to this sample's first token;
    * ``e2e_seconds`` = preprocessing + generate start to this sample's last token;
    * ``tpot_seconds`` = (E2EL - TTFT) / (N_out - 1), None when N_out <= 1;
    * ``itl_seconds`` = the gaps between this sample's consecutive tokens;

    plus the batch-level ``preprocess_seconds``, ``prefill_seconds``, ``decode_seconds``,
    ``vision_seconds`` and the ``clock`` they were read from.
    """
    tokens = profile.token_seconds
    out: dict[str, Any] = {
        "preprocess_seconds": profile.preprocess_seconds,
        "prefill_seconds": profile.prefill_seconds,
        "decode_seconds": profile.decode_seconds,
        "vision_seconds": profile.vision_seconds,
        "clock": profile.clock,
    }
    if not tokens:
        return out
    ttft = profile.preprocess_seconds + tokens[0]
    e2e = profile.preprocess_seconds + tokens[-1]
    out["ttft_seconds"] = ttft
    out["e2e_seconds"] = e2e
    out["tpot_seconds"] = (e2e - ttft) / (len(tokens) - 1) if len(tokens) > 1 else None
    out["itl_seconds"] = [b - a for a, b in zip(tokens, tokens[1:], strict=False)]
    return out


# --- memory -------------------------------------------------------------------------------
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
