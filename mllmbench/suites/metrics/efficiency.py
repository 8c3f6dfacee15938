"""Latency, throughput and memory from the logged records, with the definitions of METRICS.md §5.

Every figure is computed from the ``samples.jsonl`` records (``timing``, ``tokens``, ``memory``),
so resumed and sharded runs give the same numbers as one pass. Figures are grouped by the
batch size the calls ran at (``/bs1`` and ``/bs<N>``); each `MetricValue` carries a
``context`` with the device, dtype, batch size and library versions it was measured under.

Per request (§5.1, §5.5), from the token times of `mllmbench.core.profiling.sample_timing`:

* ``ttft`` - preprocessing + generate start to the request's first token (mean);
* ``tpot`` - (E2EL - TTFT) / (N_out - 1), mean over the requests with N_out > 1;
* ``itl`` - the gaps between consecutive tokens, pooled over all requests (mean);
* ``decode_tokens_per_s`` - (N_out - 1) / (E2EL - TTFT), mean over the requests;
* ``e2e_latency`` - preprocessing + generate start to the request's last token: mean and the
  linearly interpolated p50 / p90 / p99 (``numpy.percentile``).

Per repetition of the sample set (several repetitions give the spread: stderr and a normal
95 % interval across repetitions):

* ``throughput_samples_per_s`` and ``throughput_output_tokens_per_s`` - samples and output
  tokens over the summed wall time of the adapter calls (``call_seconds``).

Per adapter call (mean): ``time_preprocess``, ``time_vision_connector``, ``time_llm_prefill``
(prefill minus vision + connector) and ``time_decode``.

Memory (peak over the calls, MiB = 2**20 bytes): ``peak_rss`` (process resident memory),
``cuda_max_allocated``, ``cuda_max_reserved``, ``nvml_process_peak`` (CUDA only). Over all
records: ``visual_tokens_per_image``, ``input_tokens``, ``output_tokens`` (means) and
``weights_memory``.

Batch-level times are shared by the samples of a call; a sample's share is the time divided by
its call's batch size, so sums over samples are sums over calls.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mllmbench.core.comparability import same_conditions  # noqa: F401  (re-exported)
from mllmbench.suites.base import Metric, MetricResult, MetricValue, Sample
from mllmbench.suites.metrics.stats import mean_stderr, normal_interval

MIB = 2**20
PERCENTILES = (50, 90, 99)
MEMORY_FIGURES = (
    ("peak_rss", "peak_rss_bytes"),
    ("cuda_max_allocated", "cuda_max_allocated_bytes"),
    ("cuda_max_reserved", "cuda_max_reserved_bytes"),
    ("nvml_process_peak", "nvml_process_peak_bytes"),
)
"""(metric name, key in a record's ``memory``)."""


@dataclass(frozen=True)
class _Row:
    """What the metric keeps of one logged record."""

    sample_id: str
    batching: str
    repetition: int
    batch_size: int
    call_seconds: float
    input_tokens: int
    output_tokens: int
    image_tokens: int
    n_images: int
    timing: Mapping[str, Any]
    video_frames: int = 0
    """Video frames the sample sent (``tokens.video_frames``; 0 for image samples)."""
    memory: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_record(cls, sample: Sample, record: Mapping[str, Any]) -> _Row:
        timing = record.get("timing") or {}
        tokens = record.get("tokens") or {}
        meta = sample.meta or {}
        return cls(
            sample_id=sample.sample_id,
            batching=str(meta.get("batching", "batched")),
            repetition=int(meta.get("repetition", 0)),
            batch_size=max(1, int(timing.get("batch_size") or 1)),
            call_seconds=float(timing["call_seconds"]),
            input_tokens=int(tokens.get("input") or 0),
            output_tokens=int(tokens.get("output") or 0),
            image_tokens=int(tokens.get("image") or 0),
            n_images=len(sample.image_paths),
            timing=dict(timing),
            memory=dict(record.get("memory") or {}),
            video_frames=int(tokens.get("video_frames") or 0),
        )

    def share(self, key: str) -> float | None:
        """This sample's share of a batch-level time (the time over the batch size)."""
        value = self.timing.get(key)
        return None if value is None else float(value) / self.batch_size


def percentile(values: Sequence[float], q: float) -> float:
    """``numpy.percentile(values, q)`` with its default linear interpolation."""
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


class EfficiencyMetric(Metric):
    """Latency, throughput, time split, token counts and memory from the logged records."""

    name = "efficiency"
    version = "1"

    def __init__(self) -> None:
        self._rows: list[_Row] = []
        self._ids: set[str] = set()
        self._untimed: list[str] = []
        self._context: dict[str, Any] = {}

    def update(self, sample: Sample, answer: str) -> dict[str, float]:
        """An answer alone carries no cost: nothing is added (the runner calls `update_record`)."""
        return {}

    def update_record(self, sample: Sample, record: Mapping[str, Any]) -> dict[str, float]:
        """Keep the record's timing, token counts and memory; no per-sample score.

        A record without ``timing.call_seconds`` (written by another harness version) is left
        out and named in the notes.
        """
        if sample.sample_id in self._ids:
            raise ValueError(f"sample {sample.sample_id!r} was added twice")
        self._ids.add(sample.sample_id)
        if (record.get("timing") or {}).get("call_seconds") is None:
            self._untimed.append(sample.sample_id)
            return {}
        self._rows.append(_Row.from_record(sample, record))
        return {}

    def set_run_context(self, context: Mapping[str, Any]) -> None:
        """Device, dtype, batch size and library versions, copied into every value's context."""
        self._context = dict(context)

    def merge(self, other: Metric) -> None:
        """Add another shard's rows (disjoint samples)."""
        if not isinstance(other, EfficiencyMetric):
            raise TypeError("can only merge an EfficiencyMetric")
        overlap = self._ids & other._ids
        if overlap:
            raise ValueError(f"shards overlap, e.g. sample {sorted(overlap)[0]!r}")
        self._rows.extend(other._rows)
        self._ids |= other._ids
        self._untimed.extend(other._untimed)
        self._context = self._context or other._context

    # --- compute ------------------------------------------------------------------------
    def compute(self) -> MetricResult:
        """Every figure of the module docstring; notes say which could not be measured."""
        notes: dict[str, str] = {}
        if self._untimed:
            notes[self.name] = (
                f"{len(self._untimed)} record(s) without timing.call_seconds left out, "
                f"e.g. {self._untimed[0]!r}"
            )
        if not self._rows:
            return MetricResult(values={}, notes={self.name: "no samples were timed"})
        values: dict[str, MetricValue] = {}
        for size, rows in self._groups().items():
            context = {**self._context, "batch_size": size, "clock": _clocks(rows)}
            values.update(
                {f"{k}/bs{size}": v for k, v in self._group_values(rows, context, notes, size).items()}
            )
        context = {**self._context, "clock": _clocks(self._rows)}
        values.update(self._token_values(context))
        weights = next((r.memory["weights_bytes"] for r in self._rows if r.memory.get("weights_bytes")), None)
        if weights:
            values["weights_memory"] = MetricValue(
                value=weights / MIB, n=len(self._rows), higher_is_better=False, unit="MiB", context=context
            )
        else:
            notes["weights_memory"] = "the adapter does not report its weights' size"
        return MetricResult(values=values, notes=notes)

    def _groups(self) -> dict[int, list[_Row]]:
        """Rows by the batch size their label ran at (largest call size in the label)."""
        by_label: dict[str, list[_Row]] = {}
        for row in self._rows:
            by_label.setdefault(row.batching, []).append(row)
        groups: dict[int, list[_Row]] = {}
        for rows in by_label.values():
            groups.setdefault(max(r.batch_size for r in rows), []).extend(rows)
        return dict(sorted(groups.items()))

    def _group_values(
        self, rows: list[_Row], context: dict[str, Any], notes: dict[str, str], size: int
    ) -> dict[str, MetricValue]:
        out: dict[str, MetricValue] = {}

        def latency(values: list[float]) -> MetricValue:
            return _mean_value(values, unit="s", higher_is_better=False, context=context)

        timed = [r for r in rows if r.timing.get("ttft_seconds") is not None]
        if timed:
            out["ttft"] = latency([float(r.timing["ttft_seconds"]) for r in timed])
            tpot = [
                float(r.timing["tpot_seconds"]) for r in timed if r.timing.get("tpot_seconds") is not None
            ]
            if tpot:
                out["tpot"] = latency(tpot)
                rates = [
                    (r.output_tokens - 1) / (r.timing["e2e_seconds"] - r.timing["ttft_seconds"])
                    for r in timed
                    if r.output_tokens > 1 and r.timing["e2e_seconds"] > r.timing["ttft_seconds"]
                ]
                out["decode_tokens_per_s"] = _mean_value(
                    rates, unit="tokens/s", higher_is_better=True, context=context
                )
            gaps = [float(g) for r in timed for g in (r.timing.get("itl_seconds") or [])]
            if gaps:
                out["itl"] = latency(gaps)
            e2e = [float(r.timing["e2e_seconds"]) for r in timed]
            out["e2e_latency"] = latency(e2e)
            for q in PERCENTILES:
                out[f"e2e_latency_p{q}"] = MetricValue(
                    value=percentile(e2e, q), n=len(e2e), higher_is_better=False, unit="s", context=context
                )
        else:
            notes[f"ttft/bs{size}"] = "the adapter reports no per-token times (no GenerationProfile)"
        out.update(_throughputs(rows, context))
        out.update(_time_split(rows, context))
        for name, key in MEMORY_FIGURES:
            peaks = [int(r.memory[key]) for r in rows if r.memory.get(key) is not None]
            if peaks:
                out[name] = MetricValue(
                    value=max(peaks) / MIB, n=len(peaks), higher_is_better=False, unit="MiB", context=context
                )
        if str(context.get("device", "")).startswith("cuda") and "nvml_process_peak" not in out:
            notes[f"nvml_process_peak/bs{size}"] = "pynvml is not importable or NVML gave no process figure"
        return out

    def _token_values(self, context: dict[str, Any]) -> dict[str, MetricValue]:
        rows = self._rows
        out = {
            "input_tokens": _mean_value(
                [float(r.input_tokens) for r in rows], unit="tokens", higher_is_better=False, context=context
            ),
            "output_tokens": _mean_value(
                [float(r.output_tokens) for r in rows], unit="tokens", higher_is_better=False, context=context
            ),
        }
        with_images = [r for r in rows if r.n_images]
        if with_images:
            out["visual_tokens_per_image"] = MetricValue(
                value=sum(r.image_tokens for r in with_images) / sum(r.n_images for r in with_images),
                n=len(with_images),
                higher_is_better=False,
                unit="tokens",
                context=context,
            )
        out.update(_per_frame(rows, context))
        return out


def _per_frame(rows: Sequence[_Row], context: dict[str, Any]) -> dict[str, MetricValue]:
    """Per-frame cost of video samples: visual tokens per frame (pooled), and each sample's share
    of its call's vision + connector time and of its end-to-end latency over its frames (mean)."""
    video = [r for r in rows if r.video_frames]
    if not video:
        return {}
    out = {
        "visual_tokens_per_frame": MetricValue(
            value=sum(r.image_tokens for r in video) / sum(r.video_frames for r in video),
            n=len(video),
            higher_is_better=False,
            unit="tokens",
            context=context,
        )
    }
    vision = [r.share("vision_seconds") for r in video]
    if all(v is not None for v in vision):
        out["time_vision_connector_per_frame"] = _mean_value(
            [v / r.video_frames for v, r in zip(vision, video, strict=True) if v is not None],
            unit="s",
            higher_is_better=False,
            context=context,
        )
    e2e = [r.timing.get("e2e_seconds") for r in video]
    if all(e is not None for e in e2e):
        out["e2e_latency_per_frame"] = _mean_value(
            [float(e) / r.video_frames for e, r in zip(e2e, video, strict=True) if e is not None],
            unit="s",
            higher_is_better=False,
            context=context,
        )
    return out


def _clocks(rows: Sequence[_Row]) -> str:
    return ",".join(sorted({str(r.timing["clock"]) for r in rows if r.timing.get("clock")})) or "none"


def _mean_value(
    values: Sequence[float], *, unit: str, higher_is_better: bool, context: dict[str, Any]
) -> MetricValue:
    """Mean with SE = sample sd / sqrt(n) and a normal 95 % interval (n >= 2)."""
    n = len(values)
    mean = math.fsum(values) / n
    if n < 2:
        return MetricValue(value=mean, n=n, higher_is_better=higher_is_better, unit=unit, context=context)
    se = mean_stderr(values)
    low, high = normal_interval(mean, se)
    return MetricValue(
        value=mean,
        n=n,
        stderr=se,
        ci_low=low,
        ci_high=high,
        ci_method="normal",
        higher_is_better=higher_is_better,
        unit=unit,
        context=context,
    )


def _throughputs(rows: Sequence[_Row], context: dict[str, Any]) -> dict[str, MetricValue]:
    """Samples/s and output tokens/s per repetition; mean and spread across repetitions."""
    by_rep: dict[int, list[_Row]] = {}
    for row in rows:
        by_rep.setdefault(row.repetition, []).append(row)
    samples_per_s, tokens_per_s = [], []
    for reps in by_rep.values():
        seconds = math.fsum(r.call_seconds / r.batch_size for r in reps)
        if seconds > 0:
            samples_per_s.append(len(reps) / seconds)
            tokens_per_s.append(sum(r.output_tokens for r in reps) / seconds)
    if not samples_per_s:
        return {}
    return {
        "throughput_samples_per_s": _mean_value(
            samples_per_s, unit="samples/s", higher_is_better=True, context=context
        ),
        "throughput_output_tokens_per_s": _mean_value(
            tokens_per_s, unit="tokens/s", higher_is_better=True, context=context
        ),
    }


def _time_split(rows: Sequence[_Row], context: dict[str, Any]) -> dict[str, MetricValue]:
    """Mean seconds per adapter call in preprocessing, vision + connector, LLM prefill, decode."""
    n_calls = math.fsum(1 / r.batch_size for r in rows)

    def llm_prefill(r: _Row) -> float | None:
        prefill = r.share("prefill_seconds")
        vision = r.share("vision_seconds")
        return None if prefill is None else prefill - (vision or 0.0)

    parts: dict[str, Callable[[_Row], float | None]] = {
        "time_preprocess": lambda r: r.share("preprocess_seconds"),
        "time_vision_connector": lambda r: r.share("vision_seconds"),
        "time_llm_prefill": llm_prefill,
        "time_decode": lambda r: r.share("decode_seconds"),
    }
    out: dict[str, MetricValue] = {}
    for name, share in parts.items():
        shares = [share(r) for r in rows]
        if shares and all(s is not None for s in shares):
            out[name] = MetricValue(
                value=math.fsum(s for s in shares if s is not None) / n_calls,
                n=len(rows),
                higher_is_better=False,
                unit="s",
                context=context,
            )
    return out
