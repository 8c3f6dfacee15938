"""What an LLM judge said about the answers a suite's rules could not parse.

The engine (`mllmbench.engine.judge`) asks the judge; a suite that allows judged extraction
(`Suite.judged_extraction`) words the question (`Suite.judge_prompt`), reads the judge's reply
(`Suite.judge_extract`) and scores with it beside its rule-only score (`Suite.set_judge`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class JudgeVerdict:
    """The judge's answer for one sample whose output no rule parsed."""

    prompt: str
    """The exact text given to the judge (before its chat template)."""
    output: str | None
    """The judge's raw reply; None when the judge call failed."""
    extracted: str | None
    """What the suite read from the reply (an option letter, ``Z`` for none); None: nothing."""
    error: str | None = None
    """Why the judge call failed."""

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form (one line of ``judge.jsonl``)."""
        return {
            "prompt": self.prompt,
            "output": self.output,
            "extracted": self.extracted,
            "error": self.error,
        }


@dataclass(frozen=True)
class JudgeVerdicts:
    """Every verdict of one judge on one suite, with what identifies the judge."""

    info: Mapping[str, Any]
    """``adapter``, ``model``, ``checkpoint_hash``, ``prompt_version``, ``prompt_sha256``,
    ``max_new_tokens``: recorded in the results next to the judged values."""
    verdicts: Mapping[str, JudgeVerdict] = field(default_factory=dict)
    """sample_id -> verdict, for the samples the rules left unparsed (and only those)."""

    def summary(self) -> dict[str, Any]:
        """``info`` plus the counts: calls, failed calls, replies nothing could be read from."""
        values = list(self.verdicts.values())
        return {
            **dict(self.info),
            "calls": len(values),
            "failed_calls": sum(v.output is None for v in values),
            "unreadable_replies": sum(v.output is not None and v.extracted is None for v in values),
        }
