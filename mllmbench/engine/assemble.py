"""Run assembly: fold the logs, score every suite on the full set, and write ``run.json``."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mllmbench.adapters.base import Adapter
from mllmbench.core import samplelog
from mllmbench.core.config import RunConfig
from mllmbench.core.records import RUN_FILE, SAMPLE_SCORES_FILE
from mllmbench.core.results import RunResult, SuiteResult, write_run_json
from mllmbench.core.types import GenerationSettings, ImageGenerationSettings
from mllmbench.engine import distributed, provenance
from mllmbench.engine.scoring import metric_context, score_suite
from mllmbench.suites.base import Sample, Suite

log = logging.getLogger(__name__)

Loaded = list[tuple[Suite, list[Sample]]]


@dataclass(frozen=True)
class Session:
    """What one run session knows when it assembles ``run.json``."""

    config: RunConfig
    run_dir: Path
    settings: GenerationSettings
    image_settings: ImageGenerationSettings
    started: str
    load_seconds: float


def now() -> str:
    """UTC now, to the second, ISO 8601."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def score_all(
    config: RunConfig, run_dir: Path, loaded: Loaded, walls: Mapping[str, float], prov: Mapping[str, Any]
) -> dict[str, SuiteResult]:
    """Every suite's result from the (folded) sample logs; ``sample_scores.jsonl`` is rewritten."""
    records = samplelog.read_records(run_dir)
    (run_dir / SAMPLE_SCORES_FILE).unlink(missing_ok=True)
    context = metric_context(config, prov)
    return {
        suite.name: score_suite(
            suite, samples, records, wall=walls.get(suite.name, 0.0), run_dir=run_dir, context=context
        )
        for suite, samples in loaded
    }


def _status(status: str, suites: Mapping[str, SuiteResult]) -> str:
    if status == "ok" and any(s.n_errors for s in suites.values()):
        return "errors"
    if status == "ok" and any(s.n_done < s.n_samples for s in suites.values()):
        return "incomplete"
    return status


def _adapter_info(adapter: Adapter) -> dict[str, Any]:
    try:
        return adapter.info.to_dict()
    except RuntimeError:  # never loaded
        return {"name": adapter.name}


def finish(
    session: Session, adapter: Adapter, loaded: Loaded, walls: Mapping[str, float], status: str
) -> RunResult:
    """Rank 0: fold the logs, compute corpus metrics on the full set, write ``run.json``."""
    run_dir = session.run_dir
    order = [(suite.name, s.sample_id) for suite, samples in loaded for s in samples]
    samplelog.consolidate(run_dir, order)
    prov = provenance.collect(session.config.device)
    suites = score_all(session.config, run_dir, loaded, walls, prov)
    result = RunResult(
        run_id=provenance.config_hash(session.config.identity()),
        status=_status(status, suites),
        started_at=session.started,
        finished_at=now(),
        config=session.config.to_dict(),
        generation=session.settings.to_dict(),
        image_generation=session.image_settings.to_dict(),
        adapter=_adapter_info(adapter),
        provenance={**prov, "world_size": distributed.from_env().world_size},
        load_seconds=session.load_seconds,
        suites=suites,
        run_dir=run_dir,
    )
    write_run_json(run_dir / RUN_FILE, result)
    return result


def finish_safely(
    session: Session, adapter: Adapter, loaded: Loaded, walls: Mapping[str, float], status: str
) -> RunResult | None:
    """`finish`, except that after a failure it only logs a second error instead of masking the first."""
    if status == "ok":
        return finish(session, adapter, loaded, walls, status)
    try:
        return finish(session, adapter, loaded, walls, status)
    except Exception as exc:  # noqa: BLE001 - the original error is the one to report
        log.error("could not write the %s run's summary: %s (the sample log is intact)", status, exc)
        return None
