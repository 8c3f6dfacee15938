"""Each benchmark suite's version is pinned together with what it scores by.

Changing a prompt, a metric or the answer extraction fails this test until the suite's
``version`` is bumped and the row below is updated with it.
"""

from __future__ import annotations

import pytest

from mllmbench.suites.registry import load_suite_class

VQA = "{question}\nAnswer the question using a single word or phrase."
UNANSWERABLE = (
    "{question}\nWhen the provided information is insufficient, respond with 'Unanswerable'."
    "\nAnswer the question using a single word or phrase."
)
CAPTION = "Provide a one-sentence caption for the provided image."

PINNED = {
    # suite: (version, prompt, metric classes (name, version))
    "vqav2": ("1", VQA, [("VQAAccuracy", "1")]),
    "okvqa": ("1", UNANSWERABLE, [("EvalAIVQAAccuracy", "1")]),
    "textvqa": ("1", VQA, [("EvalAIVQAAccuracy", "1")]),
    "vizwiz": ("1", UNANSWERABLE, [("EvalAIVQAAccuracy", "1")]),
    "gqa": ("1", VQA, [("ExactMatch", "1")]),
    "coco_karpathy": ("1", "Describe the image briefly.", [("CaptionMetrics", "1")]),
    "coco2017_cap": ("1", CAPTION, [("CaptionMetrics", "1")]),
    "nocaps": ("1", CAPTION, [("DomainCaptionMetrics", "1")]),
    "flickr30k": ("1", CAPTION, [("CaptionMetrics", "1")]),
    "coco_t2i": ("1", "{caption}", [("DeferredFID", "1"), ("DeferredCLIPScore", "1")]),
}


@pytest.mark.parametrize("name", sorted(PINNED))
def test_version_pins_prompt_and_metrics(name: str) -> None:
    cls = load_suite_class(name)
    version, prompt, metrics = PINNED[name]
    assert (cls.version, cls.prompt) == (version, prompt)
    # metrics() needs no data: build it on an instance that skips the data-directory check.
    suite = object.__new__(cls)
    suite.subset_file = None
    got = [(type(m).__name__, m.version) for m in suite.metrics()]
    assert got == metrics
