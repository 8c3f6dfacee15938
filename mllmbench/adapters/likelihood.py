"""Likelihood mode for multiple choice: rank the options by the model's log-likelihood.

SEED-Bench's official protocol (and lmms-eval's ``seedbench_ppl``: ``output_type:
multiple_choice`` over the choice texts, ``acc``): for each option text c, the score is
sum_t log p(c_t | prompt, c_<t) over c's tokens, with the prompt rendered by the adapter's chat
template exactly as for generation; the answer is the letter of the highest score (ties: the
first). Unnormalised sums, as lmms-eval's ``acc`` (not ``acc_norm``).

`understand_by_likelihood` works for every `HFVisionLanguageAdapter` whose model returns
``logits`` from a forward pass on ``processor_inputs``; one forward per (sample, option).
"""

from __future__ import annotations

import string
import time
from collections.abc import Sequence
from typing import Any

from mllmbench.core.types import UnderstandRequest, UnderstandResponse, Usage


def supports_likelihood(adapter: Any) -> bool:
    """Whether `adapter` answers ``UnderstandRequest.choices`` by likelihood: an
    `HFVisionLanguageAdapter` that keeps the base ``understand`` (which routes here)."""
    from mllmbench.adapters.hf import HFVisionLanguageAdapter

    return (
        isinstance(adapter, HFVisionLanguageAdapter)
        and type(adapter).understand is HFVisionLanguageAdapter.understand
    )


def option_loglikelihoods(adapter: Any, request: UnderstandRequest) -> tuple[str, list[float]]:
    """(rendered prompt, log-likelihood of each of ``request.choices`` after it)."""
    import torch

    prompt = adapter.render_prompt(request.text, len(request.images))
    images = [list(request.images)]
    dtype = getattr(torch, adapter.dtype)
    base = adapter.processor_inputs([prompt], images)
    n_prompt = int(base["input_ids"].shape[1])
    scores = []
    for choice in request.choices:
        inputs = dict(adapter.processor_inputs([prompt + " " + choice], images))
        inputs = {k: (v.to(adapter.device, dtype=dtype) if v.is_floating_point() else v.to(adapter.device))
                  for k, v in inputs.items() if hasattr(v, "to")}  # fmt: skip
        ids = inputs["input_ids"][0]
        if ids.shape[0] <= n_prompt or not bool((ids[:n_prompt].cpu() == base["input_ids"][0]).all()):
            raise ValueError(
                f"sample {request.sample_id}: option {choice!r} does not tokenize as a continuation of the prompt"
            )
        with torch.inference_mode():
            logits = adapter.model(**inputs).logits[0].float()
        logprobs = torch.log_softmax(logits[:-1], dim=-1)
        targets = ids[1:]
        picked = logprobs.gather(1, targets.unsqueeze(1)).squeeze(1)
        scores.append(float(picked[n_prompt - 1 :].sum()))
    return prompt, scores


def understand_by_likelihood(adapter: Any, batch: Sequence[UnderstandRequest]) -> list[UnderstandResponse]:
    """One response per request: the letter of its most likely option."""
    out = []
    for request in batch:
        start = time.perf_counter()
        prompt, scores = option_loglikelihoods(adapter, request)
        best = max(range(len(scores)), key=lambda i: (scores[i], -i))
        seconds = time.perf_counter() - start
        usage = Usage(input_tokens=0, output_tokens=0, image_tokens=0, batch_seconds=seconds, batch_size=1)
        out.append(UnderstandResponse(text=string.ascii_uppercase[best], prompt=prompt, usage=usage))
    return out
