"""Rescore: recompute every suite's metrics from the logged answers; no model is loaded.

The run's config comes from its ``run.json``; suites and metrics are today's code, so a changed
or fixed metric re-scores a finished run without running the model again.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from mllmbench.core.records import RUN_FILE
from mllmbench.core.results import RunResult, load_run_json, write_run_json
from mllmbench.engine import provenance
from mllmbench.engine.assemble import now, score_all
from mllmbench.engine.plan import plan


def rescore(run_dir: Path) -> RunResult:
    """Re-score the run in `run_dir` with today's suites and metrics and rewrite its ``run.json``."""
    run_dir = Path(run_dir)
    old = load_run_json(run_dir / RUN_FILE)
    config = replace(old.run_config(), out_dir=str(run_dir))
    resolved = plan(config, check_model=False)
    loaded = [(suite, suite.load_samples(config.limit)) for suite in resolved.suites]
    walls = {
        name: float(res.timing.get("wall_seconds_this_session", 0.0)) for name, res in old.suites.items()
    }
    suites = score_all(resolved.config, run_dir, loaded, walls, old.provenance)
    result = replace(
        old,
        suites=suites,
        rescored={"at": now(), "mllm_bench": provenance.collect_versions_only()["mllm_bench"]},
    )
    write_run_json(run_dir / RUN_FILE, result)
    return result
