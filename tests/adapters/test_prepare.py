"""Splitting preprocessing from generation (`Adapter.prepare` / `Adapter.understand_prepared`).

The contract over every registered adapter checks that the split answers as `understand` does
(`mllmbench.testing.adapter_contract.check_prepared`); here: the worker thread's own processor,
preparing while another batch generates, and the fallbacks that prepare nothing ahead.
"""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path

import pytest

from mllmbench.adapters.base import PreparedBatch
from mllmbench.adapters.llava import LlavaAdapter
from mllmbench.adapters.openai_compat import OpenAIAdapter
from mllmbench.core.types import GenerationSettings
from mllmbench.engine.pipeline import prefetch
from mllmbench.testing.adapter_contract import sample_requests

SETTINGS = GenerationSettings(max_new_tokens=6)


@pytest.fixture(scope="module")
def llava(tiny_llava: Path) -> LlavaAdapter:
    adapter = LlavaAdapter(str(tiny_llava))
    adapter.load()
    return adapter


def _in_thread(fn):  # type: ignore[no-untyped-def]
    box: list = []
    worker = threading.Thread(target=lambda: box.append(fn()))
    worker.start()
    worker.join()
    return box[0]


def test_a_worker_thread_gets_its_own_copy_of_the_processor(llava: LlavaAdapter) -> None:
    main_processor = llava.processor
    assert llava.processor is main_processor  # the loading thread keeps the original
    copies = _in_thread(lambda: (llava.processor, llava.processor, llava.tokenizer))
    assert copies[0] is not main_processor
    assert copies[0] is copies[1], "one copy per thread, made once"
    assert copies[2] is copies[0].tokenizer
    assert type(copies[0]) is type(main_processor)
    assert copies[2].padding_side == "left"


def test_preparing_while_generating_answers_as_understand(llava: LlavaAdapter) -> None:
    requests = sample_requests(8)
    batches = [requests[i : i + 2] for i in range(0, 8, 2)] * 3
    expected = [[r.text for r in llava.understand(b, SETTINGS)] for b in batches[:4]] * 3
    got = [
        [r.text for r in llava.understand_prepared(prepared, SETTINGS)]
        for _, prepared in prefetch(batches, llava.prepare)
    ]
    assert got == expected


def test_timings_of_a_prepared_batch_count_the_preparation(llava: LlavaAdapter) -> None:
    prepared = llava.prepare(sample_requests(2))
    assert prepared.inputs is not None and prepared.preprocess_seconds > 0
    slow = dataclasses.replace(prepared, preprocess_seconds=5.0)
    [response, _] = llava.understand_prepared(slow, SETTINGS)
    profile = response.usage.profile
    assert profile is not None
    # the preparation (done earlier, elsewhere) is the preprocessing of the sample; the call's
    # own wall time (batch_seconds) is generate alone
    assert profile.preprocess_seconds >= 5.0
    assert response.usage.batch_seconds < 5.0


def test_likelihood_requests_are_not_prepared_ahead(llava: LlavaAdapter) -> None:
    [request] = sample_requests(1)
    request = dataclasses.replace(request, choices=("red", "green", "blue"))
    prepared = llava.prepare([request])
    assert prepared.inputs is None
    assert [r.text for r in llava.understand_prepared(prepared, SETTINGS)] == [
        r.text for r in llava.understand([request], SETTINGS)
    ]


def test_an_adapter_without_the_split_prepares_nothing() -> None:
    requests = sample_requests(2)
    adapter = OpenAIAdapter("some-model", base_urls=["http://127.0.0.1:9/v1"])  # never contacted
    prepared = adapter.prepare(requests)
    assert prepared == PreparedBatch(tuple(requests))
    assert prepared.inputs is None


def test_a_family_overriding_understand_is_not_bypassed(tiny_checkpoint) -> None:  # type: ignore[no-untyped-def]
    from mllmbench.adapters.blip2 import Blip2Adapter
    from mllmbench.core.errors import InputError

    adapter = Blip2Adapter(str(tiny_checkpoint("blip2")))
    adapter.load()
    two_images = dataclasses.replace(sample_requests(1)[0], images=sample_requests(2)[0].images * 2)
    prepared = adapter.prepare([two_images])
    assert prepared.inputs is None  # BLIP-2's own understand checks one image per request
    with pytest.raises(InputError, match="exactly one image"):
        adapter.understand_prepared(prepared, SETTINGS)
