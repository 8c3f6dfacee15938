"""Batch execution: open images, call the adapter, halve the batch on out-of-memory, isolate failures.

`BatchExecutor.run_batch` turns one planned batch into one `SampleRecord` per sample. A batch
that fails is retried one sample at a time, so one bad sample never sinks the others; a batch
that runs out of accelerator memory is split in halves and the smaller size is kept for the
rest of the run (`batch_cap`).

A batch runs in two steps, so the pipelined engine (`mllmbench.engine.pipeline`) can do the
first in a worker thread while the previous batch generates: `prepare_batch` (open images,
response-cache lookups, the requests and the adapter's own `Adapter.prepare`) and
`finish_batch` (the adapter call, caching, scoring, the records).
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from mllmbench.adapters.base import Adapter, PreparedBatch
from mllmbench.adapters.likelihood import supports_likelihood
from mllmbench.core import profiling
from mllmbench.core.errors import InputError
from mllmbench.core.images import open_rgb
from mllmbench.core.records import SampleRecord
from mllmbench.core.types import (
    Audio,
    Capability,
    GenerateResponse,
    GenerationSettings,
    ImageGenerationSettings,
    UnderstandRequest,
    UnderstandResponse,
    Video,
)
from mllmbench.engine import generated_images
from mllmbench.engine.response_cache import ResponseCache
from mllmbench.engine.sample_records import error_record, understand_record
from mllmbench.suites.base import Metric, Sample, Suite

log = logging.getLogger(__name__)

CallResult = tuple[Any, "CallStats"] | str
"""A response with the stats of its call, or the error message of a failed sample."""


@dataclass(frozen=True)
class CallStats:
    """What the runner measured around one successful adapter call (shared by its samples)."""

    seconds: float
    """Wall time of the whole adapter call."""
    memory: dict[str, Any]
    """`profiling.MemoryTracker` figures of the call, plus the weights."""
    cached: bool = False
    """The response came from the response cache: no model call, no timing."""
    prepared_ahead: bool = False
    """The adapter's preprocessing ran before the call, in the pipeline's worker thread (it is
    in the profile's ``preprocess_seconds``, not in `seconds`)."""


@dataclass(frozen=True)
class BatchWork:
    """One batch after `BatchExecutor.prepare_batch`: what is known before the model is called."""

    batch: tuple[Sample, ...]
    errors: dict[str, str]
    """sample_id -> why the sample cannot be sent (unreadable image, unsupported likelihood mode)."""
    hits: dict[str, UnderstandResponse]
    """sample_id -> its response from the response cache."""
    keys: dict[str, str]
    """sample_id -> its response-cache key (samples that are cached once answered)."""
    requests: tuple[tuple[Sample, UnderstandRequest], ...]
    """The samples to send, with their requests, in batch order."""
    prepared: PreparedBatch | None = None
    """The adapter's preparation of `requests`, when it was made ahead (`Adapter.prepare`)."""


def is_out_of_memory(exc: BaseException) -> bool:
    """An accelerator out-of-memory error (torch.cuda.OutOfMemoryError or its message)."""
    return type(exc).__name__ == "OutOfMemoryError" or "out of memory" in str(exc).lower()


def _weights_bytes(adapter: Adapter) -> int | None:
    """The loaded weights' bytes from the adapter's info (None when it does not say)."""
    try:
        return adapter.info.weights_bytes
    except RuntimeError:
        return None


class BatchExecutor:
    """Calls one loaded adapter batch by batch for one run."""

    def __init__(
        self,
        adapter: Adapter,
        settings: GenerationSettings,
        image_settings: ImageGenerationSettings,
        *,
        run_dir: Path,
        seed: int,
        response_cache: ResponseCache | None = None,
        video_frames: int | None = None,
        video_fps: float | None = None,
    ) -> None:
        self.adapter = adapter
        self.video_frames = video_frames
        self.video_fps = video_fps
        """The run's frame-sampling policy for samples with a video (`mllmbench.core.video`)."""
        self.settings = settings
        self.image_settings = image_settings
        self.run_dir = run_dir
        self.seed = seed
        self.response_cache = response_cache
        self.batch_cap: int | None = None
        """Largest batch that fits, once a batch ran out of accelerator memory (then halved)."""

    def warm_up(self, batch: Sequence[Sample]) -> None:
        """One unlogged call on `batch` (warm-up before measured calls); failures only logged."""
        try:
            requests = [
                UnderstandRequest(s.sample_id, images, s.text, videos=videos, audios=self._open_audio(s))
                for s, (images, videos) in zip(batch, map(self._open, batch), strict=True)
            ]
            self.adapter.understand(requests, self.settings)
        except (KeyboardInterrupt, SystemExit, MemoryError):
            raise
        except Exception as exc:  # noqa: BLE001 - the measured call on the same samples records it
            log.warning("warm-up call on %d sample(s) failed: %s", len(batch), exc)

    def _open(self, sample: Sample) -> tuple[tuple[Any, ...], tuple[Video, ...]]:
        """The sample's decoded images and video (raises `InputError` naming a bad file)."""
        images = tuple(open_rgb(p) for p in sample.image_paths)
        if sample.video is None:
            return images, ()
        from mllmbench.core.video import decode_video

        return images, (decode_video(sample.video, frames=self.video_frames, fps=self.video_fps),)

    def _open_audio(self, sample: Sample) -> tuple[Audio, ...]:
        """The sample's decoded audio file, mono 16 kHz (raises `InputError` naming a bad file)."""
        if sample.audio is None:
            return ()
        from mllmbench.core.video import decode_audio

        return (decode_audio(sample.audio),)

    def run_batch(self, suite: Suite, batch: Sequence[Sample], metrics: list[Metric]) -> list[SampleRecord]:
        """Open images, call the adapter on the good samples, score; errors stay per sample."""
        if suite.requires & Capability.GENERATE:
            return self._run_generation_batch(suite, batch, metrics)
        return self.finish_batch(suite, self.prepare_batch(suite, batch), metrics)

    def prepare_batch(self, suite: Suite, batch: Sequence[Sample], *, ahead: bool = False) -> BatchWork:
        """Everything before the model call: open images, look up the cache, build the requests.

        With `ahead`, also the adapter's own preparation (`Adapter.prepare`: chat template and
        processor); the pipelined engine calls this from its worker thread while the previous
        batch generates, so it only reads the adapter and the cache and never scores.
        """
        errors: dict[str, str] = {}
        hits: dict[str, UnderstandResponse] = {}
        requests: list[tuple[Sample, UnderstandRequest]] = []
        cache = self.response_cache if suite.cacheable else None
        keys: dict[str, str] = {}
        for sample in batch:
            try:
                images, videos = self._open(sample)
                audios = self._open_audio(sample)
            except InputError as exc:
                errors[sample.sample_id] = str(exc)
                continue
            # Video and audio samples are not cached: the key holds neither the frame-sampling
            # policy nor the audio file.
            if cache is not None and sample.video is None and sample.audio is None:
                key = keys[sample.sample_id] = cache.key(
                    self.adapter.info, sample.text, sample.image_paths, self.settings
                )
                hit = cache.get(key)
                if hit is not None:
                    hits[sample.sample_id] = hit
                    continue
            choices = tuple((sample.meta or {}).get("likelihood_choices") or ())
            if choices and not supports_likelihood(self.adapter):
                reason = (
                    f"adapter {self.adapter.name!r} cannot rank options by log-likelihood (likelihood mode)"
                )
                errors[sample.sample_id] = reason
                continue
            request = UnderstandRequest(
                sample.sample_id, images, sample.text, choices, videos=videos, audios=audios
            )
            requests.append((sample, request))
        prepared = self._prepare_ahead([r for _, r in requests]) if ahead and requests else None
        return BatchWork(tuple(batch), errors, hits, keys, tuple(requests), prepared)

    def _prepare_ahead(self, requests: list[UnderstandRequest]) -> PreparedBatch | None:
        """`Adapter.prepare`, or None when it fails (the call then runs unprepared, and isolates
        the failing sample as usual)."""
        try:
            return self.adapter.prepare(requests)
        except (KeyboardInterrupt, SystemExit, MemoryError):
            raise
        except Exception as exc:  # noqa: BLE001 - the unprepared call on the same requests records it
            log.debug("preparing a batch of %d ahead failed (%s); it runs unprepared", len(requests), exc)
            return None

    def finish_batch(self, suite: Suite, work: BatchWork, metrics: list[Metric]) -> list[SampleRecord]:
        """Call the adapter on a prepared batch, cache and score; one record per sample, in order."""
        records: dict[str, SampleRecord] = {}
        for sample in work.batch:
            if sample.sample_id in work.errors:
                records[sample.sample_id] = error_record(suite, sample, work.errors[sample.sample_id])
            elif sample.sample_id in work.hits:
                hit = work.hits[sample.sample_id]
                records[sample.sample_id] = understand_record(
                    suite, sample, hit, metrics, call_seconds=0.0, memory={}, cached=True
                )
        requests = list(work.requests)
        cache = self.response_cache if suite.cacheable else None
        for (sample, _req), result in zip(
            requests, self._call_prepared(requests, work.prepared), strict=True
        ):
            if isinstance(result, str):
                records[sample.sample_id] = error_record(suite, sample, result)
                continue
            response, stats = result
            if cache is not None and sample.sample_id in work.keys:
                cache.put(work.keys[sample.sample_id], response)
            records[sample.sample_id] = understand_record(
                suite,
                sample,
                response,
                metrics,
                call_seconds=stats.seconds,
                memory=stats.memory,
                prepared_ahead=stats.prepared_ahead,
            )
        return [records[s.sample_id] for s in work.batch]

    def _call_prepared(
        self, requests: list[tuple[Sample, UnderstandRequest]], prepared: PreparedBatch | None
    ) -> list[CallResult]:
        """The adapter call on inputs prepared ahead; a failure (or a batch above `batch_cap`)
        falls back to `call_adapter`, which halves or isolates on the raw requests."""
        if prepared is None or prepared.inputs is None or (self.batch_cap and len(requests) > self.batch_cap):
            return self.call_adapter(requests)
        try:
            results = self._timed_call(
                [r for _, r in requests], lambda _: self.adapter.understand_prepared(prepared, self.settings)
            )
        except (KeyboardInterrupt, SystemExit, MemoryError):
            raise
        except Exception as exc:  # noqa: BLE001 - one bad sample must not sink the run
            return self._after_failure(requests, exc, None)
        return [(r[0], replace(r[1], prepared_ahead=True)) if not isinstance(r, str) else r for r in results]

    def call_adapter(
        self,
        requests: list[tuple[Sample, Any]],
        call: Callable[[list[Any]], list[Any]] | None = None,
    ) -> list[CallResult]:
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
                for result in self.call_adapter(requests[i : i + cap], call)
            ]
        reqs = [r for _, r in requests]
        try:
            return self._timed_call(reqs, call)
        except (KeyboardInterrupt, SystemExit, MemoryError):
            raise
        except Exception as exc:  # noqa: BLE001 - one bad sample must not sink the run
            return self._after_failure(requests, exc, call)

    def _timed_call(self, reqs: list[Any], call: Callable[[list[Any]], list[Any]] | None) -> list[CallResult]:
        adapter = self.adapter
        with profiling.MemoryTracker(adapter.device) as memory:
            start = time.perf_counter()
            responses = call(reqs) if call is not None else adapter.understand(reqs, self.settings)
            seconds = time.perf_counter() - start
        if len(responses) != len(reqs):
            raise RuntimeError(f"adapter returned {len(responses)} responses for {len(reqs)} requests")
        stats = CallStats(seconds, {**memory.figures, "weights_bytes": _weights_bytes(adapter)})
        return [(response, stats) for response in responses]

    def _after_failure(
        self,
        requests: list[tuple[Sample, Any]],
        exc: Exception,
        call: Callable[[list[Any]], list[Any]] | None,
    ) -> list[CallResult]:
        """Out of memory: halve and keep the smaller size; else isolate the failing sample."""
        n = len(requests)
        if is_out_of_memory(exc) and n > 1:
            half = n // 2
            self.batch_cap = min(self.batch_cap or n, half)
            log.warning("out of memory on a batch of %d; retrying in halves of %d", n, half)
            profiling.free_accelerator_memory(self.adapter.device)
            return self.call_adapter(requests[:half], call) + self.call_adapter(requests[half:], call)
        if n == 1:
            log.debug("sample %s failed:\n%s", requests[0][1].sample_id, traceback.format_exc())
            return [f"{type(exc).__name__} in adapter {self.adapter.name!r}: {exc}"]
        log.info("batch of %d failed (%s); retrying one sample at a time", n, exc)
        out: list[CallResult] = []
        for item in requests:
            out.extend(self.call_adapter([item], call))
        return out

    def _run_generation_batch(
        self, suite: Suite, batch: Sequence[Sample], metrics: list[Metric]
    ) -> list[SampleRecord]:
        """Draw a batch of prompts, each with its own seed; save every image before its line is logged."""
        adapter = self.adapter
        requests = generated_images.generation_requests(suite.name, batch, self.seed)
        results = self.call_adapter(
            list(zip(batch, requests, strict=True)),
            lambda reqs: adapter.generate_images(reqs, self.image_settings),
        )
        records: list[SampleRecord] = []
        for sample, result in zip(batch, results, strict=True):
            records.append(self._generation_record(suite, sample, result, results, metrics))
        return records

    def _generation_record(
        self,
        suite: Suite,
        sample: Sample,
        result: CallResult,
        results: list[CallResult],
        metrics: list[Metric],
    ) -> SampleRecord:
        if isinstance(result, str):
            return error_record(suite, sample, result)
        response, stats = result
        if not isinstance(response, GenerateResponse) or not response.images:
            return error_record(suite, sample, f"adapter {self.adapter.name!r} returned no image")
        try:
            paths = generated_images.save_images(self.run_dir, suite.name, sample.sample_id, response.images)
        except OSError as exc:
            return error_record(suite, sample, f"cannot save the generated image: {exc}")
        scores: dict[str, float] = {}
        for m in metrics:
            scores.update(m.update(sample, str(self.run_dir / paths[0])))
        return generated_images.generation_record(
            suite.name,
            sample,
            response,
            paths,
            scores,
            call_seconds=stats.seconds,
            call_requests=len([r for r in results if not isinstance(r, str) and r[1] is stats]),
            memory=stats.memory,
        )
