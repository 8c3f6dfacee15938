"""Rule-based answer extraction for multiple choice, exactly VLMEvalKit's exact-matching policy.

Reference: VLMEvalKit ``vlmeval/utils/matching_util.py`` at e8e78f0 (2026-08-18),
``can_infer_option``, ``can_infer_text`` and ``can_infer`` (BENCHMARK-RULES.md §1):

1. ``can_infer_option``: a model output containing ``Failed to obtain answer via API`` is not
   inferable; one containing a refusal sentence gives ``Z``. The characters ``.()[],:;!*#{}``
   become spaces and the output is split on whitespace. If exactly one option letter occurs as a
   token, and (scanning the options in order) its first occurrence is among the last four tokens
   (``index > len(tokens) - 5``), that letter. If no letter occurs but a ``Z`` token does, ``Z``.
   Otherwise the regex ``(?i)(?:correct\\s+)?answer\\s+is\\s+\\**([ABCD])\\**`` is tried.
2. ``can_infer_text``: lower-cased; when the output is longer than twice the summed length of the
   option texts, nothing; else the option whose lower-cased text is a substring of the output,
   when exactly one is.

``Z`` means "the model refused" and never equals a gold letter. An output nothing matches is
*unparsed* (`None` here): scored wrong and counted, never replaced by a random letter (that is
what VLMEvalKit's ``exact_matching`` mode does too: hit = 0).
"""

from __future__ import annotations

import math
import re
import string
from collections.abc import Mapping
from typing import Any

REFUSALS = (
    "Sorry, I can't help with images of people yet.",
    "I can't process this file.",
    "I'm sorry, but without the image provided",
    "Cannot determine the answer",
)
API_FAILURE = "Failed to obtain answer via API"
REFUSED = "Z"
_SEPARATORS = str.maketrans(dict.fromkeys(".()[],:;!*#{}", " "))
_VERBOSE_ANSWER = re.compile(r"(?i)(?:correct\s+)?answer\s+is\s+\**([ABCD])\**")


def present_options(row: Mapping[str, Any]) -> dict[str, str]:
    """Letter -> option text for the letters A-Z present in `row` (VLMEvalKit ``build_choices``).

    A missing, null or NaN cell (how pandas reads an empty TSV cell) is no option; so is an empty
    string, which is how other readers give the same empty cell.
    """
    out: dict[str, str] = {}
    for letter in string.ascii_uppercase:
        value = row.get(letter)
        if value is None or (isinstance(value, float) and math.isnan(value)) or value == "":
            continue
        out[letter] = str(value)
    return out


def can_infer_option(answer: str, choices: Mapping[str, str]) -> str | None:
    """The option letter named in `answer` (or ``Z`` for a refusal); None when none is."""
    if API_FAILURE in answer:
        return None
    if any(refusal in answer for refusal in REFUSALS):
        return REFUSED
    tokens = answer.translate(_SEPARATORS).split()
    count = sum(1 for c in choices if c in tokens)
    if count == 1:
        for letter in choices:
            if letter in tokens and tokens.index(letter) > len(tokens) - 5:
                return letter
    elif count == 0 and REFUSED in tokens:
        return REFUSED
    match = _VERBOSE_ANSWER.search(answer)
    if match and match.group(1).upper() in choices:
        return match.group(1).upper()
    return None


def can_infer_text(answer: str, choices: Mapping[str, str]) -> str | None:
    """The only option whose text occurs in `answer` (case-insensitive); None otherwise."""
    answer = answer.lower()
    if len(answer) > 2 * sum(len(v) for v in choices.values()):
        return None
    found = [k for k, v in choices.items() if v.lower() in answer]
    return found[0] if len(found) == 1 else None


def can_infer(answer: str, choices: Mapping[str, str]) -> str | None:
    """`can_infer_option`, then `can_infer_text`: a letter, ``Z``, or None (unparsed)."""
    return can_infer_option(answer, choices) or can_infer_text(answer, choices)


def first_letter(answer: str, choices: Mapping[str, str]) -> str | None:
    """lmms-eval SEED-Bench's rule: the first character of the stripped output, upper-cased,
    if it is an option letter (``tasks/seedbench/utils.py``); None otherwise."""
    text = answer.strip()
    letter = text[:1].upper()
    return letter if letter in choices else None


EXTRACTORS = {"vlmevalkit": can_infer, "first_letter": first_letter}
"""Extraction rules by name (``vlmevalkit`` is the default everywhere)."""
