"""Answer normalisation of the VQA evaluation tools, with their quirks (METRICS.md §1.1-§1.3).

The tables are copied verbatim from GT-Vision-Lab/VQA ``vqaEval.py`` (HEAD a013f00), which
lmms-eval and VLMEvalKit copy unchanged. Quirks reproduced on purpose:

- Q2: the official period regex ``(?!<=\\d)(\\.)(?!\\d)`` is a typo for a lookbehind, so every
  ``.`` that is not followed by a digit is deleted (``5.`` -> ``5``).
- Q3: ``re.UNICODE`` (= 32) is passed as the positional ``count``: at most 32 periods go.
- Q4: the contractions map has dead capitalised keys and a reversed ``somebody'd`` entry.
- Q5: VLMEvalKit uses the corrected lookbehind ``(?<!\\d)\\.(?!\\d)``, which keeps ``2.``.
"""

from __future__ import annotations

import re
from typing import Final

CONTRACTIONS: Final[dict[str, str]] = {
    "aint": "ain't", "arent": "aren't", "cant": "can't", "couldve": "could've", "couldnt": "couldn't",
    "couldn'tve": "couldn't've", "couldnt've": "couldn't've", "didnt": "didn't", "doesnt": "doesn't",
    "dont": "don't", "hadnt": "hadn't", "hadnt've": "hadn't've", "hadn'tve": "hadn't've",
    "hasnt": "hasn't", "havent": "haven't", "hed": "he'd", "hed've": "he'd've", "he'dve": "he'd've",
    "hes": "he's", "howd": "how'd", "howll": "how'll", "hows": "how's", "Id've": "I'd've",
    "I'dve": "I'd've", "Im": "I'm", "Ive": "I've", "isnt": "isn't", "itd": "it'd", "itd've": "it'd've",
    "it'dve": "it'd've", "itll": "it'll", "let's": "let's", "maam": "ma'am", "mightnt": "mightn't",
    "mightnt've": "mightn't've", "mightn'tve": "mightn't've", "mightve": "might've", "mustnt": "mustn't",
    "mustve": "must've", "neednt": "needn't", "notve": "not've", "oclock": "o'clock", "oughtnt": "oughtn't",
    "ow's'at": "'ow's'at", "'ows'at": "'ow's'at", "'ow'sat": "'ow's'at", "shant": "shan't",
    "shed've": "she'd've", "she'dve": "she'd've", "she's": "she's", "shouldve": "should've",
    "shouldnt": "shouldn't", "shouldnt've": "shouldn't've", "shouldn'tve": "shouldn't've",
    "somebody'd": "somebodyd", "somebodyd've": "somebody'd've", "somebody'dve": "somebody'd've",
    "somebodyll": "somebody'll", "somebodys": "somebody's", "someoned": "someone'd",
    "someoned've": "someone'd've", "someone'dve": "someone'd've", "someonell": "someone'll",
    "someones": "someone's", "somethingd": "something'd", "somethingd've": "something'd've",
    "something'dve": "something'd've", "somethingll": "something'll", "thats": "that's",
    "thered": "there'd", "thered've": "there'd've", "there'dve": "there'd've", "therere": "there're",
    "theres": "there's", "theyd": "they'd", "theyd've": "they'd've", "they'dve": "they'd've",
    "theyll": "they'll", "theyre": "they're", "theyve": "they've", "twas": "'twas", "wasnt": "wasn't",
    "wed've": "we'd've", "we'dve": "we'd've", "weve": "we've", "werent": "weren't", "whatll": "what'll",
    "whatre": "what're", "whats": "what's", "whatve": "what've", "whens": "when's", "whered": "where'd",
    "wheres": "where's", "whereve": "where've", "whod": "who'd", "whod've": "who'd've",
    "who'dve": "who'd've", "wholl": "who'll", "whos": "who's", "whove": "who've", "whyll": "why'll",
    "whyre": "why're", "whys": "why's", "wont": "won't", "wouldve": "would've", "wouldnt": "wouldn't",
    "wouldnt've": "wouldn't've", "wouldn'tve": "wouldn't've", "yall": "y'all", "yall'll": "y'all'll",
    "y'allll": "y'all'll", "yall'd've": "y'all'd've", "y'alld've": "y'all'd've", "y'all'dve": "y'all'd've",
    "youd": "you'd", "youd've": "you'd've", "you'dve": "you'd've", "youll": "you'll", "youre": "you're",
    "youve": "you've",
}  # fmt: skip
"""Appendix A of METRICS.md: 120 entries, copied verbatim (quirk Q4 included)."""

NUMBER_MAP: Final[dict[str, str]] = {
    "none": "0", "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
    "six": "6", "seven": "7", "eight": "8", "nine": "9", "ten": "10",
}  # fmt: skip
"""``manualMap``: only these whole tokens are mapped (``none`` becomes ``0``)."""

ARTICLES: Final[frozenset[str]] = frozenset({"a", "an", "the"})

PUNCTUATION: Final[tuple[str, ...]] = (
    ";", "/", "[", "]", '"', "{", "}", "(", ")", "=", "+", "\\", "_", "-", ">", "<", "@", "`", ",", "?", "!",
)  # fmt: skip
"""The 21 characters of the HEAD list, in the reference order (no ``'``, ``:`` or ``.``)."""

COMMA_STRIP: Final[re.Pattern[str]] = re.compile(r"(\d)(\,)(\d)")
PERIOD_STRIP_OFFICIAL: Final[re.Pattern[str]] = re.compile(r"(?!<=\d)(\.)(?!\d)")
"""The reference's regex, typo included (quirk Q2)."""
PERIOD_STRIP_VLMEVALKIT: Final[re.Pattern[str]] = re.compile(r"(?<!\d)\.(?!\d)")
"""VLMEvalKit's corrected regex (quirk Q5)."""

_PERIOD_COUNT: Final[int] = int(re.UNICODE)
"""Quirk Q3: the reference passes ``re.UNICODE`` (32) as ``count``."""


def clean_whitespace(text: str) -> str:
    """Replace ``\\n`` and ``\\t`` with a space, then strip (step 1 of every variant)."""
    return text.replace("\n", " ").replace("\t", " ").strip()


def process_punctuation(text: str, period_strip: re.Pattern[str] = PERIOD_STRIP_OFFICIAL) -> str:
    """``processPunctuation`` of the reference: delete or blank punctuation, then strip periods.

    The deletion test always looks at the *original* `text`; a digit-comma-digit anywhere
    switches every punctuation character to deletion.
    """
    out = text
    comma_digit = COMMA_STRIP.search(text) is not None
    for p in PUNCTUATION:
        if (p + " " in text or " " + p in text) or comma_digit:
            out = out.replace(p, "")
        else:
            out = out.replace(p, " ")
    return period_strip.sub("", out, _PERIOD_COUNT)


def process_digit_article(text: str) -> str:
    """``processDigitArticle``: lowercase, map number words, drop articles, expand contractions."""
    words = [NUMBER_MAP.get(w, w) for w in text.lower().split()]
    words = [w for w in words if w not in ARTICLES]
    return " ".join(CONTRACTIONS.get(w, w) for w in words)


def normalize_answer(text: str, period_strip: re.Pattern[str] = PERIOD_STRIP_OFFICIAL) -> str:
    """The full normalisation of one answer: whitespace, punctuation, then digits and articles."""
    return process_digit_article(process_punctuation(clean_whitespace(text), period_strip))
