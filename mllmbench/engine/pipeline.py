"""The pipelined local engine: prepare the next batch while the current one generates.

Two things make a run faster than a plain batch-after-batch loop, without changing an answer:

* **Overlap** (`prefetch`): one worker thread opens the next batch's images, looks up the
  response cache and runs the adapter's own preparation (`Adapter.prepare`: chat template,
  processor) while the main thread generates the current batch, scores it and appends its
  lines. Image decoding, the processor and ``generate`` all release the interpreter lock for
  their heavy parts, so on a machine with a spare core the preparation is hidden. At most one
  batch is prepared ahead.
* **Length sorting** (`length_sorted`): the samples are ordered by prompt length, longest
  first, so a batch holds prompts of similar length and pads less, and the largest batch runs
  first, where running out of memory shows at once (as lmms-eval's ``Collator`` orders them).
  Sorting is stable and deterministic, and the sample log is folded back into dataset order
  when the run ends (`mllmbench.core.samplelog.consolidate`), so results come back in the
  original order; greedy answers do not depend on the batch a sample ran in.

What each timing then measures is documented in docs/architecture.md ("The pipelined engine").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from mllmbench.suites.base import Sample

T = TypeVar("T")
R = TypeVar("R")


def prompt_length(sample: Sample) -> tuple[int, int]:
    """The sort key: (images and videos, characters of the text).

    Images dominate a multimodal prompt (a fixed block of tokens each for most families), then
    the text; characters stand in for tokens, since no tokenizer is needed to plan.
    """
    return (len(sample.image_paths) + (sample.video is not None), len(sample.text))


def length_sorted(samples: Sequence[Sample], batch_size: int) -> list[Sample]:
    """`samples` by `prompt_length`, longest first (stable: equal keys keep their order).

    Batch size 1 keeps the order as it is: there is no padding to save.
    """
    if batch_size <= 1:
        return list(samples)
    return sorted(samples, key=prompt_length, reverse=True)


def prefetch(items: Iterable[T], prepare: Callable[[T], R], *, overlap: bool = True) -> Iterator[tuple[T, R]]:
    """Yield ``(item, prepare(item))`` in order; with `overlap`, the next item's `prepare` runs in
    a worker thread while the caller works on the current one.

    An exception raised by `prepare` is raised here, when its item's turn comes. When the caller
    stops early (an error, Ctrl-C), the preparation in flight is waited for and discarded.
    """
    if not overlap:
        for item in items:
            yield item, prepare(item)
        return
    iterator = iter(items)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="mllmbench-prepare") as pool:
        pending = _submit(pool, iterator, prepare)
        while pending is not None:
            item, future = pending
            result = future.result()
            pending = _submit(pool, iterator, prepare)
            yield item, result


def _submit(
    pool: ThreadPoolExecutor, iterator: Iterator[T], prepare: Callable[[T], R]
) -> tuple[T, Future[R]] | None:
    for item in iterator:
        return item, pool.submit(prepare, item)
    return None
