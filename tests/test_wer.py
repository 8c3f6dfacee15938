"""Word error rate (jiwer) against hand-counted edits."""

from __future__ import annotations

import pytest

from mllmbench.suites.base import Sample
from mllmbench.suites.metrics.wer import WordErrorRate, normalize, word_errors


def _sample(i: int, ref: str) -> Sample:
    return Sample(str(i), (), "", references=(ref,))


def test_word_errors_count_substitutions_deletions_insertions() -> None:
    assert word_errors("the cat sat on the mat", "the cat sat on the mat") == (0, 6)
    assert word_errors("the cat sat on the mat", "a cat sat on mat") == (2, 6)  # 1 sub + 1 del
    assert word_errors("hello world", "hello big world again") == (2, 2)  # 2 insertions
    assert normalize("Hello, World!  It's") == "hello world it's"
    assert word_errors("Hello, world.", "hello WORLD") == (0, 2)


def test_corpus_wer_is_summed_errors_over_summed_words_and_merges() -> None:
    a, b = WordErrorRate(), WordErrorRate()
    assert a.update(_sample(1, "one two three four"), "one two three four")["wer"] == 0.0
    assert b.update(_sample(2, "five six"), "five")["wer"] == pytest.approx(0.5)
    a.merge(b)
    value = a.compute().values["wer"]
    assert value.value == pytest.approx(100 * 1 / 6) and not value.higher_is_better and value.n == 2
    with pytest.raises(ValueError, match="overlap"):
        a.merge(b)
