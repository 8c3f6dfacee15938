"""The runner: suites -> batches -> adapter -> scores -> run directory.

Every finished sample is appended to ``samples.jsonl`` at once, so a crash loses nothing that was
done; re-running the same command resumes from that log. One bad sample (a corrupt image, an
exception inside the model) is recorded in its line and the run goes on.

A suite that requires `Capability.GENERATE` gets images instead of text: each prompt is drawn
with its own seed, its images are saved under ``images/<suite>/`` before its line is logged, and
the metrics score the saved files (`mllmbench.engine.generated_images`).
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mllmbench.adapters.base import Adapter
from mllmbench.adapters.registry import load_adapter_class
from mllmbench.core import jsonio, profiling, samplelog
from mllmbench.core.config import RunConfig
from mllmbench.core.errors import ConfigError, InputError, MllmBenchError
from mllmbench.core.images import open_rgb
from mllmbench.core.paths import cache_root
from mllmbench.core.records import RUN_FILE, SAMPLE_SCORES_FILE, SAMPLES_FILE, SCHEMA_VERSION, SampleRecord
from mllmbench.core.types import (
    Capability,
    GenerateResponse,
    GenerationSettings,
    UnderstandRequest,
    UnderstandResponse,
)
from mllmbench.engine import distributed, generated_images, provenance
from mllmbench.engine.response_cache import ResponseCache
from mllmbench.suites.base import Metric, Sample, Suite
from mllmbench.suites.registry import load_suite_class

log = logging.getLogger(__name__)


class SampleFailure(Exception):
    """Raised with `--fail-fast` when a sample fails."""


@dataclass(frozen=True)
class CallStats:
    """What the runner measured around one successful adapter call (shared by its samples)."""

    seconds: float
    """Wall time of the whole ``adapter.understand`` call."""
    memory: dict[str, Any]
    """`profiling.MemoryTracker` figures of the call, plus the weights."""
    cached: bool = False
    """The response came from the response cache: no model call, no timing."""


@dataclass
class SuiteOutcome:
    """What one suite produced in this run."""

    name: str
    n_samples: int = 0
    n_done: int = 0
    n_errors: int = 0
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
    adapter_cls = load_adapter_class(config.adapter)
    suite_classes = []
    for name in config.suites:
        suite_cls = load_suite_class(name)
        if not (suite_cls.requires & adapter_cls.capabilities):
            need = (suite_cls.requires.name or "").lower()
            have = ", ".join(
                c.name.lower() for c in type(suite_cls.requires) if c in adapter_cls.capabilities and c.name
            )
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
    per_suite = dict(config.suite_data)
    unknown = sorted(set(per_suite) - set(config.suites))
    if unknown:
        raise ConfigError(
            f"--data names suite {unknown[0]!r}, which is not in --suite {','.join(config.suites)}"
        )
    suites = []
    for name, cls in zip(config.suites, suite_classes, strict=True):
        data = per_suite.get(name) or config.data_dir
        suites.append(cls(Path(data) if data else None))
    return adapter_cls, suites


def _check_resume(run_dir: Path, config: RunConfig, overwrite: bool) -> None:
    """Start fresh, resume, or refuse to mix two different configs in one directory."""
    if overwrite:
        for f in (run_dir / RUN_FILE, run_dir / SAMPLE_SCORES_FILE, *samplelog.log_paths(run_dir)):
            f.unlink(missing_ok=True)
        return
    for path in samplelog.log_paths(run_dir):
        if samplelog.drop_torn_tail(path):
            log.warning("%s ended in a partial line (interrupted write); that sample is redone", path)
    run_json = run_dir / RUN_FILE
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
        self.response_cache: ResponseCache | None = None
        if config.response_cache:
            self.response_cache = ResponseCache(cache_root() / "responses")
        self.batch_cap: int | None = None
        """Largest batch that fits, once a batch ran out of accelerator memory (then halved)."""
        self.settings = GenerationSettings(max_new_tokens=config.max_new_tokens, seed=config.seed)
        self.image_settings = generated_images.image_settings(config)

    # -------------------------------------------------------------------------------------
    def run(self) -> RunOutcome:
        """Execute the whole run and write ``run.json``; returns what happened."""
        dist = distributed.from_env()
        distributed.init(dist, self.config.device)
        try:
            return self._run(dist)
        finally:
            distributed.shutdown(dist)

    def _run(self, dist: distributed.Dist) -> RunOutcome:
        adapter_cls, suites = prepare(self.config)
        if dist.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            _check_resume(self.run_dir, self.config, self.overwrite)
        # Every rank reads the finished samples before any rank writes new ones, so all ranks
        # shard the same list of unfinished samples.
        previous = samplelog.read_records(self.run_dir)
        distributed.barrier(dist)
        log_path = (
            samplelog.rank_log(self.run_dir, dist.rank) if dist.enabled else self.run_dir / SAMPLES_FILE
        )
        loaded = [(suite, suite.load_samples(self.config.limit)) for suite in suites]
        started = datetime.now(UTC).isoformat(timespec="seconds")
        adapter = adapter_cls(
            self.config.model,
            device=dist.device_for(self.config.device),
            dtype=self.config.dtype,
            trust_remote_code=self.config.trust_remote_code,
        )
        t0 = time.perf_counter()
        adapter.load()
        load_seconds = time.perf_counter() - t0
        log.info("loaded %s from %s in %.1fs", self.config.adapter, self.config.model, load_seconds)
        if previous and dist.is_main:
            log.info("resuming: %d sample lines read back from %s", len(previous), self.run_dir)
        status = "ok"
        walls: dict[str, float] = {}
        try:
            for suite, samples in loaded:
                walls[suite.name] = self._run_suite(adapter, suite, samples, previous, dist, log_path)
        except KeyboardInterrupt:
            status = "interrupted"
            log.warning("interrupted: finished samples are saved; run the same command again to resume")
            raise
        except BaseException:
            status = "failed"
            raise
        finally:
            if status == "ok":
                distributed.barrier(dist)  # every rank's log is complete before rank 0 reads them
            outcome = None
            if dist.is_main:
                outcome = self._finish_safely(adapter, loaded, walls, started, load_seconds, status)
            adapter.close()
        distributed.barrier(dist)
        if outcome is None:  # ranks > 0 report nothing themselves
            return RunOutcome(self.run_dir, {}, [])
        return outcome

    # -------------------------------------------------------------------------------------
    def _run_suite(
        self,
        adapter: Adapter,
        suite: Suite,
        samples: Sequence[Sample],
        previous: dict[tuple[str, str], dict[str, Any]],
        dist: distributed.Dist,
        log_path: Path,
    ) -> float:
        """Run this rank's share of the unfinished samples; returns the wall time."""
        live = suite.metrics()  # per-sample scores only; corpus values are computed from the logs
        todo = [s for s in samples if not _finished(previous.get((suite.name, s.sample_id)))]
        mine = dist.shard(todo)
        wall0 = time.perf_counter()
        bar = _progress(total=len(mine), desc=suite.name, enabled=self.progress and dist.is_main)
        try:
            for planned in suite.plan_batches(mine, self.config.batch_size):
                batch = list(planned.samples)
                if planned.warmup:
                    self._warm_up(adapter, batch)
                    continue
                for record in self._run_batch(adapter, suite, batch, live):
                    _append_record(log_path, record.to_dict())
                    if record.error is not None:
                        log.warning("%s sample %s failed: %s", suite.name, record.sample_id, record.error)
                        if self.config.fail_fast:
                            raise SampleFailure(f"{suite.name} sample {record.sample_id}: {record.error}")
                bar.update(len(batch))
        finally:
            bar.close()
        return time.perf_counter() - wall0

    def _warm_up(self, adapter: Adapter, batch: Sequence[Sample]) -> None:
        """One unlogged call on `batch` (warm-up before measured calls); failures only logged."""
        try:
            requests = [
                UnderstandRequest(s.sample_id, tuple(open_rgb(p) for p in s.image_paths), s.text)
                for s in batch
            ]
            adapter.understand(requests, self.settings)
        except (KeyboardInterrupt, SystemExit, MemoryError):
            raise
        except Exception as exc:  # noqa: BLE001 - the measured call on the same samples records it
            log.warning("warm-up call on %d sample(s) failed: %s", len(batch), exc)

    def _run_batch(
        self, adapter: Adapter, suite: Suite, batch: Sequence[Sample], metrics: list[Metric]
    ) -> list[SampleRecord]:
        """Open images, call the adapter on the good samples, score; errors stay per sample."""
        if suite.requires & Capability.GENERATE:
            return self._run_generation_batch(adapter, suite, batch, metrics)
        records: dict[str, SampleRecord] = {}
        requests: list[tuple[Sample, UnderstandRequest]] = []
        cache = self.response_cache if suite.cacheable else None
        keys: dict[str, str] = {}
        for sample in batch:
            try:
                images = tuple(open_rgb(p) for p in sample.image_paths)
            except InputError as exc:
                records[sample.sample_id] = _error_record(suite, sample, str(exc))
                continue
            if cache is not None:
                key = keys[sample.sample_id] = cache.key(
                    adapter.info, sample.text, sample.image_paths, self.settings
                )
                hit = cache.get(key)
                if hit is not None:
                    stats = CallStats(0.0, {}, cached=True)
                    records[sample.sample_id] = self._score_sample(suite, sample, hit, metrics, stats)
                    continue
            requests.append((sample, UnderstandRequest(sample.sample_id, images, sample.text)))
        for (sample, _req), result in zip(requests, self._call_adapter(adapter, requests), strict=True):
            if isinstance(result, str):
                records[sample.sample_id] = _error_record(suite, sample, result)
                continue
            response, stats = result
            if cache is not None:
                cache.put(keys[sample.sample_id], response)
            records[sample.sample_id] = self._score_sample(suite, sample, response, metrics, stats)
        return [records[s.sample_id] for s in batch]

    def _call_adapter(
        self,
        adapter: Adapter,
        requests: list[tuple[Sample, Any]],
        call: Callable[[list[Any]], list[Any]] | None = None,
    ) -> list[tuple[Any, CallStats] | str]:
        """Call the adapter on the batch; if the batch fails, retry one by one to isolate the culprit.

        `call` maps the requests to responses (default: ``adapter.understand`` with the run's
        settings). Each successful call is timed and its peak memory tracked
        (`profiling.MemoryTracker`).
        """
        if not requests:
            return []
        if self.batch_cap and len(requests) > self.batch_cap:  # an earlier batch ran out of memory
            cap = self.batch_cap
            return [
                result
                for i in range(0, len(requests), cap)
                for result in self._call_adapter(adapter, requests[i : i + cap], call)
            ]
        reqs = [r for _, r in requests]
        try:
            with profiling.MemoryTracker(adapter.device) as memory:
                start = time.perf_counter()
                responses = call(reqs) if call is not None else adapter.understand(reqs, self.settings)
                seconds = time.perf_counter() - start
            if len(responses) != len(reqs):
                raise RuntimeError(f"adapter returned {len(responses)} responses for {len(reqs)} requests")
            stats = CallStats(seconds, {**memory.figures, "weights_bytes": _weights_bytes(adapter)})
            return [(response, stats) for response in responses]
        except (KeyboardInterrupt, SystemExit, MemoryError):
            raise
        except Exception as exc:  # noqa: BLE001 - one bad sample must not sink the run
            if _is_out_of_memory(exc) and len(reqs) > 1:
                half = len(reqs) // 2
                self.batch_cap = min(self.batch_cap or len(reqs), half)
                log.warning("out of memory on a batch of %d; retrying in halves of %d", len(reqs), half)
                profiling.free_accelerator_memory(adapter.device)
                return self._call_adapter(adapter, requests[:half], call) + self._call_adapter(
                    adapter, requests[half:], call
                )
            if len(reqs) == 1:
                log.debug("sample %s failed:\n%s", reqs[0].sample_id, traceback.format_exc())
                return [f"{type(exc).__name__} in adapter {adapter.name!r}: {exc}"]
            log.info("batch of %d failed (%s); retrying one sample at a time", len(reqs), exc)
            out: list[tuple[Any, CallStats] | str] = []
            for item in requests:
                out.extend(self._call_adapter(adapter, [item], call))
            return out

    def _run_generation_batch(
        self, adapter: Adapter, suite: Suite, batch: Sequence[Sample], metrics: list[Metric]
    ) -> list[SampleRecord]:
        """Draw a batch of prompts, each with its own seed; save every image before its line is logged."""
        requests = generated_images.generation_requests(suite.name, batch, self.config.seed)
        results = self._call_adapter(
            adapter,
            list(zip(batch, requests, strict=True)),
            lambda reqs: adapter.generate_images(reqs, self.image_settings),
        )
        records: list[SampleRecord] = []
        for sample, result in zip(batch, results, strict=True):
            if isinstance(result, str):
                records.append(_error_record(suite, sample, result))
                continue
            response, stats = result
            if not isinstance(response, GenerateResponse) or not response.images:
                records.append(_error_record(suite, sample, f"adapter {adapter.name!r} returned no image"))
                continue
            try:
                paths = generated_images.save_images(
                    self.run_dir, suite.name, sample.sample_id, response.images
                )
            except OSError as exc:
                records.append(_error_record(suite, sample, f"cannot save the generated image: {exc}"))
                continue
            scores: dict[str, float] = {}
            for m in metrics:
                scores.update(m.update(sample, str(self.run_dir / paths[0])))
            records.append(
                generated_images.generation_record(
                    suite.name,
                    sample,
                    response,
                    paths,
                    scores,
                    call_seconds=stats.seconds,
                    call_requests=len([r for r in results if not isinstance(r, str) and r[1] is stats]),
                    memory=stats.memory,
                )
            )
        return records

    def _score_sample(
        self,
        suite: Suite,
        sample: Sample,
        response: UnderstandResponse,
        metrics: list[Metric],
        stats: CallStats,
    ) -> SampleRecord:
        answer = suite.extract_answer(response.text)
        scores: dict[str, float] = {}
        for m in metrics:
            scores.update(m.update(sample, answer))
        u = response.usage
        profile = getattr(u, "profile", None)
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
                "call_seconds": stats.seconds,
                **({"cached": True} if stats.cached else {}),
                **(profiling.sample_timing(profile) if profile is not None else {}),
            },
            tokens={"input": u.input_tokens, "output": u.output_tokens, "image": u.image_tokens},
            text=sample.text,
            meta=dict(sample.meta),
            memory=dict(stats.memory),
        )

    def _finish(
        self,
        adapter: Adapter,
        loaded: list[tuple[Suite, list[Sample]]],
        walls: dict[str, float],
        started: str,
        load_seconds: float,
        status: str,
    ) -> RunOutcome:
        """Rank 0: fold the logs, compute corpus metrics on the full set, write run.json."""
        order = [(suite.name, s.sample_id) for suite, samples in loaded for s in samples]
        samplelog.consolidate(self.run_dir, order)
        records = samplelog.read_records(self.run_dir)
        (self.run_dir / SAMPLE_SCORES_FILE).unlink(missing_ok=True)
        outcomes: list[SuiteOutcome] = []
        results: dict[str, Any] = {}
        prov = provenance.collect(self.config.device)
        context = self._metric_context(prov)
        for suite, samples in loaded:
            outcome, result = self._score_suite(
                suite, samples, records, walls.get(suite.name, 0.0), context=context
            )
            outcomes.append(outcome)
            results[suite.name] = result
        if status == "ok" and any(o.n_errors for o in outcomes):
            status = "errors"
        if status == "ok" and any(o.n_done < o.n_samples for o in outcomes):
            status = "incomplete"
        run_json = self._run_json(adapter, results, started, load_seconds, status, prov=prov)
        jsonio.write_json_atomic(self.run_dir / RUN_FILE, run_json)
        return RunOutcome(self.run_dir, run_json, outcomes)

    def rescore(self) -> RunOutcome:
        """Recompute every suite's metrics from the logged answers; no model is loaded.

        The run's config comes from its ``run.json``; suites and metrics are today's code, so a
        changed or fixed metric re-scores a finished run without running the model again.
        """
        old = jsonio.read_json(self.run_dir / RUN_FILE, what="run file")
        _, suites = prepare(self.config, check_model=False)
        loaded = [(suite, suite.load_samples(self.config.limit)) for suite in suites]
        records = samplelog.read_records(self.run_dir)
        (self.run_dir / SAMPLE_SCORES_FILE).unlink(missing_ok=True)
        context = self._metric_context(old.get("provenance", {}))
        outcomes: list[SuiteOutcome] = []
        results: dict[str, Any] = {}
        for suite, samples in loaded:
            before = old.get("suites", {}).get(suite.name, {})
            wall = before.get("timing", {}).get("wall_seconds_this_session", 0.0)
            outcome, result = self._score_suite(suite, samples, records, wall, context=context)
            outcomes.append(outcome)
            results[suite.name] = result
        run_json = {
            **old,
            "suites": results,
            "rescored": {
                "at": datetime.now(UTC).isoformat(timespec="seconds"),
                "mllm_bench": provenance.collect_versions_only()["mllm_bench"],
            },
        }
        jsonio.write_json_atomic(self.run_dir / RUN_FILE, run_json)
        return RunOutcome(self.run_dir, run_json, outcomes)

    def _finish_safely(
        self,
        adapter: Adapter,
        loaded: list[tuple[Suite, list[Sample]]],
        walls: dict[str, float],
        started: str,
        load_seconds: float,
        status: str,
    ) -> RunOutcome | None:
        """`_finish`, except that after a failure it only logs a second error instead of masking the first."""
        if status == "ok":
            return self._finish(adapter, loaded, walls, started, load_seconds, status)
        try:
            return self._finish(adapter, loaded, walls, started, load_seconds, status)
        except Exception as exc:  # noqa: BLE001 - the original error is the one to report
            log.error("could not write the %s run's summary: %s (the sample log is intact)", status, exc)
            return None

    def _metric_context(self, prov: dict[str, Any]) -> dict[str, Any]:
        """What `Metric.set_run_context` receives: where and how the figures were measured."""
        libraries = prov.get("libraries", {})
        return {
            "device": self.config.device,
            "device_name": prov.get("device_name"),
            "dtype": self.config.dtype,
            "batch_size": self.config.batch_size,
            "max_new_tokens": self.config.max_new_tokens,
            "libraries": {k: libraries.get(k) for k in ("torch", "transformers", "accelerate")},
            "cuda": prov.get("cuda"),
            "torch_threads": prov.get("torch_threads"),
        }

    def _score_suite(
        self,
        suite: Suite,
        samples: Sequence[Sample],
        records: dict[tuple[str, str], dict[str, Any]],
        wall: float,
        *,
        context: dict[str, Any] | None = None,
    ) -> tuple[SuiteOutcome, dict[str, Any]]:
        """Corpus metrics from the logged records, in dataset order (same for resumed/sharded runs)."""
        metrics = suite.metrics()
        for m in metrics:
            m.set_run_context(context or {})
        outcome = SuiteOutcome(suite.name, n_samples=len(samples))
        n_tokens_out = 0
        for sample in samples:
            rec = records.get((suite.name, sample.sample_id))
            if rec is None:
                continue
            if not _finished(rec):
                outcome.n_errors += 1
                continue
            outcome.n_done += 1
            n_tokens_out += int(rec.get("tokens", {}).get("output", 0) or 0)
            if suite.requires & Capability.GENERATE:
                rec = generated_images.with_absolute_paths(rec, self.run_dir)
            for m in metrics:
                m.update_record(sample, rec)
        values: dict[str, Any] = {}
        notes: dict[str, str] = {}
        versions: dict[str, str] = {}
        per_sample_lines: list[dict[str, Any]] = []
        for m in metrics:
            versions[m.name] = m.version
            if outcome.n_done == 0:
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
            values.update({k: v.to_dict() for k, v in res.values.items()})
            notes.update(res.notes)
            per_sample_lines += [
                {"task": suite.name, "sample_id": k, "scores": v} for k, v in res.per_sample.items()
            ]
        if per_sample_lines:
            samplelog.rewrite_append(self.run_dir / SAMPLE_SCORES_FILE, per_sample_lines)
        outcome.summary = {k: v["value"] for k, v in values.items()}
        return outcome, {
            "version": suite.version,
            "requires": (suite.requires.name or "").lower(),
            "dataset": {"path": str(suite.data_dir), "fingerprint": suite.dataset_fingerprint()},
            "n_samples": outcome.n_samples,
            "n_done": outcome.n_done,
            "n_errors": outcome.n_errors,
            "metrics": values,
            "metric_versions": versions,
            "scoring": suite.scoring_info(),
            "notes": notes,
            "timing": {
                "wall_seconds_this_session": wall,
                "output_tokens": n_tokens_out,
            },
        }

    def _run_json(
        self,
        adapter: Adapter,
        results: dict[str, Any],
        started: str,
        load_seconds: float,
        status: str,
        *,
        prov: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        try:
            adapter_info = adapter.info.to_dict()
        except RuntimeError:
            adapter_info = {"name": adapter.name}
        dist = distributed.from_env()
        return {
            "schema_version": SCHEMA_VERSION,
            "run_id": provenance.config_hash(self.config.identity()),
            "status": status,
            "started_at": started,
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "config": self.config.to_dict(),
            "generation": self.settings.to_dict(),
            "image_generation": self.image_settings.to_dict(),
            "adapter": adapter_info,
            "provenance": {
                **(prov if prov is not None else provenance.collect(self.config.device)),
                "world_size": dist.world_size,
            },
            "load_seconds": load_seconds,
            "suites": results,
        }


def _weights_bytes(adapter: Adapter) -> int | None:
    """The loaded weights' bytes from the adapter's info (None when it does not say)."""
    try:
        return adapter.info.weights_bytes
    except RuntimeError:
        return None


def _is_out_of_memory(exc: BaseException) -> bool:
    """An accelerator out-of-memory error (torch.cuda.OutOfMemoryError or its message)."""
    return type(exc).__name__ == "OutOfMemoryError" or "out of memory" in str(exc).lower()


class ResultsWriteError(MllmBenchError):
    """The sample log could not be written (disk full, read-only file system...)."""

    exit_code = 4


def _append_record(path: Path, record: dict[str, Any]) -> None:
    """Append one sample line; a failed write stops the run with a clear message.

    Lines already written stay intact: at worst the last one is torn, and a resumed run cuts
    it and redoes that sample.
    """
    try:
        jsonio.append_jsonl(path, record)
    except OSError as exc:
        raise ResultsWriteError(
            f"cannot write {path}: {exc.strerror or exc}; the samples finished before this one are "
            "saved; free the space and run the same command again to resume"
        ) from exc


def _finished(rec: dict[str, Any] | None) -> bool:
    """A logged sample counts as done when it has an answer and no error."""
    return rec is not None and rec.get("error") is None and rec.get("answer") is not None


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _progress(*, total: int, desc: str, enabled: bool) -> Any:
    if not enabled:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="sample", dynamic_ncols=True, leave=False)
