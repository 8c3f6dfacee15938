"""LLM-conditioned diffusion on a tiny LLM + tiny Stable Diffusion: contract, both stages, config errors."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mllmbench.adapters.diffusion import DiffusionAdapter
from mllmbench.adapters.llm_diffusion import (
    CONFIG_FILE,
    DEFAULT_INSTRUCTION,
    LLMDiffusionAdapter,
    clean_rewrite,
)
from mllmbench.adapters.tiny.llm_diffusion import REWRITE_MAX_NEW_TOKENS as TINY_REWRITE_MAX_NEW_TOKENS
from mllmbench.core.errors import ConfigError
from mllmbench.core.types import GenerationSettings, ImageGenerationSettings, UnderstandRequest
from mllmbench.testing.adapter_contract import (
    generation_requests,
    pixel_difference,
)

SETTINGS = ImageGenerationSettings(num_inference_steps=2, guidance_scale=3.0)
BATCH_TOLERANCE = 2
"""Largest RGB difference allowed between an image drawn alone and in a batch (float rounding)."""


@pytest.fixture(scope="module")
def tiny_pair(tiny_checkpoint: Callable[[str], Path]) -> Path:
    """The session's tiny llm_diffusion checkpoint (shared: copy it before changing files)."""
    return tiny_checkpoint("llm_diffusion")


@pytest.fixture(scope="module")
def adapter(tiny_pair: Path) -> Iterator[LLMDiffusionAdapter]:
    a = LLMDiffusionAdapter(str(tiny_pair))
    a.load()
    yield a
    a.close()


def test_both_stages_are_what_each_model_does_alone(adapter: LLMDiffusionAdapter, tiny_pair: Path) -> None:
    """Stage 1 equals the LLM asked directly; stage 2 equals the diffusion adapter on the rewrite."""
    requests = generation_requests(2)
    responses = adapter.generate_images(requests, SETTINGS)
    llm_answers = adapter.llm.understand(
        [UnderstandRequest(r.sample_id, (), DEFAULT_INSTRUCTION.format(prompt=r.text)) for r in requests],
        GenerationSettings(max_new_tokens=TINY_REWRITE_MAX_NEW_TOKENS),
    )
    draw = DiffusionAdapter(str(tiny_pair / "diffusion"))
    draw.load()
    for request, response, answer in zip(requests, responses, llm_answers, strict=True):
        assert response.prompt == answer.prompt and request.text in response.prompt
        assert response.rewritten_prompt == (clean_rewrite(answer.text) or request.text)
        assert response.settings["rewrite_fallback"] is (not clean_rewrite(answer.text))
        alone = draw.draw([response.rewritten_prompt], [request.seed], SETTINGS)
        # Drawn alone vs in a batch of two: equal up to the rounding of batched float kernels.
        assert pixel_difference(alone.images[0][0], response.images[0]) <= BATCH_TOLERANCE
        usage = response.usage
        assert usage.input_tokens == answer.usage.input_tokens
        assert usage.output_tokens == answer.usage.output_tokens
        assert set(usage.stage_seconds) == {"rewrite", "draw"}
        assert usage.batch_seconds == pytest.approx(sum(usage.stage_seconds.values()))
        assert usage.nfe == 4 and usage.steps == 2
        # The draw waits for the rewrite: the LLM's forward calls (one per token of the batch's
        # longest answer, prefill included) plus one denoiser call per step.
        assert usage.sequential_calls == max(a.usage.output_tokens for a in llm_answers) + 2
    draw.close()


def test_clean_rewrite() -> None:
    assert clean_rewrite('  "a red circle"\n') == "a red circle"
    assert clean_rewrite("'x'") == "x"
    assert clean_rewrite(' "unbalanced') == '"unbalanced'
    assert clean_rewrite("   ") == ""


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"llm": "llm"}, "diffusion"),
        ({"llm": "llm", "diffusion": "diffusion", "extra": 1}, "unknown keys"),
        ({"llm": "llm", "diffusion": "diffusion", "instruction": "no placeholder"}, "{prompt}"),
        ({"llm": "llm", "diffusion": "diffusion", "rewrite_max_new_tokens": 0}, "positive integer"),
        ({"llm": "nowhere", "diffusion": "diffusion"}, "'nowhere' is not a directory"),
    ],
)
def test_config_errors_name_the_file(tmp_path: Path, content: dict[str, object], message: str) -> None:
    (tmp_path / "llm").mkdir()
    (tmp_path / "diffusion").mkdir()
    (tmp_path / CONFIG_FILE).write_text(json.dumps(content))
    with pytest.raises(ConfigError, match=CONFIG_FILE) as err:
        LLMDiffusionAdapter(str(tmp_path)).load()
    assert message in str(err.value)


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="llm_diffusion.json not found"):
        LLMDiffusionAdapter(str(tmp_path)).load()
