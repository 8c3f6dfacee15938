"""The official MMMU answer parser and checks (MMMU ``eval/eval_utils.py``, BENCHMARK-RULES.md §2).

Reproduced from the file at 44b45b5 (the same logic as 51ce7f3, which lmms-eval copies):

* multiple choice (`parse_multi_choice`): strip ``,.!?;:'`` from both ends, pad with spaces;
  candidates are the letters written ``(X)``; else those written `` X ``; else, only when the
  response has more than 5 words, the options whose text occurs in it (case-insensitive). Several
  candidates: the one whose last occurrence is latest. **None**: the reference picks a random
  letter; here the answer is unparsed and wrong (counted).
* open (`parse_open`): the response (stripped, trailing ``.`` removed, lower-cased) is split into
  sentences at ``. `` before a capital or at newlines; in each the shortest tail after an
  indicator (``could be``, ``so``, ``is``, ``thus``, ``therefore``, ``final``, ``answer``,
  ``result``, and ``=`` in the last sentence); plus every number in those tails; each normalised
  (numbers -> float rounded to 2 decimals, strings lower-cased, 1-character strings as
  ``[" x", "x "]``). `eval_open`: right when a string candidate contains a normalised gold string,
  or a float candidate equals a gold float. (lmms-eval's ``str(parsed_pred[0])`` bug is not
  reproduced.) Note: the capital-letter split runs on the lower-cased text, as in the reference,
  so it never fires.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

_INDICATORS = ("could be ", "so ", "is ", "thus ", "therefore ", "final ", "answer ", "result ")
_TRIVIAL = (":", ",", ".", "!", "?", ";", "'")


def parse_multi_choice(response: str, index2ans: Mapping[str, str]) -> str | None:
    """The letter the response names, or None (the reference's random pick)."""
    for char in (",", ".", "!", "?", ";", ":", "'"):
        response = response.strip(char)
    response = f" {response} "
    choices = list(index2ans)
    candidates = [c for c in choices if f"({c})" in response]
    bracket = bool(candidates)
    by_text = False
    if not candidates:
        candidates = [c for c in choices if f" {c} " in response]
    if not candidates and len(response.split()) > 5:
        candidates = [c for c, text in index2ans.items() if text.lower() in response.lower()]
        by_text = bool(candidates)
    if not candidates:
        return None
    if len(candidates) == 1:
        return candidates[0]
    if by_text:
        starts = [response.lower().rfind(index2ans[c].lower()) for c in candidates]
    elif bracket:
        starts = [response.rfind(f"({c})") for c in candidates]
    else:
        starts = [response.rfind(f" {c} ") for c in candidates]
    return candidates[starts.index(max(starts))]


def is_number(text: str) -> bool:
    """Whether ``float(text without commas)`` works."""
    try:
        float(text.replace(",", ""))
    except ValueError:
        return False
    return True


def normalize(text: str) -> list[str | float]:
    """``normalize_str``."""
    text = text.strip()
    if is_number(text):
        return [round(float(text.replace(",", "")), 2)]
    text = text.lower()
    return [" " + text, text + " "] if len(text) == 1 else [text]


def extract_numbers(text: str) -> list[str]:
    """Numbers with commas, in scientific notation, then plain ones (``extract_numbers``)."""
    commas = re.findall(r"-?\b\d{1,3}(?:,\d{3})+\b", text)
    scientific = re.findall(r"-?\d+(?:\.\d+)?[eE][+-]?\d+", text)
    simple = re.findall(r"-?(?:\d+\.\d+|\.\d+|\d+\b)(?![eE][+-]?\d+)(?![,\d])", text)
    return commas + scientific + simple


def _key_responses(response: str) -> list[str]:
    response = response.strip().strip(".").lower()
    sentences = re.split(r"\.\s(?=[A-Z])|\n", response)
    out = []
    for i, sentence in enumerate(sentences):
        indicators = _INDICATORS + (("=",) if i == len(sentences) - 1 else ())
        shortest: str | None = None
        for ind in indicators:
            if ind in sentence:
                tail = sentence.split(ind)[-1].strip()
                if not shortest or len(tail) < len(shortest):
                    shortest = tail
        if shortest and shortest.strip() not in _TRIVIAL:
            out.append(shortest)
    return out or [response]


def parse_open(response: str) -> list[str | float]:
    """The normalised candidates of an open answer (``parse_open_response``)."""
    keys = _key_responses(response)
    preds: list[str] = keys + [n for k in keys for n in extract_numbers(k)]
    out: list[str | float] = []
    for p in preds:
        for value in normalize(p):
            if value not in out:
                out.append(value)
    return out


def eval_open(golds: Sequence[str], preds: Sequence[str | float]) -> bool:
    """``eval_open``."""
    norm = [v for g in golds for v in normalize(g)]
    for pred in preds:
        if isinstance(pred, str):
            if any(isinstance(g, str) and g in pred for g in norm):
                return True
        elif pred in norm:
            return True
    return False
