"""MME: answer parsing (golden vectors), acc/acc+/totals, the lmms-lab/MME parquet layout."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from mllmbench.core.errors import InputError
from mllmbench.suites.base import Sample
from mllmbench.suites.metrics.mme import MMEScore, parse_lmms_eval, parse_official

GOLDEN = json.loads((Path(__file__).parent.parent / "data" / "golden_bench" / "mme.json").read_text())


@pytest.mark.parametrize("case", GOLDEN["parse"], ids=lambda c: repr(c["output"]))
def test_parse_golden(case: dict) -> None:
    assert parse_official(case["output"]) == case["official"]
    assert parse_lmms_eval(case["output"]) == case["lmms_eval"]


def test_scores_golden() -> None:
    m = MMEScore()
    for i, (cat, image, gold, out) in enumerate(GOLDEN["scores"]["rows"]):
        m.update(Sample(str(i), (), "", (gold,), {"category": cat, "image_key": image}), out)
    res = m.compute()
    for key, expected in GOLDEN["scores"]["expected"].items():
        assert res.values[key].value == pytest.approx(expected), key
    assert res.notes["perception"] == "sum over 1 of the 10 subtasks"


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (4, 4), "white").save(buf, format="PNG")
    return buf.getvalue()


def test_mme_parquet_layout_and_errors(tmp_path: Path) -> None:
    from mllmbench.suites.benchmarks.mme import MMESuite

    img = {"bytes": _png(), "path": None}
    rows = [
        {
            "question_id": "count/1.jpg",
            "question": "Two? Please answer yes or no.",
            "answer": "Yes",
            "category": "count",
            "image": img,
        },
        {
            "question_id": "count/1.jpg",
            "question": "Three? Please answer yes or no.",
            "answer": "No",
            "category": "count",
            "image": img,
        },
    ]
    (tmp_path / "ok" / "data").mkdir(parents=True)
    pd.DataFrame(rows).to_parquet(tmp_path / "ok" / "data" / "test-00000-of-00001.parquet")
    samples = MMESuite(tmp_path / "ok").load_samples()
    assert [s.sample_id for s in samples] == ["count/1.jpg#0", "count/1.jpg#1"]
    assert samples[1].references == ("no",) and Path(samples[0].image_paths[0]).is_file()
    rows[1]["answer"] = "Maybe"
    (tmp_path / "bad" / "data").mkdir(parents=True)
    pd.DataFrame(rows).to_parquet(tmp_path / "bad" / "data" / "test-00000-of-00001.parquet")
    with pytest.raises(
        InputError, match=r"row 1 \(question_id 'count/1.jpg'\): column 'answer' must be Yes or No"
    ):
        MMESuite(tmp_path / "bad").load_samples()
