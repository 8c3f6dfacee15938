"""The optional LLM judge: asks any understanding adapter to read the answers a suite's rules
left unparsed, and hands the verdicts to the suite, which scores with them beside its rule-only
score.

The judge is an ordinary adapter (``text_llm``, ``llava``, the zoo LLM, ``openai`` for any
OpenAI-compatible server) loaded from a `JudgeSpec`; it gets the suite's judge prompt as text
only (no image), is decoded greedily, and is called once per unparsed sample, never for an answer
the rules read. A failed judge call leaves the sample unparsed (counted), never guessed.
Used by ``mllm-bench score SUITE ... --judge-adapter A --judge-model M`` and ``mllm-bench rescore
RUN_DIR --judge-adapter A --judge-model M`` (which also writes ``judge.jsonl`` in the run).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mllmbench.adapters.base import Adapter
from mllmbench.adapters.registry import load_adapter_class
from mllmbench.core.config import RunConfig
from mllmbench.core.errors import ConfigError
from mllmbench.core.jsonio import dumps_jsonl, write_text_atomic
from mllmbench.core.types import Capability, GenerationSettings, UnderstandRequest
from mllmbench.suites.base import Sample, Suite
from mllmbench.suites.judging import JudgeVerdict, JudgeVerdicts

log = logging.getLogger(__name__)

JUDGE_FILE = "judge.jsonl"
"""Per-sample verdicts in a run directory (one line per judged sample)."""


@dataclass(frozen=True)
class JudgeSpec:
    """Which model judges, and how it is reached."""

    adapter: str
    """A registered adapter name (``text_llm``, ``llava``, ``openai``...)."""
    model: str
    """Its checkpoint (path, hub id, ``zoo:NAME``) or, for ``openai``, the served model id."""
    base_urls: tuple[str, ...] = ()
    """``openai`` only: the servers."""
    api_key_env: str | None = None
    """``openai`` only: the variable holding the API key."""
    device: str = "cpu"
    max_new_tokens: int = 16
    batch_size: int = 8


@contextmanager
def loaded_judge(spec: JudgeSpec) -> Iterator[Adapter]:
    """The judge adapter, loaded; closed on exit."""
    from mllmbench.core.device import resolve_device

    cls = load_adapter_class(spec.adapter)
    if not cls.capabilities & Capability.UNDERSTAND:
        raise ConfigError(f"--judge-adapter {spec.adapter!r} cannot answer text prompts (no understanding)")
    device = resolve_device(spec.device, flag="--judge-device")
    config = RunConfig(
        adapter=spec.adapter,
        model=spec.model,
        suites=("judge",),
        device=device,
        max_new_tokens=spec.max_new_tokens,
        base_urls=spec.base_urls,
        api_key_env=spec.api_key_env,
    )
    adapter = cls.from_config(config, device=device)
    adapter.load()
    try:
        yield adapter
    finally:
        adapter.close()


def judge_info(adapter: Adapter, spec: JudgeSpec) -> dict[str, Any]:
    """What identifies the judge in the results."""
    from mllmbench.suites.metrics.mc_judge import PROMPT_VERSION, prompt_sha256

    info = adapter.info
    return {
        "adapter": spec.adapter,
        "model": spec.model,
        "checkpoint_hash": info.checkpoint_hash,
        "dtype": info.dtype,
        "prompt_version": PROMPT_VERSION,
        "prompt_sha256": prompt_sha256(),
        "max_new_tokens": spec.max_new_tokens,
        "decoding": "greedy",
        "called_for": "outputs the rule-based extraction left unparsed",
    }


def ask(
    adapter: Adapter, prompts: Mapping[str, str], spec: JudgeSpec
) -> dict[str, tuple[str | None, str | None]]:
    """sample_id -> (reply, error) for every prompt; a failed batch fails only its own samples."""
    settings = GenerationSettings(max_new_tokens=spec.max_new_tokens)
    ids = list(prompts)
    out: dict[str, tuple[str | None, str | None]] = {}
    for start in range(0, len(ids), spec.batch_size):
        chunk = ids[start : start + spec.batch_size]
        try:
            responses = adapter.understand([UnderstandRequest(i, (), prompts[i]) for i in chunk], settings)
        except Exception as exc:  # noqa: BLE001 - a judge failure leaves the samples unparsed, counted
            log.error("judge call failed for %d sample(s): %s", len(chunk), exc)
            out.update({i: (None, f"{type(exc).__name__}: {exc}") for i in chunk})
            continue
        out.update({i: (r.text, None) for i, r in zip(chunk, responses, strict=True)})
    return out


def judge_suite(
    adapter: Adapter, spec: JudgeSpec, suite: Suite, samples: Sequence[Sample], answers: Mapping[str, str]
) -> JudgeVerdicts:
    """Ask the judge about every answer the suite's rules leave unparsed; give the verdicts to the suite."""
    if not suite.judged_extraction:
        raise ConfigError(f"suite {suite.name!r} has no LLM-judge answer extraction")
    by_id = {s.sample_id: s for s in samples}
    prompts = {
        sid: prompt
        for sid, answer in answers.items()
        if sid in by_id and (prompt := suite.judge_prompt(by_id[sid], answer)) is not None
    }
    replies = ask(adapter, prompts, spec)
    verdicts = {
        sid: JudgeVerdict(
            prompt=prompts[sid],
            output=reply,
            extracted=suite.judge_extract(by_id[sid], reply) if reply is not None else None,
            error=error,
        )
        for sid, (reply, error) in replies.items()
    }
    result = JudgeVerdicts(info=judge_info(adapter, spec), verdicts=verdicts)
    suite.set_judge(result)
    log.info("%s: judge %s asked about %d unparsed answer(s)", suite.name, spec.model, len(verdicts))
    return result


def write_verdicts(run_dir: Path, judged: Mapping[str, JudgeVerdicts]) -> Path:
    """``judge.jsonl``: suite, sample_id, prompt, the judge's reply, what was read from it."""
    lines = [
        {"suite": suite, "sample_id": sid, **v.to_dict()}
        for suite, verdicts in judged.items()
        for sid, v in verdicts.verdicts.items()
    ]
    return write_text_atomic(Path(run_dir) / JUDGE_FILE, dumps_jsonl(lines))
