"""The optional LLM judge for multiple-choice answer extraction (after VLMEvalKit's choice extractor).

VLMEvalKit asks a judge model (``build_prompt`` in ``vlmeval/dataset/utils/multiple_choice.py``)
which option a free-form answer chooses, and re-reads the reply with ``can_infer``
(BENCHMARK-RULES.md §1). Here the judge is asked only about outputs the rule-based extraction left
unparsed, once, greedily; a reply no rule reads stays unparsed (wrong and counted), never a random
letter. The prompt is this project's own wording (`PROMPT_VERSION`, hashed into the results):
question, lettered options, the answer, and the instruction to reply with one letter or ``Z``.
"""

from __future__ import annotations

from collections.abc import Mapping

from mllmbench.core.hashing import text_sha256
from mllmbench.suites.metrics.mc_extract import can_infer

PROMPT_VERSION = "1"
PROMPT_TEMPLATE = (
    "You are helping to grade a multiple-choice test. Below are a question, its options and a "
    "student's answer. Decide which single option the answer chooses. Reply with that option's "
    "letter only. Reply Z if the answer chooses none of the options, or more than one.\n"
    "Question: {question}\n"
    "Options:\n{options}"
    "Answer: {answer}\n"
    "Letter:"
)


def prompt_sha256() -> str:
    """Digest of the template (recorded with `PROMPT_VERSION`)."""
    return text_sha256(PROMPT_TEMPLATE)


def judge_prompt(question: str, options: Mapping[str, str], answer: str) -> str:
    """The judge's prompt for one answer.

    Example:
        >>> print(judge_prompt("Color?", {"A": "red", "B": "blue"}, "it is reddish").splitlines()[-4:])
        ['A. red', 'B. blue', 'Answer: it is reddish', 'Letter:']
    """
    lines = "".join(f"{k}. {v}\n" for k, v in options.items())
    return PROMPT_TEMPLATE.format(question=question, options=lines, answer=answer)


def judge_extract(reply: str, options: Mapping[str, str]) -> str | None:
    """The letter (or ``Z``) in the judge's reply, read with the same rules (`can_infer`); None: none."""
    return can_infer(reply, options)
