"""The runner: suites -> batches -> adapter -> scores -> run directory.

Every finished sample is appended to ``samples.jsonl`` at once, so a crash loses nothing that was
done; re-running the same command resumes from that log. One bad sample (a corrupt image, an
exception inside the model) is recorded in its line and the run goes on.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mllmbench.adapters.base import Adapter, GenerationSettings, UnderstandRequest, UnderstandResponse
from mllmbench.bench import jsonio, provenance, registry
from mllmbench.bench.errors import ConfigError, InputError, MllmBenchError
from mllmbench.bench.images import open_rgb
from mllmbench.bench.records import (
    RUN_FILE,
    SAMPLE_SCORES_FILE,
    SAMPLES_FILE,
    SCHEMA_VERSION,
    RunConfig,
    SampleRecord,
)
from mllmbench.suites.base import Metric, Sample, Suite

log = logging.getLogger(__name__)


class SampleFailure(Exception):
    """Raised with `--fail-fast` when a sample fails."""


@dataclass
class SuiteOutcome:
    """What one suite produced in this run."""

    name: str
    n_samples: int = 0
    n_errors: int = 0
    n_resumed: int = 0
    summary: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunOutcome:
    """What `run` returns to the CLI."""

    run_dir: Path
    run_json: dict[str, Any]
    suites: list[SuiteOutcome]

    @property
    def n_errors(self) -> int:
        """Failed samples over all suites."""
        return sum(s.n_errors for s in self.suites)


def prepare(config: RunConfig, *, check_model: bool = True) -> tuple[type[Adapter], list[Suite]]:
    """Resolve names, check capabilities and paths before any weights load (one-line errors).

    Then the suites are constructed; a suite without ``--data`` uses its default data directory
    (the built-in Shapes set is generated there on first use).
    """
    adapter_cls = registry.load_adapter_class(config.adapter)
    suite_classes = []
    for name in config.suites:
        suite_cls = registry.load_suite_class(name)
        if not (suite_cls.requires & adapter_cls.capabilities):
            need = (suite_cls.requires.name or "").lower()
            have = ", ".join(c.name.lower() for c in type(suite_cls.requires) if c in adapter_cls.capabilities and c.name)
            raise ConfigError(
                f"suite {name!r} needs the {need} capability, but adapter {config.adapter!r} "
                f"supports only: {have or 'nothing'}"
            )
        suite_classes.append(suite_cls)
    if not suite_classes:
        raise ConfigError("no suite given: pass --suite NAME[,NAME...]")
    if check_model:
        looks_local = config.model.startswith((".", "/", "~")) or Path(config.model).expanduser().exists()
        if looks_local and not Path(config.model).expanduser().exists():
            raise ConfigError(f"model path does not exist: {config.model}")
    data = Path(config.data_dir) if config.data_dir else None
    return adapter_cls, [cls(data) for cls in suite_classes]


def _previous_records(run_dir: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """Finished sample lines of an interrupted run, keyed by (task, sample_id); last one wins."""
    done: dict[tuple[str, str], dict[str, Any]] = {}
    for rec in jsonio.read_jsonl(run_dir / SAMPLES_FILE):
        done[(rec["task"], rec["sample_id"])] = rec
    return done


def _check_resume(run_dir: Path, config: RunConfig, overwrite: bool) -> None:
    """Start fresh, resume, or refuse to mix two different configs in one directory."""
    run_json = run_dir / RUN_FILE
    samples = run_dir / SAMPLES_FILE
    if overwrite:
        for f in (run_json, samples, run_dir / SAMPLE_SCORES_FILE):
            f.unlink(missing_ok=True)
        return
    if run_json.exists():
        old = jsonio.read_json(run_json, what="run file")
        if old.get("run_id") != provenance.config_hash(config.identity()):
            raise ConfigError(
                f"{run_dir} holds a run with a different configuration; "
                "use another --out or pass --overwrite to start again"
            )


def _image_field(sample: Sample) -> str | list[str] | None:
    if not sample.image_paths:
        return None
    return sample.image_paths[0] if len(sample.image_paths) == 1 else list(sample.image_paths)


def _error_record(suite: Suite, sample: Sample, error: str) -> SampleRecord:
    return SampleRecord(
        sample_id=sample.sample_id,
        task=suite.name,
        image=_image_field(sample),
        prompt=None,
        output=None,
        answer=None,
        references=list(sample.references),
        scores={},
        timing={},
        tokens={},
        error=error,
        text=sample.text,
        meta=dict(sample.meta),
    )


class Runner:
    """Runs one adapter over several suites into one run directory."""

    def __init__(self, config: RunConfig, *, overwrite: bool = False, progress: bool = True) -> None:
        self.config = config
        self.overwrite = overwrite
        self.progress = progress
        self.run_dir = Path(config.out_dir)
        self.settings = GenerationSettings(max_new_tokens=config.max_new_tokens, seed=config.seed)

    # -------------------------------------------------------------------------------------
    def run(self) -> RunOutcome:
        """Execute the whole run and write ``run.json``; returns what happened."""
        adapter_cls, suites = prepare(self.config)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        _check_resume(self.run_dir, self.config, self.overwrite)
        loaded = [(suite, suite.load_samples(self.config.limit)) for suite in suites]
        started = datetime.now(UTC).isoformat(timespec="seconds")
        adapter = adapter_cls(
            self.config.model,
            device=self.config.device,
            dtype=self.config.dtype,
            trust_remote_code=self.config.trust_remote_code,
        )
        t0 = time.perf_counter()
        adapter.load()
        load_seconds = time.perf_counter() - t0
        log.info("loaded %s from %s in %.1fs", self.config.adapter, self.config.model, load_seconds)
        previous = _previous_records(self.run_dir)
        if previous:
            log.info("resuming: %d finished samples read back from %s", len(previous), SAMPLES_FILE)
        outcomes: list[SuiteOutcome] = []
        suite_results: dict[str, Any] = {}
        status = "ok"
        try:
            for suite, samples in loaded:
                outcome, result = self._run_suite(adapter, suite, samples, previous)
                outcomes.append(outcome)
                suite_results[suite.name] = result
        except KeyboardInterrupt:
            status = "interrupted"
            raise
        finally:
            run_json = self._write_run_json(adapter, suite_results, outcomes, started, load_seconds, status)
            adapter.close()
        return RunOutcome(self.run_dir, run_json, outcomes)

    # -------------------------------------------------------------------------------------
    def _run_suite(
        self,
        adapter: Adapter,
        suite: Suite,
        samples: Sequence[Sample],
        previous: dict[tuple[str, str], dict[str, Any]],
    ) -> tuple[SuiteOutcome, dict[str, Any]]:
        metrics = suite.metrics()
        outcome = SuiteOutcome(suite.name, n_samples=len(samples))
        todo: list[Sample] = []
        for sample in samples:
            rec = previous.get((suite.name, sample.sample_id))
            if rec is not None and rec.get("error") is None and rec.get("answer") is not None:
                for m in metrics:
                    m.update(sample, rec["answer"])
                outcome.n_resumed += 1
            else:
                todo.append(sample)
        wall0 = time.perf_counter()
        bar = _progress(total=len(samples), initial=outcome.n_resumed, desc=suite.name, enabled=self.progress)
        try:
            bs = max(1, self.config.batch_size)
            for start in range(0, len(todo), bs):
                batch = todo[start : start + bs]
                for record in self._run_batch(adapter, suite, batch, metrics):
                    jsonio.append_jsonl(self.run_dir / SAMPLES_FILE, record.to_dict())
                    if record.error is not None:
                        outcome.n_errors += 1
                        log.warning("%s sample %s failed: %s", suite.name, record.sample_id, record.error)
                        if self.config.fail_fast:
                            raise SampleFailure(f"{suite.name} sample {record.sample_id}: {record.error}")
                bar.update(len(batch))
        finally:
            bar.close()
        wall = time.perf_counter() - wall0
        result = self._score_suite(suite, metrics, outcome, wall, len(todo))
        return outcome, result

    def _run_batch(
        self, adapter: Adapter, suite: Suite, batch: Sequence[Sample], metrics: list[Metric]
    ) -> list[SampleRecord]:
        """Open images, call the adapter on the good samples, score; errors stay per sample."""
        records: dict[str, SampleRecord] = {}
        requests: list[tuple[Sample, UnderstandRequest]] = []
        for sample in batch:
            try:
                images = tuple(open_rgb(p) for p in sample.image_paths)
            except InputError as exc:
                records[sample.sample_id] = _error_record(suite, sample, str(exc))
                continue
            requests.append((sample, UnderstandRequest(sample.sample_id, images, sample.text)))
        for (sample, _req), result in zip(requests, self._call_adapter(adapter, requests), strict=True):
            if isinstance(result, str):
                records[sample.sample_id] = _error_record(suite, sample, result)
                continue
            records[sample.sample_id] = self._score_sample(suite, sample, result, metrics)
        return [records[s.sample_id] for s in batch]

    def _call_adapter(
        self, adapter: Adapter, requests: list[tuple[Sample, UnderstandRequest]]
    ) -> list[UnderstandResponse | str]:
        """Call the adapter on the batch; if the batch fails, retry one by one to isolate the culprit."""
        if not requests:
            return []
        reqs = [r for _, r in requests]
        try:
            responses = adapter.understand(reqs, self.settings)
            if len(responses) != len(reqs):
                raise RuntimeError(f"adapter returned {len(responses)} responses for {len(reqs)} requests")
            return list(responses)
        except (KeyboardInterrupt, SystemExit, MemoryError):
            raise
        except Exception as exc:  # noqa: BLE001 - one bad sample must not sink the run
            if len(reqs) == 1:
                log.debug("sample %s failed:\n%s", reqs[0].sample_id, traceback.format_exc())
                return [f"{type(exc).__name__} in adapter {adapter.name!r}: {exc}"]
            log.info("batch of %d failed (%s); retrying one sample at a time", len(reqs), exc)
            out: list[UnderstandResponse | str] = []
            for item in requests:
                out.extend(self._call_adapter(adapter, [item]))
            return out

    def _score_sample(
        self, suite: Suite, sample: Sample, response: UnderstandResponse, metrics: list[Metric]
    ) -> SampleRecord:
        answer = suite.extract_answer(response.text)
        scores: dict[str, float] = {}
        for m in metrics:
            scores.update(m.update(sample, answer))
        u = response.usage
        return SampleRecord(
            sample_id=sample.sample_id,
            task=suite.name,
            image=_image_field(sample),
            prompt=response.prompt,
            output=response.text,
            answer=answer,
            references=list(sample.references),
            scores=scores,
            timing={
                "batch_seconds": u.batch_seconds,
                "batch_size": u.batch_size,
                "seconds_per_sample": u.batch_seconds / max(1, u.batch_size),
            },
            tokens={"input": u.input_tokens, "output": u.output_tokens, "image": u.image_tokens},
            text=sample.text,
            meta=dict(sample.meta),
        )

    def _score_suite(
        self, suite: Suite, metrics: list[Metric], outcome: SuiteOutcome, wall: float, n_run: int
    ) -> dict[str, Any]:
        values: dict[str, Any] = {}
        notes: dict[str, str] = {}
        versions: dict[str, str] = {}
        for m in metrics:
            versions[m.name] = m.version
            try:
                res = m.compute()
            except MllmBenchError:
                raise
            except Exception as exc:  # noqa: BLE001 - keep the samples, report the metric failure
                log.error("metric %s of suite %s failed: %s", m.name, suite.name, exc)
                notes[m.name] = f"failed: {type(exc).__name__}: {exc}"
                continue
            values.update({k: v.to_dict() for k, v in res.values.items()})
            notes.update(res.notes)
            for sid, per in res.per_sample.items():
                jsonio.append_jsonl(
                    self.run_dir / SAMPLE_SCORES_FILE, {"task": suite.name, "sample_id": sid, "scores": per}
                )
        outcome.summary = {k: v["value"] for k, v in values.items()}
        return {
            "version": suite.version,
            "requires": str(suite.requires.name).lower(),
            "dataset": {"path": str(suite.data_dir), "fingerprint": suite.dataset_fingerprint()},
            "n_samples": outcome.n_samples,
            "n_errors": outcome.n_errors,
            "n_resumed": outcome.n_resumed,
            "metrics": values,
            "metric_versions": versions,
            "notes": notes,
            "timing": {
                "wall_seconds": wall,
                "samples_run": n_run,
                "samples_per_second": (n_run / wall) if wall > 0 and n_run else None,
            },
        }

    def _write_run_json(
        self,
        adapter: Adapter,
        suite_results: dict[str, Any],
        outcomes: list[SuiteOutcome],
        started: str,
        load_seconds: float,
        status: str,
    ) -> dict[str, Any]:
        if status == "ok" and any(o.n_errors for o in outcomes):
            status = "errors"
        # Sample-score lines are rewritten from scratch on each completion; drop stale duplicates.
        _dedupe_sample_scores(self.run_dir / SAMPLE_SCORES_FILE)
        try:
            adapter_info = adapter.info.to_dict()
        except RuntimeError:
            adapter_info = {"name": adapter.name}
        run_json = {
            "schema_version": SCHEMA_VERSION,
            "run_id": provenance.config_hash(self.config.identity()),
            "status": status,
            "started_at": started,
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "config": self.config.to_dict(),
            "generation": self.settings.to_dict(),
            "adapter": adapter_info,
            "provenance": provenance.collect(self.config.device),
            "load_seconds": load_seconds,
            "suites": suite_results,
        }
        jsonio.write_json_atomic(self.run_dir / RUN_FILE, run_json)
        return run_json


def _dedupe_sample_scores(path: Path) -> None:
    """Keep the last line per (task, sample_id) so a resumed run's file equals a fresh one's."""
    if not path.exists():
        return
    last: dict[tuple[str, str], dict[str, Any]] = {}
    for rec in jsonio.read_jsonl(path):
        last[(rec["task"], rec["sample_id"])] = rec
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    for rec in last.values():
        jsonio.append_jsonl(tmp, rec)
    tmp.replace(path)


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _progress(*, total: int, initial: int, desc: str, enabled: bool) -> Any:
    if not enabled:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc=desc, unit="sample", dynamic_ncols=True, leave=False)
