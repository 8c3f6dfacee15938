"""`mllm-bench score vqa|caption` end to end through `cli.main`, on files in the official formats."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from golden_paths import load_golden

from mllmbench.cli.commands import score_caption
from mllmbench.cli.main import main
from mllmbench.suites.metrics.caption import spice_unavailable_reason


def _write(path: Path, obj: object) -> Path:
    path.write_text(json.dumps(obj, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.fixture()
def vqa_files(tmp_path: Path) -> dict[str, Path]:
    """The 18 golden questions written as official VQAv2 questions, annotations and results files."""
    cases = load_golden("vqa_accuracy_golden.json")["cases"]
    questions = {
        "data_subtype": "val2014",
        "questions": [
            {"image_id": 1000 + c["question_id"], "question": "?", "question_id": c["question_id"]}
            for c in cases
        ],
    }
    annotations = {
        "annotations": [
            {
                "question_id": c["question_id"],
                "image_id": 1000 + c["question_id"],
                "question_type": c["question_type"],
                "answer_type": c["answer_type"],
                "multiple_choice_answer": c["gt_answers"][0],
                "answers": [
                    {"answer": a, "answer_confidence": "yes", "answer_id": i + 1}
                    for i, a in enumerate(c["gt_answers"])
                ],
            }
            for c in cases
        ]
    }
    results = [{"question_id": c["question_id"], "answer": c["prediction"]} for c in cases]
    return {
        "q": _write(tmp_path / "questions.json", questions),
        "a": _write(tmp_path / "annotations.json", annotations),
        "r": _write(tmp_path / "results.json", results),
    }


def _vqa(files: dict[str, Path], *extra: str, results: Path | None = None) -> list[str]:
    return [
        "score",
        "vqa",
        "--questions",
        str(files["q"]),
        "--annotations",
        str(files["a"]),
        "--results",
        str(results or files["r"]),
        *extra,
    ]


@pytest.mark.parametrize("variant", ["official", "official_pre2021"])
def test_vqa_json_matches_golden_aggregates(vqa_files, capsys, variant: str) -> None:  # type: ignore[no-untyped-def]
    assert main(_vqa(vqa_files, "--json", "--variant", variant)) == 0
    out = json.loads(capsys.readouterr().out)
    expected = load_golden("vqa_accuracy_golden.json")["aggregates"][variant]
    assert out == {**expected, "variant": variant}


def test_vqa_harness_variants_and_table(vqa_files, capsys) -> None:  # type: ignore[no-untyped-def]
    golden = load_golden("vqa_accuracy_golden.json")["aggregates"]
    for variant, key in (("lmms_eval", "lmms_eval_vqav2_overall"), ("vlmevalkit", "vlmevalkit_overall")):
        assert main(_vqa(vqa_files, "--json", "--variant", variant)) == 0
        assert json.loads(capsys.readouterr().out)["overall"] == round(golden[key], 2)
    assert main(_vqa(vqa_files)) == 0
    table = capsys.readouterr().out
    assert "variant: official" in table and "81.1%" in table and "yes/no" in table
    assert "overall" in table.splitlines()[3] and "e-" not in table


def test_vqa_empty_and_non_ascii_answers(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    gts = {1: ["café"] * 10, 2: [""] * 3 + ["x"] * 7, 3: ["日本"] * 10}
    q = _write(
        tmp_path / "q.json", {"questions": [{"image_id": k, "question": "?", "question_id": k} for k in gts]}
    )
    a = _write(
        tmp_path / "a.json",
        {
            "annotations": [
                {
                    "question_id": k,
                    "image_id": k,
                    "question_type": "what",
                    "answer_type": "other",
                    "answers": [
                        {"answer": s, "answer_confidence": "yes", "answer_id": i + 1} for i, s in enumerate(v)
                    ],
                }
                for k, v in gts.items()
            ]
        },
    )
    r = _write(
        tmp_path / "r.json",
        [
            {"question_id": 1, "answer": "café"},
            {"question_id": 2, "answer": ""},
            {"question_id": 3, "answer": "日本"},
        ],
    )
    assert (
        main(["score", "vqa", "--questions", str(q), "--annotations", str(a), "--results", str(r), "--json"])
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert out["overall"] == round(100 * (1 + 0.9 + 1) / 3, 2)


def _results_case(tmp_path: Path, name: str, content: object) -> Path:
    path = tmp_path / f"{name}.json"
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        _write(path, content)
    return path


VQA_BAD_RESULTS = {
    "missing": (lambda rs: rs[:-1], "no result for question id(s) 18"),
    "duplicate": (lambda rs: [*rs, rs[0]], "duplicate result for question id 1"),
    "unknown": (lambda rs: [*rs, {"question_id": 99, "answer": "x"}], "not in the annotations: 99"),
    "wrong_type": (lambda rs: [{**rs[0], "answer": 2}, *rs[1:]], "question id 1: 'answer' must be a string"),
    "bad_id": (lambda rs: [{**rs[0], "question_id": 1.5}, *rs[1:]], "'question_id' must be an integer"),
    "not_list": (lambda rs: {"results": rs}, "must be a JSON array"),
    "malformed": (lambda rs: json.dumps(rs)[:-3], "is not valid JSON"),
}


@pytest.mark.parametrize("case", sorted(VQA_BAD_RESULTS))
def test_vqa_bad_results_are_input_errors(vqa_files, tmp_path: Path, capsys, case: str) -> None:  # type: ignore[no-untyped-def]
    make, message = VQA_BAD_RESULTS[case]
    results = json.loads(vqa_files["r"].read_text(encoding="utf-8"))
    path = _results_case(tmp_path, case, make(results))
    assert main(_vqa(vqa_files, "--json", results=path)) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert message in captured.err and str(path) in captured.err


def test_vqa_bad_annotation_files(vqa_files, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    missing = tmp_path / "absent.json"
    assert (
        main(
            [
                "score",
                "vqa",
                "--questions",
                str(missing),
                "--annotations",
                str(vqa_files["a"]),
                "--results",
                str(vqa_files["r"]),
            ]
        )
        == 2
    )
    assert "not found" in capsys.readouterr().err
    doc = json.loads(vqa_files["a"].read_text(encoding="utf-8"))
    doc["annotations"].append(doc["annotations"][0])
    _write(vqa_files["a"], doc)
    assert main(_vqa(vqa_files)) == 2
    assert "duplicate annotation of question id 1" in capsys.readouterr().err


# --- captions -------------------------------------------------------------------------------


@pytest.fixture()
def caption_files(tmp_path: Path) -> dict[str, Path]:
    """Golden case 1 written as a COCO captions file and a COCO results file."""
    case = load_golden("coco_caption_golden.json")["cases"]["case1_three_images"]
    gts, res = case["input"]["gts"], case["input"]["res"]
    images = [{"id": int(k), "file_name": f"COCO_val2014_{int(k):012d}.jpg"} for k in gts]
    annotations = [
        {"id": n, "image_id": int(k), "caption": c}
        for n, (k, c) in enumerate((k, c) for k, caps in gts.items() for c in caps)
    ]
    return {
        "a": _write(tmp_path / "captions.json", {"images": images, "annotations": annotations}),
        "r": _write(tmp_path / "res.json", [{"image_id": int(k), "caption": v[0]} for k, v in res.items()]),
    }


@pytest.mark.slow
def test_caption_json_matches_golden(caption_files, capsys) -> None:  # type: ignore[no-untyped-def]
    assert (
        main(
            [
                "score",
                "caption",
                "--annotations",
                str(caption_files["a"]),
                "--results",
                str(caption_files["r"]),
                "--json",
            ]
        )
        == 0
    )
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    expected = load_golden("coco_caption_golden.json")["cases"]["case1_three_images"]["output"]["corpus"]
    reason = spice_unavailable_reason()
    assert set(out) == set(expected) | ({"SPICE"} if reason is None else set())
    for metric, value in expected.items():
        assert out[metric] == pytest.approx(value, abs=1e-9 if metric == "METEOR" else 1e-12), metric
    if reason is not None:
        assert "SPICE unavailable" in captured.err


def test_caption_table_names_unavailable_metrics() -> None:
    table = score_caption.format_table({"Bleu_1": 0.5, "CIDEr": 1.25}, {"SPICE": "jar missing"}, n=3)
    lines = table.splitlines()
    assert "3 images" in lines[0] and lines[1].split() == ["metric", "value"]
    assert lines[3:] == ["Bleu_1  0.500", "CIDEr   1.25", "SPICE   unavailable: jar missing"]


CAPTION_BAD_RESULTS = {
    "missing": (lambda rs: rs[:-1], "no result for image id(s) 184613"),
    "duplicate": (lambda rs: [*rs, rs[0]], "more than one caption for image id 391895"),
    "unknown": (lambda rs: [*rs, {"image_id": 5, "caption": "x"}], "not in the annotations: 5"),
    "wrong_type": (
        lambda rs: [{**rs[0], "caption": None}, *rs[1:]],
        "image id 391895: 'caption' must be a string",
    ),
    "malformed": (lambda rs: "[{", "is not valid JSON"),
}


@pytest.mark.parametrize("case", sorted(CAPTION_BAD_RESULTS))
def test_caption_bad_results_are_input_errors(caption_files, tmp_path: Path, capsys, case: str) -> None:  # type: ignore[no-untyped-def]
    make, message = CAPTION_BAD_RESULTS[case]
    results = json.loads(caption_files["r"].read_text(encoding="utf-8"))
    path = _results_case(tmp_path, case, make(results))
    assert (
        main(["score", "caption", "--annotations", str(caption_files["a"]), "--results", str(path), "--json"])
        == 2
    )
    captured = capsys.readouterr()
    assert captured.out == "" and message in captured.err and str(path) in captured.err


def test_score_commands_import_light() -> None:
    import subprocess
    import sys

    code = (
        "import sys; import mllmbench.cli.commands.score_vqa, mllmbench.cli.commands.score_caption; "
        "print(any(m.split('.')[0] in {'numpy', 'torch', 'pycocoevalcap', 'scipy'} for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
