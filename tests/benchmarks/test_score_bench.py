"""`mllm-bench score SUITE --data --predictions` on small local files in each supported layout."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from test_mc import _mmbench_rows
from test_pope import _rows as _pope_rows
from test_pope import _write_pope

from mllmbench.cli.main import main


def _score(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict]:
    code = main(["score", *args, "--json"])
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip() else {}


def _mmbench(tmp_path: Path) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(_mmbench_rows()).to_csv(tmp_path / "MMBench_DEV_EN.tsv", sep="\t", index=False)
    return tmp_path


def test_score_mmbench_jsonl_and_vlmevalkit_xlsx(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _mmbench(tmp_path / "data")
    preds = tmp_path / "p.jsonl"
    preds.write_text('{"index": 7, "prediction": "A"}\n{"index": 1000007, "prediction": "(C) red"}\n')
    code, res = _score(capsys, "mmbench", "--data", str(data), "--predictions", str(preds))
    assert code == 0 and res["metrics"]["circular_accuracy"]["value"] == 100.0
    assert res["metrics"]["vanilla_accuracy"]["value"] == 100.0 and res["failed"] == 0
    xlsx = tmp_path / "model_MMBench_DEV_EN.xlsx"
    pd.DataFrame({"index": [7, 1000007], "prediction": ["A", "A or B"]}).to_excel(xlsx, index=False)
    code, res = _score(capsys, "mmbench", "--data", str(data), "--predictions", str(xlsx))
    assert code == 0 and res["metrics"]["circular_accuracy"]["value"] == 0.0 and res["unparsed"] == 1


def test_score_missing_prediction_is_failed_not_wrong(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _mmbench(tmp_path / "data")
    preds = tmp_path / "p.jsonl"
    preds.write_text('{"index": 7, "prediction": "A"}\n{"index": 1000007, "error": "timeout"}\n')
    code, res = _score(capsys, "mmbench", "--data", str(data), "--predictions", str(preds))
    assert code == 1 and res["failed"] == 1 and res["scored"] == 1
    assert res["metrics"]["vanilla_accuracy"]["value"] == 100.0


def test_score_bad_ids_are_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _mmbench(tmp_path / "data")
    preds = tmp_path / "p.jsonl"
    preds.write_text('{"index": 7, "prediction": "A"}\n{"index": 99, "prediction": "A"}\n')
    assert main(["score", "mmbench", "--data", str(data), "--predictions", str(preds)]) == 2
    assert "p.jsonl:2: id {'index': 99} is not in the data" in capsys.readouterr().err
    preds.write_text('{"index": 7, "prediction": "A"}\n{"index": 7, "prediction": "B"}\n')
    assert main(["score", "mmbench", "--data", str(data), "--predictions", str(preds)]) == 2
    assert "p.jsonl:2: sample '7' is predicted twice" in capsys.readouterr().err


def test_score_pope_from_lmms_eval_log(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _write_pope(tmp_path / "pope", _pope_rows())
    log = tmp_path / "pope_samples.jsonl"
    lines = [
        {"doc_id": 0, "doc": {"question_id": "1", "question": "Is there a cat?"}, "filtered_resps": ["Yes"]},
        {"doc_id": 1, "doc": {"question_id": "2", "question": "Is there a dog?"}, "filtered_resps": [["NO"]]},
    ]
    log.write_text("".join(json.dumps(x) + "\n" for x in lines))
    code, res = _score(capsys, "pope", "--data", str(data), "--predictions", str(log))
    m = res["metrics"]
    assert (
        code == 0 and m["accuracy"]["value"] == 50.0 and m["yes_ratio"]["value"] == 100.0
    )  # "NO" -> yes (POPE rule)
    code, res = _score(capsys, "pope_lmms_eval", "--data", str(data), "--predictions", str(log))
    assert res["metrics"]["accuracy"]["value"] == 100.0 and res["metrics"]["yes_ratio"]["value"] == 50.0


def test_compare_lists_per_item_differences(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _mmbench(tmp_path / "data")
    a = tmp_path / "a.jsonl"
    a.write_text('{"index": 7, "prediction": "A"}\n{"index": 1000007, "prediction": "C"}\n')
    b = tmp_path / "b.xlsx"
    pd.DataFrame({"index": [7, 1000007], "prediction": ["A", "The answer is B"]}).to_excel(b, index=False)
    assert main(["compare", "mmbench", str(a), str(b), "--data", str(data), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["values_a"]["circular_accuracy"] == 100.0 and res["values_b"]["circular_accuracy"] == 0.0
    assert [d["sample_id"] for d in res["differences"]] == ["1000007"]
    assert res["differences"][0]["b"] == "The answer is B"
