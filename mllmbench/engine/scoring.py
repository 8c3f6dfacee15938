"""Corpus scoring: every suite's metrics from the logged records, on the full set, in dataset order.

The result is the same for a fresh, resumed or sharded run, and for `rescore`. Per-sample values
that corpus metrics know only at the end (CIDEr's idf, say) go to ``sample_scores.jsonl``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mllmbench.core import samplelog
from mllmbench.core.config import RunConfig
from mllmbench.core.errors import MllmBenchError
from mllmbench.core.records import SAMPLE_SCORES_FILE
from mllmbench.core.results import DatasetInfo, MetricValue, SuiteResult
from mllmbench.core.types import Capability
from mllmbench.engine import generated_images
from mllmbench.engine.resume import finished
from mllmbench.suites.base import Metric, Sample, Suite

log = logging.getLogger(__name__)

Records = Mapping[tuple[str, str], Mapping[str, Any]]


def metric_context(config: RunConfig, prov: Mapping[str, Any]) -> dict[str, Any]:
    """What `Metric.set_run_context` receives: where and how the figures were measured."""
    libraries = prov.get("libraries", {})
    return {
        "device": config.device,
        "device_name": prov.get("device_name"),
        "dtype": config.dtype,
        "batch_size": config.batch_size,
        "max_new_tokens": config.max_new_tokens,
        "libraries": {k: libraries.get(k) for k in ("torch", "transformers", "accelerate")},
        "cuda": prov.get("cuda"),
        "torch_threads": prov.get("torch_threads"),
    }


def _feed(
    suite: Suite, samples: Sequence[Sample], records: Records, metrics: list[Metric], run_dir: Path
) -> dict[str, int]:
    """Give every finished record to the metrics; count planned, done, failed, unparsed, tokens."""
    counts = {"n_done": 0, "n_errors": 0, "n_unparsed": 0, "output_tokens": 0}
    generate = bool(suite.requires & Capability.GENERATE)
    for sample in samples:
        rec = records.get((suite.name, sample.sample_id))
        if rec is None:
            continue
        if not finished(rec):
            counts["n_errors"] += 1
            continue
        counts["n_done"] += 1
        counts["output_tokens"] += int((rec.get("tokens") or {}).get("output", 0) or 0)
        if generate:
            rec = generated_images.scoring_view(rec, run_dir)
        elif rec.get("answer") == "":
            counts["n_unparsed"] += 1
        for m in metrics:
            m.update_record(sample, rec)
    return counts


def _compute(
    suite: Suite, metrics: list[Metric], n_done: int
) -> tuple[dict[str, MetricValue], dict[str, str], list[dict[str, Any]]]:
    """Corpus values, notes (why a metric has none) and the late per-sample score lines."""
    values: dict[str, MetricValue] = {}
    notes: dict[str, str] = {}
    lines: list[dict[str, Any]] = []
    for m in metrics:
        if n_done == 0:
            notes[m.name] = "no sample finished"
            continue
        try:
            res = m.compute()
        except MllmBenchError:
            raise
        except Exception as exc:  # noqa: BLE001 - keep the samples, report the metric failure
            log.error("metric %s of suite %s failed: %s", m.name, suite.name, exc)
            notes[m.name] = f"failed: {type(exc).__name__}: {exc}"
            continue
        values.update(res.values)
        notes.update(res.notes)
        lines += [samplelog.score_line(suite.name, k, v) for k, v in res.per_sample.items()]
    return values, notes, lines


def score_suite(
    suite: Suite,
    samples: Sequence[Sample],
    records: Records,
    *,
    wall: float,
    run_dir: Path,
    context: Mapping[str, Any] | None = None,
) -> SuiteResult:
    """One suite's `SuiteResult`, its late per-sample scores appended to ``sample_scores.jsonl``."""
    metrics = suite.metrics()
    for m in metrics:
        m.set_run_context(dict(context or {}))
    counts = _feed(suite, samples, records, metrics, run_dir)
    values, notes, lines = _compute(suite, metrics, counts["n_done"])
    if lines:
        samplelog.rewrite_append(run_dir / SAMPLE_SCORES_FILE, lines)
    # Suites whose metric extracts the answer itself (multiple choice, POPE, MME) count `unparsed`.
    n_unparsed = int(values["unparsed"].value) if "unparsed" in values else counts["n_unparsed"]
    scoring = suite.scoring_info()
    outputs = {
        s.sample_id: str(rec.get("output") or "")
        for s in samples
        if (rec := records.get((suite.name, s.sample_id))) is not None and finished(rec)
    }
    submission = suite.write_submission(run_dir, samples, outputs)
    if submission is not None:
        log.info(
            "%s: %d prediction(s) saved for the benchmark's server in %s",
            suite.name,
            len(outputs),
            submission,
        )
        scoring = {**scoring, "submission": submission.name}
    return SuiteResult(
        version=str(suite.version),
        requires=(suite.requires.name or "").lower(),
        dataset=DatasetInfo(str(suite.data_dir), suite.dataset_fingerprint()),
        n_samples=len(samples),
        n_done=counts["n_done"],
        n_errors=counts["n_errors"],
        n_unparsed=n_unparsed,
        metrics=values,
        metric_versions={m.name: m.version for m in metrics},
        scoring=scoring,
        notes=notes,
        timing={"wall_seconds_this_session": wall, "output_tokens": counts["output_tokens"]},
    )
