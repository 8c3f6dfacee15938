"""Timing of model calls, measured as METRICS.md §5 prescribes.

* `Timeline` - labelled timestamps, from ``time.perf_counter`` on the CPU or from CUDA events
  on a GPU (recorded on the device's stream without synchronising, read after one
  synchronize at the end, like optimum-benchmark's per-token mode).
* `GenerateProfiler` - wraps one ``model.generate`` call: a stopping criterion marks the moment
  each new token has been appended (every step), forward hooks on the vision encoder and
  connector modules mark their entry and exit. From the marks: prefill (generate start to the
  first token, vision inside), decode (first token to generate end), vision + connector time,
  and the per-step token times.
* `MemoryTracker` and the other memory figures live in `mllmbench.core.memory` (re-exported here).
* `sample_timing` - the per-sample figures (TTFT, E2EL, TPOT, ITL) from a `GenerationProfile`.

Every CUDA call sits behind a check that the device is a CUDA device, so CPU runs never touch
CUDA-only APIs. torch is imported inside functions only.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from mllmbench.core.memory import (  # re-exported: memory figures used to live here
    MIB,
    POLL_SECONDS,
    MemoryTracker,
    _reset_vmhwm,
    current_rss_bytes,
    free_accelerator_memory,
    is_cuda,
    weights_bytes,
)
from mllmbench.core.types import GenerationProfile

log = logging.getLogger(__name__)

HOST_CLOCK = "perf_counter"
CUDA_CLOCK = "cuda_events"


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


__all__ = [
    "CUDA_CLOCK",
    "HOST_CLOCK",
    "MIB",
    "POLL_SECONDS",
    "GenerateProfiler",
    "GenerateTimes",
    "MemoryTracker",
    "Timeline",
    "_reset_vmhwm",
    "current_rss_bytes",
    "free_accelerator_memory",
    "is_cuda",
    "sample_timing",
    "weights_bytes",
]
