"""Efficiency suite: per-sample timing, memory tracking, the metric, and `mllm-bench run` end to end.

The timing checks compare the adapter's reported figures with an independent wall clock on the
same ``generate`` calls (a streamer stamping every step, and ``perf_counter`` around the call).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mllmbench.adapters.llava import LlavaAdapter
from mllmbench.cli.main import main
from mllmbench.core import profiling
from mllmbench.core.images import open_rgb
from mllmbench.core.types import GenerationProfile, GenerationSettings, UnderstandRequest
from mllmbench.suites.base import Sample
from mllmbench.suites.efficiency import EfficiencySuite
from mllmbench.suites.metrics.efficiency import EfficiencyMetric, percentile, same_conditions
from mllmbench.suites.shapes_suites import ShapesVQASuite

MIB = 2**20
CUDA_ONLY = (
    "synchronize",
    "reset_peak_memory_stats",
    "max_memory_allocated",
    "max_memory_reserved",
    "memory_allocated",
    "memory_reserved",
    "current_stream",
    "Event",
    "empty_cache",
    "get_device_properties",
)


def _forbid_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every CUDA-only API raise, so a CPU run that touches one fails."""
    import torch

    def boom(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a CPU run called a CUDA-only API")

    for name in CUDA_ONLY:
        monkeypatch.setattr(torch.cuda, name, boom)


# --- pure functions -----------------------------------------------------------------------
def test_percentile_is_numpys_linear_interpolation() -> None:
    rng = np.random.default_rng(0)
    for n in (1, 2, 7, 24, 101):
        xs = list(rng.exponential(size=n))
        for q in (0, 50, 90, 99, 100):
            assert percentile(xs, q) == pytest.approx(float(np.percentile(xs, q)), rel=1e-12)


def test_sample_timing_follows_the_vllm_definitions() -> None:
    profile = GenerationProfile(
        preprocess_seconds=0.5,
        prefill_seconds=1.0,
        decode_seconds=3.0,
        vision_seconds=0.25,
        token_seconds=(1.0, 1.5, 2.5, 4.0),
    )
    t = profiling.sample_timing(profile)
    assert t["ttft_seconds"] == 1.5 and t["e2e_seconds"] == 4.5
    assert t["tpot_seconds"] == pytest.approx((4.5 - 1.5) / 3)
    assert t["itl_seconds"] == [0.5, 1.0, 1.5]
    one = profiling.sample_timing(GenerationProfile(0.0, 1.0, 0.0, None, (1.0,)))
    assert one["tpot_seconds"] is None and one["itl_seconds"] == []


class _FakeEvent:
    """Stands for ``torch.cuda.Event``: remembers when it was recorded, answers in ms."""

    synchronized = 0

    def record(self, stream: Any = None) -> None:
        self.t = time.perf_counter()

    def synchronize(self) -> None:
        _FakeEvent.synchronized += 1

    def elapsed_time(self, other: _FakeEvent) -> float:
        return (other.t - self.t) * 1000.0


def test_event_timeline_converts_ms_and_synchronizes_once() -> None:
    _FakeEvent.synchronized = 0
    timeline = profiling.Timeline("cuda", event_factory=_FakeEvent)
    assert timeline.clock == profiling.CUDA_CLOCK
    t0 = time.perf_counter()
    timeline.mark("start")
    time.sleep(0.02)
    timeline.mark("token")
    elapsed = time.perf_counter() - t0
    marks = timeline.seconds()
    assert [label for label, _ in marks] == ["start", "token"]
    assert marks[0][1] == 0.0 and 0.02 <= marks[1][1] <= elapsed
    assert _FakeEvent.synchronized == 1


def test_memory_tracker_takes_the_cuda_path_only_on_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    calls: list[str] = []
    fakes = {
        "synchronize": lambda device=None: calls.append("synchronize"),
        "reset_peak_memory_stats": lambda device=None: calls.append("reset"),
        "memory_allocated": lambda device=None: 100,
        "max_memory_allocated": lambda device=None: calls.append("max_allocated") or 3 * MIB,
        "max_memory_reserved": lambda device=None: 4 * MIB,
    }
    for name, fake in fakes.items():
        monkeypatch.setattr(torch.cuda, name, fake)
    with profiling.MemoryTracker("cuda:0") as tracker:
        calls.append("work")
    assert calls == ["synchronize", "reset", "work", "synchronize", "max_allocated"]
    assert tracker.figures["cuda_max_allocated_bytes"] == 3 * MIB
    assert tracker.figures["cuda_max_reserved_bytes"] == 4 * MIB
    assert tracker.figures["cuda_allocated_before_bytes"] == 100
    _forbid_cuda(monkeypatch)
    with profiling.MemoryTracker("cpu") as tracker:
        pass
    assert not any(k.startswith("cuda") for k in tracker.figures)


@pytest.mark.parametrize("method", ["vmhwm", "polled"])
def test_peak_rss_sees_a_transient_allocation(monkeypatch: pytest.MonkeyPatch, method: str) -> None:
    if method == "polled":
        monkeypatch.setattr("mllmbench.core.memory._reset_vmhwm", lambda: False)
    elif not profiling._reset_vmhwm():
        pytest.skip("this kernel does not let a process reset its peak RSS")
    with profiling.MemoryTracker("cpu") as idle:
        pass
    with profiling.MemoryTracker("cpu") as busy:
        block = np.ones(96 * MIB // 8)  # touched pages: resident
        time.sleep(5 * profiling.POLL_SECONDS)
        del block
    assert busy.figures["rss_peak_method"] == idle.figures["rss_peak_method"] == method
    assert busy.figures["peak_rss_bytes"] >= busy.figures["rss_before_bytes"] + 90 * MIB
    assert idle.figures["peak_rss_bytes"] < busy.figures["peak_rss_bytes"] - 80 * MIB


# --- the metric on synthetic records --------------------------------------------------------
def _record(sample: Sample, *, bs: int, call: float, tokens: list[float], pre: float, mem: int) -> dict:
    profile = GenerationProfile(pre, tokens[0], 0.1, 0.01, tuple(tokens))
    return {
        "answer": "x",
        "timing": {"batch_size": bs, "call_seconds": call, **profiling.sample_timing(profile)},
        "tokens": {"input": 40, "output": len(tokens), "image": 16},
        "memory": {"peak_rss_bytes": mem, "weights_bytes": 3 * MIB},
    }


def test_metric_figures_from_records() -> None:
    rng = np.random.default_rng(1)
    metric = EfficiencyMetric()
    metric.set_run_context({"device": "cpu", "device_name": "cpu:x", "dtype": "float32", "batch_size": 2})
    rows = []
    for batching, bs in (("single", 1), ("batched", 2)):
        for rep in range(3):
            call = float(rng.uniform(1, 2))
            for k in range(2):
                sample = Sample(
                    f"q{k}:{batching}:r{rep}", ("a.png",), "?", meta={"batching": batching, "repetition": rep}
                )
                n_out = int(rng.integers(1, 6))
                tokens = list(np.cumsum(rng.uniform(0.01, 0.2, size=n_out)))
                rec = _record(sample, bs=bs, call=call, tokens=tokens, pre=0.05, mem=(100 + bs) * MIB + k)
                metric.update_record(sample, rec)
                rows.append((bs, rep, call, rec))
    res = metric.compute()
    v = res.values
    for bs in (1, 2):
        mine = [r for b, _, _, r in rows if b == bs]
        t = [r["timing"] for r in mine]
        assert v[f"ttft/bs{bs}"].value == pytest.approx(np.mean([x["ttft_seconds"] for x in t]))
        e2e = [x["e2e_seconds"] for x in t]
        assert v[f"e2e_latency_p90/bs{bs}"].value == pytest.approx(np.percentile(e2e, 90))
        multi = [r for r in mine if r["tokens"]["output"] > 1]
        assert v[f"tpot/bs{bs}"].n == len(multi)
        rates = [
            (r["tokens"]["output"] - 1) / (r["timing"]["e2e_seconds"] - r["timing"]["ttft_seconds"])
            for r in multi
        ]
        assert v[f"decode_tokens_per_s/bs{bs}"].value == pytest.approx(np.mean(rates))
        gaps = [g for x in t for g in x["itl_seconds"]]
        assert v[f"itl/bs{bs}"].value == pytest.approx(np.mean(gaps)) and v[f"itl/bs{bs}"].n == len(gaps)
        # throughput: per repetition, samples over the summed call time (one call per batch)
        per_rep = []
        for rep in range(3):
            recs = [(c, r) for b, p, c, r in rows if b == bs and p == rep]
            seconds = recs[0][0] * (2 // bs)  # two samples: 2 calls at bs 1, 1 call at bs 2
            per_rep.append(2 / seconds)
        tp = v[f"throughput_samples_per_s/bs{bs}"]
        assert tp.value == pytest.approx(np.mean(per_rep)) and tp.n == 3
        assert tp.stderr == pytest.approx(np.std(per_rep, ddof=1) / math.sqrt(3))
        assert v[f"time_decode/bs{bs}"].value == pytest.approx(0.1)
        assert v[f"time_llm_prefill/bs{bs}"].value == pytest.approx(
            np.mean([x["prefill_seconds"] for x in t]) - 0.01
        )
        assert v[f"peak_rss/bs{bs}"].value == pytest.approx(((100 + bs) * MIB + 1) / MIB)
        assert v[f"peak_rss/bs{bs}"].higher_is_better is False and v[f"peak_rss/bs{bs}"].unit == "MiB"
        assert v[f"ttft/bs{bs}"].context["batch_size"] == bs
        assert v[f"ttft/bs{bs}"].context["device_name"] == "cpu:x"
    assert v["weights_memory"].value == 3.0 and v["visual_tokens_per_image"].value == 16
    assert "cuda_max_allocated/bs1" not in v


def test_metric_leaves_untimed_records_out_and_rejects_duplicates() -> None:
    metric = EfficiencyMetric()
    old, sample = Sample("old", (), "?"), Sample("a", (), "?")
    metric.update_record(old, {"answer": "x", "timing": {"batch_seconds": 1.0}, "tokens": {}})
    metric.update_record(sample, {"answer": "x", "timing": {"call_seconds": 0.5}, "tokens": {}})
    with pytest.raises(ValueError, match="twice"):
        metric.update_record(sample, {"answer": "x", "timing": {"call_seconds": 1.0}, "tokens": {}})
    assert metric.update(sample, "x") == {}
    res = metric.compute()
    assert "'old'" in res.notes["efficiency"] and "ttft/bs1" in res.notes
    assert res.values["throughput_samples_per_s/bs1"].value == 2.0
    assert res.values["throughput_samples_per_s/bs1"].n == 1


def test_same_conditions() -> None:
    cpu = {"value": 1, "context": {"device_name": "cpu:x86_64", "dtype": "float32", "batch_size": 8}}
    gpu = {"value": 1, "context": {"device_name": "NVIDIA H100", "dtype": "float32", "batch_size": 8}}
    assert same_conditions([cpu, dict(cpu), None])
    assert not same_conditions([cpu, gpu])
    assert same_conditions([{"value": 1}, {"value": 2}])


# --- the suite's plan ------------------------------------------------------------------------
def test_plan_runs_bs1_then_batched_with_warmups(shapes_dir: Path) -> None:
    suite = EfficiencySuite(shapes_dir)
    samples = suite.load_samples(5)
    assert len(samples) == 2 * suite.repetitions * 5
    assert len({s.sample_id for s in samples}) == len(samples)
    plan = suite.plan_batches(samples, 2)
    warm = [p for p in plan if p.warmup]
    assert len(warm) == 2 * suite.warmup_batches
    measured = [p for p in plan if not p.warmup]
    assert sorted(s.sample_id for p in measured for s in p.samples) == sorted(s.sample_id for s in samples)
    single = [p for p in measured if p.samples[0].meta["batching"] == "single"]
    batched = [p for p in measured if p.samples[0].meta["batching"] == "batched"]
    assert all(len(p.samples) == 1 for p in single)
    assert [len(p.samples) for p in batched] == [2, 2, 1] * suite.repetitions
    assert all(len({s.meta["repetition"] for s in p.samples}) == 1 for p in batched)
    # warm-ups come right before each group's measured calls and repeat its first batch
    first_batched = plan.index(batched[0])
    assert [p.warmup for p in plan[first_batched - suite.warmup_batches : first_batched]] == [True] * 2
    assert plan[0].samples == single[0].samples and plan[first_batched - 1].samples == batched[0].samples
    # the default plan of other suites: plain chunks, no warm-up
    vqa = ShapesVQASuite(shapes_dir).load_samples(5)
    assert [len(p.samples) for p in ShapesVQASuite(shapes_dir).plan_batches(vqa, 2)] == [2, 2, 1]


# --- the adapter against an independent clock -------------------------------------------
class _FixedLengthLlava(LlavaAdapter):
    """Forces max_new_tokens tokens (optimum-benchmark's min = max), so every step is a token."""

    def generation_kwargs(self, settings: GenerationSettings) -> dict[str, Any]:
        return {**super().generation_kwargs(settings), "min_new_tokens": settings.max_new_tokens}


@pytest.fixture(scope="module")
def fixed_llava(tiny_llava: Path) -> Iterator[_FixedLengthLlava]:
    adapter = _FixedLengthLlava(str(tiny_llava))
    adapter.load()
    yield adapter
    adapter.close()


def test_reported_times_agree_with_an_independent_clock(
    fixed_llava: _FixedLengthLlava, shapes_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from transformers.generation.streamers import BaseStreamer

    class Stamps(BaseStreamer):  # type: ignore[misc]
        """``put`` is called with the prompt, then once per step with the new tokens."""

        def __init__(self) -> None:
            self.stamps: list[float] = []

        def put(self, value: Any) -> None:
            self.stamps.append(time.perf_counter())

        def end(self) -> None:
            pass

    calls: list[tuple[float, float, list[float]]] = []
    real_generate = fixed_llava.model.generate

    def timed_generate(*args: Any, **kwargs: Any) -> Any:
        streamer = Stamps()
        start = time.perf_counter()
        out = real_generate(*args, streamer=streamer, **kwargs)
        calls.append((start, time.perf_counter(), streamer.stamps[1:]))
        return out

    monkeypatch.setattr(fixed_llava.model, "generate", timed_generate)
    samples = ShapesVQASuite(shapes_dir).load_samples(5)
    requests = [UnderstandRequest(s.sample_id, tuple(map(open_rgb, s.image_paths)), s.text) for s in samples]
    settings = GenerationSettings(max_new_tokens=12)
    reported_tokens = reported_seconds = clock_tokens = clock_seconds = 0.0
    for batch in ([requests[0]], [requests[1]], [requests[2]], requests[1:5]):
        responses = fixed_llava.understand(batch, settings)
        start, end, steps = calls[-1]
        assert len(steps) == settings.max_new_tokens
        for response in responses:
            p = response.usage.profile
            assert p is not None and response.usage.output_tokens == len(p.token_seconds) == 12
            # the independently timed call sits inside the profiler's start and end marks
            assert p.prefill_seconds + p.decode_seconds >= end - start
            assert p.prefill_seconds + p.decode_seconds == pytest.approx(end - start, rel=0.05, abs=0.01)
            assert p.prefill_seconds == pytest.approx(steps[0] - start, rel=0.05, abs=0.005)
            assert 0 < p.vision_seconds < p.prefill_seconds
            reported_tokens += response.usage.output_tokens - 1
            reported_seconds += p.token_seconds[-1] - p.token_seconds[0]
            clock_tokens += len(steps) - 1
            clock_seconds += steps[-1] - steps[0]
    # decode tokens/s: the adapter's marks against the streamer's wall clock, same calls
    assert reported_tokens / reported_seconds == pytest.approx(clock_tokens / clock_seconds, rel=0.05)


def test_weights_bytes_counts_every_parameter_and_buffer(fixed_llava: _FixedLengthLlava) -> None:
    model = fixed_llava.model
    expected = sum(p.numel() * p.element_size() for p in model.parameters())
    expected += sum(b.numel() * b.element_size() for b in model.buffers())
    assert fixed_llava.info.weights_bytes == expected > 0


# --- mllm-bench run ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def efficiency_run(tmp_path_factory: pytest.TempPathFactory, tiny_llava: Path, shapes_dir: Path) -> dict:
    """``mllm-bench run --suite vqa,efficiency --limit 8`` with CUDA-only APIs made to raise."""
    out = tmp_path_factory.mktemp("eff") / "run"
    calls: list[int] = []
    with pytest.MonkeyPatch.context() as mp:
        _forbid_cuda(mp)
        real = LlavaAdapter.understand

        def counting(self: LlavaAdapter, batch: Any, settings: Any) -> Any:
            calls.append(len(batch))
            return real(self, batch, settings)

        mp.setattr(LlavaAdapter, "understand", counting)
        code = main(
            [
                "run",
                "--no-progress",
                "--no-report",
                *("--adapter", "llava", "--model", str(tiny_llava)),
                *("--suite", "vqa,efficiency", "--limit", "8", "--batch-size", "4"),
                *("--max-new-tokens", "3", "--out", str(out)),
            ]
        )
    assert code == 0
    lines = [json.loads(x) for x in (out / "samples.jsonl").read_text().splitlines()]
    return {"dir": out, "run": json.loads((out / "run.json").read_text()), "lines": lines, "calls": calls}


def test_run_logs_timing_and_memory_for_every_suite(efficiency_run: dict) -> None:
    lines = efficiency_run["lines"]
    assert sum(r["suite"] == "vqa" for r in lines) == 8
    assert sum(r["suite"] == "efficiency" for r in lines) == 2 * EfficiencySuite.repetitions * 8
    for rec in lines:
        t = rec["timing"]
        assert t["clock"] == "perf_counter" and t["call_seconds"] >= t["batch_seconds"] > 0
        assert 0 < t["ttft_seconds"] <= t["e2e_seconds"]
        assert len(t["itl_seconds"]) == rec["tokens"]["output"] - 1
        assert rec["memory"]["peak_rss_bytes"] > 0 and rec["memory"]["weights_bytes"] > 0
        assert not any(k.startswith("cuda") for k in rec["memory"])
    # warm-up calls ran (on full-size batches) but were not logged
    warm = EfficiencySuite.warmup_batches
    assert efficiency_run["calls"] == [4, 4] + [1] * (warm + 24) + [4] * (warm + 6)


def test_run_json_has_efficiency_figures_with_their_context(efficiency_run: dict) -> None:
    run = efficiency_run["run"]
    eff = run["suites"]["efficiency"]
    assert eff["n_done"] == eff["n_samples"] == 48 and eff["n_errors"] == 0
    metrics = eff["metrics"]
    for bs in (1, 4):
        for name in (
            "ttft",
            "tpot",
            "itl",
            "decode_tokens_per_s",
            "e2e_latency",
            "e2e_latency_p50",
            "e2e_latency_p90",
            "e2e_latency_p99",
            "throughput_samples_per_s",
            "throughput_output_tokens_per_s",
            "time_preprocess",
            "time_vision_connector",
            "time_llm_prefill",
            "time_decode",
            "peak_rss",
        ):
            mv = metrics[f"{name}/bs{bs}"]
            ctx = mv["context"]
            assert ctx["device"] == "cpu" and ctx["dtype"] == "float32" and ctx["batch_size"] == bs
            assert ctx["libraries"]["torch"] and ctx["libraries"]["transformers"]
            assert mv["value"] > 0
        assert metrics[f"throughput_samples_per_s/bs{bs}"]["n"] == EfficiencySuite.repetitions
        assert metrics[f"throughput_samples_per_s/bs{bs}"]["stderr"] is not None
        assert not any(k.startswith("cuda") for k in metrics)
    assert metrics["visual_tokens_per_image"]["value"] == 16
    assert metrics["weights_memory"]["value"] == run["adapter"]["weights_bytes"] / MIB > 0
    # figures come from the logged records
    single = [r for r in efficiency_run["lines"] if ":single:" in r["sample_id"]]
    ttft = [r["timing"]["ttft_seconds"] for r in single]
    assert metrics["ttft/bs1"]["value"] == pytest.approx(sum(ttft) / len(ttft))
    e2e = [r["timing"]["e2e_seconds"] for r in single]
    assert metrics["e2e_latency_p99/bs1"]["value"] == pytest.approx(np.percentile(e2e, 99))
    # the batched half really ran in calls of 4, the single half in calls of 1
    assert {r["timing"]["batch_size"] for r in single} == {1}
    assert {r["timing"]["batch_size"] for r in efficiency_run["lines"] if ":batched:" in r["sample_id"]} == {
        4
    }


@pytest.mark.slow
def test_memory_grows_with_batch_size(tmp_path: Path, tiny_llava: Path, shapes_dir: Path) -> None:
    """A fresh process, efficiency only: peak RSS at batch size 16 exceeds the one at batch size 1."""
    out = tmp_path / "run"
    cmd = [
        sys.executable,
        "-m",
        "mllmbench.cli.main",
        "run",
        "--no-progress",
        "--no-report",
        *("--adapter", "llava", "--model", str(tiny_llava), "--suite", "efficiency"),
        *("--limit", "16", "--batch-size", "16", "--max-new-tokens", "4", "--out", str(out)),
    ]
    subprocess.run(cmd, check=True, capture_output=True, timeout=600)
    metrics = json.loads((out / "run.json").read_text())["suites"]["efficiency"]["metrics"]
    assert metrics["peak_rss/bs16"]["value"] > metrics["peak_rss/bs1"]["value"] > 0
    assert metrics["weights_memory"]["value"] > 0
