"""ANLS, ChartQA relaxed accuracy and OCRBench against golden vectors, and the document suites."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from mllmbench.core.errors import InputError
from mllmbench.suites.base import Sample
from mllmbench.suites.metrics.doc_vqa import DocVQAScore, anls, levenshtein, ocrbench_hit, relaxed_correctness

GOLDEN = json.loads((Path(__file__).parent.parent / "data" / "golden_bench" / "doc_vqa.json").read_text())


@pytest.mark.parametrize("case", GOLDEN["anls"]["cases"], ids=lambda c: repr(c["pred"]))
def test_anls_golden(case: dict) -> None:
    assert anls(case["pred"], case["golds"]) == pytest.approx(case["expected"])


@pytest.mark.parametrize("case", GOLDEN["relaxed"]["cases"], ids=lambda c: f"{c['pred']!r}-{c['gold']!r}")
def test_relaxed_golden(case: dict) -> None:
    assert relaxed_correctness(case["pred"], case["gold"]) is case["expected"]


@pytest.mark.parametrize("case", GOLDEN["ocrbench"]["cases"], ids=lambda c: repr(c["pred"]))
def test_ocrbench_golden(case: dict) -> None:
    assert ocrbench_hit(case["pred"], case["golds"], case["dataset"]) == case["expected"]


def test_levenshtein_against_brute_force() -> None:
    import itertools

    def slow(a: str, b: str) -> int:  # recursive definition
        if not a or not b:
            return len(a) + len(b)
        return min(slow(a[1:], b) + 1, slow(a, b[1:]) + 1, slow(a[1:], b[1:]) + (a[0] != b[0]))

    for a, b in itertools.product(["", "a", "ab", "kitten", "sitting", "abc"], repeat=2):
        assert levenshtein(a, b) == slow(a, b)


def test_ocrbench_points_and_unparsed() -> None:
    m = DocVQAScore("ocrbench", breakdown="question_type")
    for i, (ans, qt) in enumerate([("hello", "Regular Text Recognition"), ("", "Doc-oriented VQA")]):
        m.update(Sample(str(i), (), "", ("hello",), {"question_type": qt, "dataset": "IIIT5K"}), ans)
    v = m.compute().values
    assert v["ocrbench_score"].value == 1.0 and v["unparsed"].value == 1
    assert v["ocrbench_score/question_type=Doc-oriented VQA"].value == 0.0


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (4, 4), "white").save(buf, format="PNG")
    return buf.getvalue()


@pytest.mark.parametrize(
    ("suite", "split", "row"),
    [
        ("docvqa", "validation", {"questionId": 5, "question": "What?", "answers": ["abc"]}),
        ("infovqa", "validation", {"questionId": 6, "question": "What?", "answers": ["abc"]}),
        ("chartqa", "test", {"question": "How many?", "answer": "12", "type": "human_test"}),
        (
            "ocrbench",
            "test",
            {
                "question": "Read it",
                "answer": ["abc"],
                "question_type": "Regular Text Recognition",
                "dataset": "IIIT5K",
            },
        ),
    ],
)
def test_document_suites_parquet(tmp_path: Path, suite: str, split: str, row: dict) -> None:
    from mllmbench.suites.registry import load_suite_class

    (tmp_path / "data").mkdir()
    pd.DataFrame([{**row, "image": {"bytes": _png(), "path": None}}]).to_parquet(
        tmp_path / "data" / f"{split}-00000-of-00001.parquet"
    )
    cls = load_suite_class(suite)
    samples = cls(tmp_path).load_samples()
    assert len(samples) == 1 and Path(samples[0].image_paths[0]).is_file()
    metric = cls(tmp_path).metrics()[0]
    metric.update(samples[0], samples[0].references[0])
    assert next(iter(metric.compute().values.values())).value > 0
    broken = tmp_path / "broken"
    (broken / "data").mkdir(parents=True)
    pd.DataFrame([{"image": {"bytes": _png(), "path": None}}]).to_parquet(
        broken / "data" / f"{split}-00000-of-00001.parquet"
    )
    with pytest.raises(InputError, match=r"parquet: column\(s\) .* missing"):
        cls(broken).load_samples()
