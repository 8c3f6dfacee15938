"""lmms-eval's parquet layouts of the multiple-choice suites, and MMBench's test splits (no answers:
predictions saved in the submission file, nothing scored)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from benchmark_layouts import image_struct, write_parquet
from PIL import Image
from test_mc import _mmbench_rows

from mllmbench.cli.main import main
from mllmbench.core.errors import InputError
from mllmbench.suites.registry import load_suite_class

RED, GREEN, BLUE = (200, 30, 30), (30, 200, 30), (30, 30, 200)


def _seedbench(root: Path) -> Path:
    rows = [
        {"question_id": "101669", "question": "What is shown?", "choice_a": "a cat", "choice_b": "a dog",
         "choice_c": "a bird", "choice_d": "a fish", "answer": "B", "data_type": "image",
         "question_type_id": 1, "image": [image_struct(RED)], "data_id": "x.jpg"},
        {"question_id": "101670", "question": "What happens next?", "choice_a": "runs", "choice_b": "sits",
         "choice_c": "eats", "choice_d": "sleeps", "answer": "C", "data_type": "video",
         "question_type_id": 10, "image": [image_struct(GREEN)], "data_id": "v.mp4"},
        {"question_id": "101671", "question": "Which color?", "choice_a": "red", "choice_b": "green",
         "choice_c": "blue", "choice_d": "pink", "answer": "A", "data_type": "image",
         "question_type_id": 2, "image": [image_struct(BLUE)], "data_id": "y.jpg"},
    ]  # fmt: skip
    write_parquet(root / "data" / "test-00000-of-00001.parquet", rows)
    return root


def _scienceqa(root: Path) -> Path:
    rows = [
        {"image": image_struct(RED), "question": "Which is a mammal?", "choices": ["trout", "whale"],
         "answer": 1, "hint": "Look at the animals.", "task": "closed choice", "grade": "grade3",
         "subject": "natural science", "topic": "biology", "category": "Classify", "skill": "s",
         "lecture": "", "solution": ""},
        {"image": image_struct(GREEN), "question": "Which is hotter?", "choices": ["ice", "tea", "snow"],
         "answer": 1, "hint": "", "task": "closed choice", "grade": "grade2",
         "subject": "natural science", "topic": "physics", "category": "Heat", "skill": "s",
         "lecture": "", "solution": ""},
    ]  # fmt: skip
    write_parquet(root / "ScienceQA-IMG" / "test-00000-of-00001.parquet", rows)
    return root


def _ai2d(root: Path) -> Path:
    rows = [
        {"question": "Which stage comes first?", "options": ["egg", "larva", "pupa", "adult"], "answer": "0",
         "image": image_struct(RED)},
        {"question": "What eats grass?", "options": ["hawk", "rabbit", "snake", "sun"], "answer": "1",
         "image": image_struct(BLUE)},
    ]  # fmt: skip
    write_parquet(root / "data" / "test-00000-of-00001.parquet", rows)
    return root


def _mmstar(root: Path) -> Path:
    rows = [
        {"index": 0, "question": "Which option describes the image?\nOptions: A: a red square, B: a blue "
         "circle, C: two dogs, D: 3, 4", "answer": "A", "category": "coarse perception",
         "l2_category": "image scene and topic", "meta_info": {"source": "x"}, "image": image_struct(RED)},
        {"index": 1, "question": "How many?\nOptions: A: 1, B: 2, C: 3, D: 4", "answer": "D",
         "category": "fine-grained perception", "l2_category": "object counting",
         "meta_info": {"source": "y"}, "image": image_struct(GREEN)},
    ]  # fmt: skip
    write_parquet(root / "val.parquet", rows)
    return root


LAYOUTS: dict[str, tuple[Any, list[str], list[dict[str, str]], list[str]]] = {
    # suite: (writer, sample ids, options per sample, gold letters)
    "seedbench": (
        _seedbench,
        ["101669", "101671"],
        [{"A": "a cat", "B": "a dog", "C": "a bird", "D": "a fish"}, {"A": "red", "B": "green", "C": "blue", "D": "pink"}],
        ["B", "A"],
    ),
    "scienceqa_img": (
        _scienceqa,
        ["0", "1"],
        [{"A": "trout", "B": "whale"}, {"A": "ice", "B": "tea", "C": "snow"}],
        ["B", "B"],
    ),
    "ai2d": (
        _ai2d,
        ["0", "1"],
        [{"A": "egg", "B": "larva", "C": "pupa", "D": "adult"}, {"A": "hawk", "B": "rabbit", "C": "snake", "D": "sun"}],
        ["A", "B"],
    ),
    "mmstar": (
        _mmstar,
        ["0", "1"],
        [{"A": "a red square", "B": "a blue circle", "C": "two dogs", "D": "3, 4"}, {"A": "1", "B": "2", "C": "3", "D": "4"}],
        ["A", "D"],
    ),
}  # fmt: skip


@pytest.mark.parametrize("suite_name", sorted(LAYOUTS))
def test_parquet_layouts(tmp_path: Path, suite_name: str, capsys: pytest.CaptureFixture[str]) -> None:
    writer, ids, options, golds = LAYOUTS[suite_name]
    data = writer(tmp_path / "data")
    suite = load_suite_class(suite_name)(data)
    samples = suite.load_samples()
    assert [s.sample_id for s in samples] == ids
    assert [s.meta["options"] for s in samples] == options
    assert [s.meta["answer"] for s in samples] == golds
    assert suite.scoring_info()["layout"] == "hf_parquet"
    # the same VLMEvalKit prompt as the TSV layout: question, then the lettered options
    first = samples[0]
    assert "Question: " + first.meta["question"] + "\nOptions:\nA. " in first.text
    assert "Options: A:" not in first.text  # MMStar's inline options are moved out of the question
    assert Image.open(first.image_paths[0]).convert("RGB").getpixel((0, 0)) == RED
    # scoring lmms-eval's per-sample log: doc_id (the row number) or the dataset's own id
    log = tmp_path / "lmms.jsonl"
    lines = []
    for s, gold in zip(samples, golds, strict=True):
        doc = {"question_id": s.sample_id} if suite_name == "seedbench" else {}
        doc.update({"index": int(s.sample_id)} if suite_name == "mmstar" else {})
        lines.append({"doc_id": int(s.sample_id) if suite_name != "seedbench" else 0, "doc": doc,
                      "filtered_resps": [gold if s is first else "no idea"]})  # fmt: skip
    log.write_text("".join(json.dumps(x) + "\n" for x in lines))
    assert main(["score", suite_name, "--data", str(data), "--predictions", str(log), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["metrics"]["accuracy"]["value"] == 50.0 and res["unparsed"] == 1 and res["failed"] == 0


def test_parquet_missing_column_exits_2_naming_file_and_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _ai2d(tmp_path / "data")
    shard = data / "data" / "test-00000-of-00001.parquet"
    pd.read_parquet(shard).drop(columns=["options"]).to_parquet(shard)
    preds = tmp_path / "p.jsonl"
    preds.write_text('{"sample_id": "0", "prediction": "A"}\n')
    assert main(["score", "ai2d", "--data", str(data), "--predictions", str(preds)]) == 2
    err = capsys.readouterr().err
    assert "test-00000-of-00001.parquet: column(s) options missing" in err
    data = _mmstar(tmp_path / "star")
    rows = pd.read_parquet(data / "val.parquet").to_dict(orient="records")
    rows[1]["question"] = "How many? (no options)"
    write_parquet(data / "val.parquet", rows)
    with pytest.raises(
        InputError, match=r"val\.parquet: index 1: column 'question' has no inline option list"
    ):
        load_suite_class("mmstar")(data).load_samples()
    empty = tmp_path / "nothing"
    empty.mkdir()
    assert main(["score", "seedbench", "--data", str(empty), "--predictions", str(preds)]) == 2
    assert "no SEED-Bench (image) data in" in capsys.readouterr().err


def test_parquet_answer_out_of_range_is_named(tmp_path: Path) -> None:
    data = _scienceqa(tmp_path / "data")
    shard = data / "ScienceQA-IMG" / "test-00000-of-00001.parquet"
    frame = pd.read_parquet(shard)
    frame.loc[1, "answer"] = 5
    frame.to_parquet(shard)
    with pytest.raises(InputError, match=r"row 1: column 'answer' must be an option number 0..2, got 5"):
        load_suite_class("scienceqa_img")(data).load_samples()


# ------------------------------------------------------------------ MMBench test splits
def _test_rows() -> list[dict[str, Any]]:
    rows = _mmbench_rows()
    for r in rows:
        r.pop("answer")
        r["split"] = "test"
    return rows


def test_mmbench_test_tsv_saves_a_submission_and_scores_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    pd.DataFrame(_test_rows()).to_csv(data / "MMBench_TEST_CN.tsv", sep="\t", index=False)
    preds = tmp_path / "p.jsonl"
    preds.write_text('{"index": 7, "prediction": "A"}\n{"index": 1000007, "prediction": "hmm"}\n')
    code = main(["score", "mmbench", "--data", str(data / "MMBench_TEST_CN.tsv"), "--predictions", str(preds),
                 "--json", "--submission", str(tmp_path / "out")])  # fmt: skip
    res = json.loads(capsys.readouterr().out)
    assert code == 0
    assert "circular_accuracy" not in res["metrics"] and "vanilla_accuracy" not in res["metrics"]
    assert "not scored: the data has no answers" in res["notes"]["circular_accuracy"]
    assert res["unparsed"] == 1 and res["scoring"]["answers"].startswith("none (a test split)")
    sub = pd.read_excel(res["submission"])
    assert Path(res["submission"]).name == "mmbench_MMBench_TEST_CN_submission.xlsx"
    assert list(sub["index"]) == [7, 1000007] and list(sub["prediction"]) == ["A", "hmm"]
    assert {"question", "hint", "A", "B", "C", "category", "l2-category", "split"} <= set(sub.columns)
    assert list(sub["C"]) == ["green", "red"]


def test_mmbench_test_parquet_and_partial_answers(tmp_path: Path) -> None:
    rows = _test_rows()
    for r in rows:
        r["answer"] = None
        r["image"] = image_struct(BLUE)
        r["L2-category"] = r.pop("l2-category")
    write_parquet(tmp_path / "cn" / "test-00000-of-00001.parquet", rows)
    suite = load_suite_class("mmbench")(tmp_path)
    samples = suite.load_samples()
    assert suite.is_test_split() and [s.meta["answer"] for s in samples] == [None, None]
    path = suite.write_submission(tmp_path, samples, {"7": "B\x13\x00 x"})  # control characters: dropped
    assert path is not None and list(pd.read_excel(path)["prediction"].fillna("")) == ["B x", ""]
    # a dev split with some answers missing is an error naming the row, not a test split
    rows[0]["answer"] = "A"
    write_parquet(tmp_path / "dev" / "en" / "dev-00000-of-00001.parquet", rows)
    with pytest.raises(InputError, match=r"index 1000007: column 'answer' is empty \(1 of 2 rows\)"):
        load_suite_class("mmbench")(tmp_path / "dev").load_samples()
