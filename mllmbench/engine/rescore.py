"""Rescore: recompute every suite's metrics from the logged answers; no model is loaded.

The run's config comes from its ``run.json``; suites and metrics are today's code, so a changed
or fixed metric re-scores a finished run without running the model again.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from mllmbench.core import samplelog
from mllmbench.core.records import RUN_FILE
from mllmbench.core.results import RunResult, load_run_json, write_run_json
from mllmbench.engine import provenance
from mllmbench.engine.assemble import now, score_all
from mllmbench.engine.judge import JudgeSpec, judge_suite, loaded_judge, write_verdicts
from mllmbench.engine.plan import plan
from mllmbench.engine.resume import finished


def rescore(run_dir: Path, judge: JudgeSpec | None = None) -> RunResult:
    """Re-score the run in `run_dir` with today's suites and metrics and rewrite its ``run.json``.

    With `judge`, the suites that allow it (`Suite.judged_extraction`) are also scored with the
    judge reading their rule-unparsed answers (``*_judged`` values beside the rule-only ones, the
    judge in ``scoring.judge``, every verdict in ``judge.jsonl``).
    """
    run_dir = Path(run_dir)
    old = load_run_json(run_dir / RUN_FILE)
    config = replace(old.run_config(), out_dir=str(run_dir))
    resolved = plan(config, check_model=False)
    loaded = [(suite, suite.load_samples(config.limit)) for suite in resolved.suites]
    if judge is not None:
        _judge(run_dir, judge, loaded)
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


def _judge(run_dir: Path, spec: JudgeSpec, loaded: list[tuple[Any, list[Any]]]) -> None:
    from mllmbench.core.errors import ConfigError

    judged_suites = [(suite, samples) for suite, samples in loaded if suite.judged_extraction]
    if not judged_suites:
        raise ConfigError(
            "--judge-adapter: none of the run's suites has LLM-judge answer extraction "
            f"({', '.join(s.name for s, _ in loaded)})"
        )
    records = samplelog.read_records(run_dir)
    verdicts = {}
    with loaded_judge(spec) as adapter:
        for suite, samples in judged_suites:
            answers = {
                s.sample_id: str(rec.get("answer") or "")
                for s in samples
                if (rec := records.get((suite.name, s.sample_id))) is not None and finished(rec)
            }
            verdicts[suite.name] = judge_suite(adapter, spec, suite, samples, answers)
    write_verdicts(run_dir, verdicts)
