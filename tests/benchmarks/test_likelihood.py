"""Likelihood mode: option log-likelihoods from the tiny LLaVA, and shapes_mc_ppl end to end."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from PIL import Image

from mllmbench.core.types import UnderstandRequest


@pytest.mark.slow
def test_option_loglikelihoods_match_a_direct_forward(tiny_llava: Path) -> None:
    import torch

    from mllmbench.adapters.likelihood import option_loglikelihoods
    from mllmbench.adapters.registry import load_adapter_class

    adapter = load_adapter_class("llava")(str(tiny_llava), device="cpu")
    adapter.load()
    image = Image.new("RGB", (32, 32), "red")
    req = UnderstandRequest("s1", (image,), "What color?", ("red", "blue square"))
    prompt, scores = option_loglikelihoods(adapter, req)
    assert len(scores) == 2 and all(s < 0 and math.isfinite(s) for s in scores)
    # independent check: the continuation's log-prob token by token, one forward per prefix
    base = adapter.processor_inputs([prompt], [[image]])["input_ids"][0]
    full = adapter.processor_inputs([prompt + " blue square"], [[image]])
    ids = full["input_ids"][0]
    total = 0.0
    for t in range(len(base), len(ids)):
        prefix = adapter.processor_inputs([prompt + " blue square"], [[image]])
        prefix = {k: v[:, :t] if k in ("input_ids", "attention_mask") else v for k, v in prefix.items()}
        with torch.inference_mode():
            logits = adapter.model(**prefix).logits[0, -1].float()
        total += float(torch.log_softmax(logits, -1)[ids[t]])
    assert scores[1] == pytest.approx(total, abs=1e-4)
    adapter.close()


@pytest.mark.slow
def test_run_shapes_mc_ppl(tmp_path: Path, tiny_llava: Path) -> None:
    from mllmbench.cli.main import main

    out = tmp_path / "run"
    code = main(["run", "--no-progress", "--no-report", "--adapter", "llava", "--model", str(tiny_llava),
                 "--suite", "shapes_mc_ppl", "--limit", "4", "--out", str(out)])  # fmt: skip
    assert code == 0
    run = json.loads((out / "run.json").read_text())
    res = run["suites"]["shapes_mc_ppl"]
    assert res["n_done"] == 4 and res["metrics"]["unparsed"]["value"] == 0  # a letter always comes back
    assert res["scoring"]["mode"].startswith("likelihood")
    lines = [json.loads(x) for x in (out / "samples.jsonl").read_text().splitlines()]
    assert all(x["output"] in "ABCD" and len(x["output"]) == 1 for x in lines)


def test_adapters_without_likelihood_support_are_refused() -> None:
    """An adapter that overrides ``understand`` (BLIP-2) would ignore the choices and generate:
    the engine fails those samples instead of scoring generated text as likelihood answers."""
    from mllmbench.adapters.likelihood import supports_likelihood
    from mllmbench.adapters.registry import load_adapter_class

    assert supports_likelihood(load_adapter_class("llava")("unused"))
    assert not supports_likelihood(load_adapter_class("blip2")("unused"))
