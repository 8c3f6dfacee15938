"""The official MMMU parser (golden vectors): multiple choice without a random pick, open answers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mllmbench.suites.metrics.mmmu_parse import eval_open, parse_multi_choice, parse_open

GOLDEN = json.loads((Path(__file__).parent.parent / "data" / "golden_bench" / "mmmu.json").read_text())


@pytest.mark.parametrize("case", GOLDEN["multiple_choice"], ids=lambda c: repr(c["response"]))
def test_multiple_choice_golden(case: dict) -> None:
    assert parse_multi_choice(case["response"], GOLDEN["index2ans"]) == case["expected"]


@pytest.mark.parametrize("case", GOLDEN["open"], ids=lambda c: repr(c["response"]))
def test_open_golden(case: dict) -> None:
    assert eval_open(case["golds"], parse_open(case["response"])) is case["correct"]


def test_mmmu_suite_parquet_and_scores(tmp_path: Path) -> None:
    import io

    import pandas as pd
    from PIL import Image

    from mllmbench.suites.benchmarks.mmmu import MMMUSuite

    buf = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(buf, format="PNG")
    img = {"bytes": buf.getvalue(), "path": None}
    rows = [
        {"id": "validation_Art_1", "question": "<image 1> Color?", "options": "['red', 'blue']", "answer": "A",
         "question_type": "multiple-choice", "image_1": img, "image_2": None},
        {"id": "validation_Math_2", "question": "<image 1> <image 2> Pi?", "options": "[]", "answer": "3.14",
         "question_type": "open", "image_1": img, "image_2": img},
    ]  # fmt: skip
    (tmp_path / "data").mkdir()
    pd.DataFrame(rows).to_parquet(tmp_path / "data" / "validation-00000-of-00001.parquet")
    suite = MMMUSuite(tmp_path)
    samples = suite.load_samples()
    assert samples[0].text.endswith(
        "A. red\nB. blue\n\nAnswer with the option's letter from the given choices directly."
    )
    assert len(samples[0].image_paths) == 1 and len(samples[1].image_paths) == 2
    m = suite.metrics()[0]
    m.update(samples[0], "b")  # unparsed: wrong, counted (never a random letter)
    m.update(samples[1], "The answer is 3.14")  # open question scored (lmms-eval's #1436 scores it 0)
    v = m.compute().values
    assert v["accuracy"].value == 50.0 and v["unparsed"].value == 1
    assert v["accuracy/subject=Math"].value == 100.0
