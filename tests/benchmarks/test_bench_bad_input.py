"""Bad benchmark input exits 2 (``mllm-bench score``) naming the file and the column or row at fault."""

from __future__ import annotations

from pathlib import Path

import pytest
from benchmark_layouts import image_struct, write_parquet
from test_mc import _mmbench_rows

from mllmbench.cli.main import main

RED = (200, 30, 30)


def _score(
    tmp_path: Path, suite: str, data: Path, line: str = '{"sample_id": "0", "prediction": "A"}'
) -> int:
    preds = tmp_path / "p.jsonl"
    preds.write_text(line + "\n")
    return main(["score", suite, "--data", str(data), "--predictions", str(preds)])


def test_mme_and_mmmu_missing_columns(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mme = write_parquet(tmp_path / "mme" / "data" / "test-00000-of-00001.parquet", [
        {"question_id": "count/1.jpg", "question": "Two?", "answer": "Yes", "image": image_struct(RED)},
    ])  # fmt: skip
    assert _score(tmp_path, "mme", tmp_path / "mme") == 2
    err = capsys.readouterr().err
    assert str(mme) in err and "category" in err
    mmmu = write_parquet(tmp_path / "mmmu" / "data" / "validation-00000-of-00001.parquet", [
        {"id": "validation_Art_1", "question": "Color?", "options": "['red', 'blue']", "answer": "A",
         "image_1": image_struct(RED)},
    ])  # fmt: skip
    assert _score(tmp_path, "mmmu", tmp_path / "mmmu") == 2
    err = capsys.readouterr().err
    assert str(mmmu) in err and "question_type" in err


def test_missing_image_cell_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shard = write_parquet(tmp_path / "ai2d" / "data" / "test-00000-of-00001.parquet", [
        {"question": "First?", "options": ["egg", "larva"], "answer": "0", "image": image_struct(RED)},
        {"question": "Second?", "options": ["egg", "larva"], "answer": "1", "image": None},
    ])  # fmt: skip
    assert _score(tmp_path, "ai2d", tmp_path / "ai2d") == 2
    err = capsys.readouterr().err
    assert str(shard) in err and "row 1" in err and "image" in err


def test_mmbench_parquet_without_image_column_and_unknown_layout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = _mmbench_rows()
    for r in rows:
        r.pop("image")
    shard = write_parquet(tmp_path / "mmb" / "en" / "dev-00000-of-00001.parquet", rows)
    assert _score(tmp_path, "mmbench", tmp_path / "mmb", '{"index": 7, "prediction": "A"}') == 2
    err = capsys.readouterr().err
    assert f"{shard}: column(s) image missing; the lmms-lab/MMBench parquet layout" in err
    odd = tmp_path / "odd.json"
    odd.write_text('{"questions": []}')
    assert _score(tmp_path, "mmbench", odd) == 2
    err = capsys.readouterr().err
    assert (
        f"{odd}: unknown layout: expected a VLMEvalKit table (.tsv or .xlsx) or an lmms-eval .parquet" in err
    )
    other = tmp_path / "other"
    other.mkdir()
    (other / "readme.txt").write_text("x")
    assert _score(tmp_path, "mmstar", other) == 2
    err = capsys.readouterr().err
    assert (
        "no MMStar data in" in err
        and "MMStar.tsv" in err
        and "Lin-Chen/MMStar parquet files (val split)" in err
    )


def test_prediction_ids_not_in_data_or_twice_are_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_parquet(tmp_path / "ai2d" / "data" / "test-00000-of-00001.parquet", [
        {"question": "First?", "options": ["egg", "larva"], "answer": "0", "image": image_struct(RED)},
    ])  # fmt: skip
    preds = tmp_path / "p.jsonl"
    preds.write_text('{"sample_id": "0", "prediction": "A"}\n{"sample_id": "0", "prediction": "B"}\n')
    assert main(["score", "ai2d", "--data", str(tmp_path / "ai2d"), "--predictions", str(preds)]) == 2
    assert "p.jsonl:2: sample '0' is predicted twice" in capsys.readouterr().err
    preds.write_text('{"sample_id": "5", "prediction": "A"}\n')
    assert main(["score", "ai2d", "--data", str(tmp_path / "ai2d"), "--predictions", str(preds)]) == 2
    assert "p.jsonl:1: id {'sample_id': '5'} is not in the data" in capsys.readouterr().err
