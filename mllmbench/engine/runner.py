"""The runner: suites -> batches -> adapter -> scores -> run directory.

Every finished sample is appended to ``samples.jsonl`` at once, so a crash loses nothing that was
done; re-running the same command resumes from that log. One bad sample (a corrupt image, an
exception inside the model) is recorded in its line and the run goes on.

The jobs live in their own modules; `Runner` orchestrates them:

* `mllmbench.engine.plan` - names, capabilities, paths and scoring settings, before any load;
* `mllmbench.engine.resume` - fresh start, resume from the log, or refusal to mix configs;
* `mllmbench.engine.execute` - batch execution, out-of-memory halving, failure isolation;
* `mllmbench.engine.pipeline` - length sorting and preparing the next batch while one generates;
* `mllmbench.engine.sample_records` - the ``samples.jsonl`` lines and appending them;
* `mllmbench.engine.scoring` - corpus metrics from the logs, in dataset order;
* `mllmbench.engine.assemble` - folding the logs and writing ``run.json`` (a `RunResult`);
* `mllmbench.engine.rescore` - re-scoring a finished run without the model.

A suite that requires `Capability.GENERATE` gets images instead of text: each prompt is drawn
with its own seed, its images are saved under ``images/<suite>/`` before its line is logged, and
the metrics score the saved files (`mllmbench.engine.generated_images`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mllmbench.adapters.base import Adapter
from mllmbench.core import samplelog
from mllmbench.core.config import RunConfig
from mllmbench.core.paths import cache_root
from mllmbench.core.records import SAMPLES_FILE
from mllmbench.core.results import RunResult
from mllmbench.core.types import Capability, GenerationSettings
from mllmbench.engine import distributed, generated_images
from mllmbench.engine.assemble import Loaded, Session, finish_safely, now
from mllmbench.engine.execute import BatchExecutor, BatchWork
from mllmbench.engine.pipeline import length_sorted, prefetch
from mllmbench.engine.plan import plan, prepare
from mllmbench.engine.rescore import rescore
from mllmbench.engine.response_cache import ResponseCache
from mllmbench.engine.resume import check_resume, unfinished
from mllmbench.engine.sample_records import append_records
from mllmbench.suites.base import PlannedBatch, Sample, Suite

__all__ = ["RunOutcome", "Runner", "SampleFailure", "prepare", "rescore"]

log = logging.getLogger(__name__)


class SampleFailure(Exception):
    """Raised with `--fail-fast` when a sample fails."""


@dataclass(frozen=True)
class RunOutcome:
    """What `Runner.run` returns: the run directory and its result (None on ranks > 0)."""

    run_dir: Path
    result: RunResult | None

    @property
    def n_errors(self) -> int:
        """Failed samples over all suites."""
        return self.result.n_errors if self.result is not None else 0


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
        self.settings = GenerationSettings(max_new_tokens=config.max_new_tokens, seed=config.seed)
        self.image_settings = generated_images.image_settings(config)

    def run(self) -> RunOutcome:
        """Execute the whole run and write ``run.json``; returns what happened."""
        dist = distributed.from_env()
        distributed.init(dist, self.config.device)
        try:
            return self._run(dist)
        finally:
            distributed.shutdown(dist)

    def _load(self, adapter_cls: type[Adapter], dist: distributed.Dist) -> tuple[Adapter, float]:
        adapter = adapter_cls.from_config(self.config, device=dist.device_for(self.config.device))
        t0 = time.perf_counter()
        adapter.load()
        load_seconds = time.perf_counter() - t0
        log.info("loaded %s from %s in %.1fs", self.config.adapter, self.config.model, load_seconds)
        return adapter, load_seconds

    def _run(self, dist: distributed.Dist) -> RunOutcome:
        resolved = plan(self.config)
        self.config = resolved.config
        if dist.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            check_resume(self.run_dir, self.config, self.overwrite)
        # Every rank reads the finished samples before any rank writes new ones, so all ranks
        # shard the same list of unfinished samples.
        previous = samplelog.read_records(self.run_dir)
        distributed.barrier(dist)
        loaded: Loaded = [(suite, suite.load_samples(self.config.limit)) for suite in resolved.suites]
        started = now()
        adapter, load_seconds = self._load(resolved.adapter_cls, dist)
        if previous and dist.is_main:
            log.info("resuming: %d sample lines read back from %s", len(previous), self.run_dir)
        session = Session(
            self.config, self.run_dir, self.settings, self.image_settings, started, load_seconds
        )
        executor = BatchExecutor(
            adapter,
            self.settings,
            self.image_settings,
            run_dir=self.run_dir,
            seed=self.config.seed,
            response_cache=self.response_cache,
            video_frames=self.config.video_frames,
            video_fps=self.config.video_fps,
        )
        status = "ok"
        walls: dict[str, float] = {}
        try:
            for suite, samples in loaded:
                walls[suite.name] = self._run_suite(executor, suite, samples, previous, dist)
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
            result = finish_safely(session, adapter, loaded, walls, status) if dist.is_main else None
            adapter.close()
        distributed.barrier(dist)
        return RunOutcome(self.run_dir, result)

    def _run_suite(
        self,
        executor: BatchExecutor,
        suite: Suite,
        samples: Sequence[Sample],
        previous: dict[tuple[str, str], dict[str, Any]],
        dist: distributed.Dist,
    ) -> float:
        """Run this rank's share of the unfinished samples; returns the wall time."""
        log_path = (
            samplelog.rank_log(self.run_dir, dist.rank) if dist.enabled else self.run_dir / SAMPLES_FILE
        )
        live = suite.metrics()  # per-sample scores only; corpus values are computed from the logs
        mine = dist.shard(unfinished(suite.name, samples, previous))
        wall0 = time.perf_counter()
        bar = _progress(total=len(mine), desc=suite.name, enabled=self.progress and dist.is_main)
        planned_batches, pipelined = self._batches(suite, mine)

        def prepare_ahead(planned: PlannedBatch) -> BatchWork | None:
            """In the worker thread: the batch made ready for the adapter (None: done in the call)."""
            if planned.warmup or not pipelined:
                return None
            return executor.prepare_batch(suite, planned.samples, ahead=True)

        try:
            for planned, work in prefetch(planned_batches, prepare_ahead, overlap=pipelined):
                batch = list(planned.samples)
                if planned.warmup:
                    executor.warm_up(batch)
                    continue
                if work is None:
                    records = executor.run_batch(suite, batch, live)
                else:
                    records = executor.finish_batch(suite, work, live)
                append_records(log_path, [record.to_dict() for record in records])
                for record in records:
                    if record.error is not None:
                        log.warning("%s sample %s failed: %s", suite.name, record.sample_id, record.error)
                        if self.config.fail_fast:
                            raise SampleFailure(f"{suite.name} sample {record.sample_id}: {record.error}")
                bar.update(len(batch))
        finally:
            bar.close()
        return time.perf_counter() - wall0

    def _batches(self, suite: Suite, samples: Sequence[Sample]) -> tuple[list[PlannedBatch], bool]:
        """The suite's batches, and whether they run pipelined (`mllmbench.engine.pipeline`).

        A plan with warm-up batches is a measurement (the efficiency suite): it runs as planned,
        one batch at a time, so no preparation overlaps a measured call. Image generation is
        not pipelined either. Otherwise the samples are length-sorted first (longest first).
        """
        size = self.config.batch_size
        planned = suite.plan_batches(samples, size)
        measured = any(p.warmup for p in planned)
        if not self.config.pipeline or measured or suite.requires & Capability.GENERATE:
            return planned, False
        return suite.plan_batches(length_sorted(samples, size), size), True

    def rescore(self) -> RunOutcome:
        """Recompute every suite's metrics from the logged answers (`mllmbench.engine.rescore`)."""
        return RunOutcome(self.run_dir, rescore(self.run_dir))


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
