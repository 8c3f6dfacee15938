"""VQA accuracy against the reference-generated golden vectors, plus the VQAv2 file loaders.

The golden file was produced by running GT-Vision-Lab/VQA (HEAD and pre-2021), lmms-eval and
VLMEvalKit on 18 questions; every variant must reproduce its per-question scores, normalised
predictions and aggregates.
"""

from __future__ import annotations

import json
import math
import re
import statistics
from pathlib import Path

import pytest
from golden_paths import load_golden, metrics_md

from mllmbench.core.errors import InputError
from mllmbench.suites.base import Sample
from mllmbench.suites.formats.vqav2 import load_vqa, load_vqa_results
from mllmbench.suites.metrics.vqa import VQAAccuracy, VQAItem, VQAVariant, question_accuracy, score_vqa
from mllmbench.suites.metrics.vqa_normalize import (
    CONTRACTIONS,
    PERIOD_STRIP_OFFICIAL,
    PERIOD_STRIP_VLMEVALKIT,
    normalize_answer,
    process_punctuation,
)

GOLDEN_KEYS = {
    VQAVariant.OFFICIAL: "official",
    VQAVariant.OFFICIAL_PRE2021: "official_pre2021",
    VQAVariant.LMMS_EVAL: "lmms_eval_vqav2",
    VQAVariant.VLMEVALKIT: "vlmevalkit_vqa_score",
}


@pytest.fixture(scope="module")
def golden() -> dict:
    return load_golden("vqa_accuracy_golden.json")


def _items(golden: dict) -> list[VQAItem]:
    keys = tuple(("yes", i + 1) for i in range(10))  # VQAv2 answer dicts: distinct answer ids
    return [
        VQAItem(c["question_id"], tuple(c["gt_answers"]), c["question_type"], c["answer_type"], keys)
        for c in golden["cases"]
    ]


def _predictions(golden: dict) -> dict[int, str]:
    return {c["question_id"]: c["prediction"] for c in golden["cases"]}


@pytest.mark.parametrize("variant", list(VQAVariant))
def test_per_question_scores_match_golden(golden: dict, variant: VQAVariant) -> None:
    score = score_vqa(_items(golden), _predictions(golden), variant)
    for case in golden["cases"]:
        expected = case[GOLDEN_KEYS[variant]]
        if variant in (VQAVariant.OFFICIAL, VQAVariant.OFFICIAL_PRE2021):
            assert score.per_question[case["question_id"]] == expected, case["question_id"]
        else:
            assert 100 * score.accuracies[case["question_id"]] == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("variant", [VQAVariant.OFFICIAL, VQAVariant.OFFICIAL_PRE2021])
def test_official_aggregates_match_golden_exactly(golden: dict, variant: VQAVariant) -> None:
    score = score_vqa(_items(golden), _predictions(golden), variant)
    expected = golden["aggregates"][variant.value]
    assert score.overall == expected["overall"]
    assert score.per_question_type == expected["perQuestionType"]
    assert score.per_answer_type == expected["perAnswerType"]
    assert score.to_dict() == {**expected, "variant": variant.value}


@pytest.mark.parametrize(
    ("variant", "key"),
    [(VQAVariant.LMMS_EVAL, "lmms_eval_vqav2_overall"), (VQAVariant.VLMEVALKIT, "vlmevalkit_overall")],
)
def test_harness_overall_matches_golden(golden: dict, variant: VQAVariant, key: str) -> None:
    score = score_vqa(_items(golden), _predictions(golden), variant)
    expected = golden["aggregates"][key]
    assert 100 * sum(score.accuracies.values()) / len(score.accuracies) == pytest.approx(expected, abs=1e-9)
    assert score.overall == round(expected, 2)


@pytest.mark.parametrize(
    ("key", "regex"),
    [
        ("official_normalised_pred", PERIOD_STRIP_OFFICIAL),
        ("official_pre2021_normalised_pred", PERIOD_STRIP_OFFICIAL),
        ("vlmevalkit_vqa_score_normalised_pred", PERIOD_STRIP_VLMEVALKIT),
    ],
)
def test_normalised_predictions_match_golden(golden: dict, key: str, regex: re.Pattern[str]) -> None:
    for case in golden["cases"]:
        assert normalize_answer(case["prediction"], regex) == case[key], case["question_id"]


def test_contractions_are_appendix_a_verbatim() -> None:
    text = metrics_md()
    appendix = text[text.index("## Appendix A") :]
    body = appendix[: appendix.index("(All apostrophes")]
    expected = dict(re.findall(r"([^\s,`]+)→([^\s,`]+)(?=,|\s|$)", body))
    assert len(expected) == 120
    assert expected == CONTRACTIONS


def test_quirks_of_the_reference() -> None:
    yes10 = ["yes"] * 10
    assert question_accuracy("Yes", yes10, "official") == 0.0  # Q1: unanimous GT, nothing normalised
    assert question_accuracy("Yes", yes10, "lmms_eval") == 1.0
    assert question_accuracy("Yes", yes10, "official_pre2021") == 1.0
    padded = ["yes "] * 5 + ["no"] * 5  # HEAD strips GT answers; the pre-2021 file did not
    assert question_accuracy("yes", padded, "official") == 1.0
    assert question_accuracy("yes", padded, "official_pre2021") == 0.0
    assert process_punctuation("a.m.") == "am"  # Q2: every '.' not followed by a digit goes
    assert process_punctuation("3.5 .5 5.") == "3.5 .5 5"
    assert process_punctuation("." * 40) == "." * 8  # Q3: at most 32 periods are removed
    assert process_punctuation("x(y)") == "x y "  # neither 'p ' nor ' p' in the input: blank it
    assert process_punctuation("x (y)") == "x y "  # ' (' occurs: delete '('; ')' is blanked
    assert process_punctuation("1,000 (y)") == "1000 y"  # digit-comma-digit: delete every punctuation
    assert normalize_answer("2.", PERIOD_STRIP_VLMEVALKIT) == "2."  # Q5
    assert normalize_answer("Two dogs, the None") == "2 dogs 0"
    assert normalize_answer("somebody'd Im dont") == "somebodyd im don't"  # Q4: dead capital keys


@pytest.mark.parametrize(
    ("matches", "expected"), [(0, 0.0), (1, 0.3), (2, 0.6), (3, 0.9), (4, 1.0), (10, 1.0)]
)
def test_leave_one_out_formula(matches: int, expected: float) -> None:
    answers = ["cat"] * matches + ["dog"] * (10 - matches)
    assert question_accuracy("cat", answers) == pytest.approx(expected, abs=1e-12)


def test_identical_answer_dicts_are_left_out_together() -> None:
    # The reference drops answer i with `item != gtAnsDatum` on whole dicts: 4 identical dicts all go.
    answers = ["x"] * 4 + ["y"] * 6
    keys = [("yes", 1)] * 4 + [("yes", i) for i in range(2, 8)]
    assert question_accuracy("x", answers, "official", keys) == pytest.approx(0.6)
    assert question_accuracy("x", answers, "official") == pytest.approx(1.0)


def test_empty_and_non_ascii_answers() -> None:
    answers = [""] * 3 + ["x"] * 7
    assert question_accuracy("", answers) == pytest.approx(0.9)
    assert question_accuracy("café", ["café"] * 10) == 1.0
    assert question_accuracy("Café", ["café"] * 10) == 0.0
    assert question_accuracy("Café", ["café"] * 10, "lmms_eval") == 1.0
    assert question_accuracy("日本", ["日本"] * 5 + ["中国"] * 5) == 1.0
    with pytest.raises(ValueError):
        question_accuracy("x", [])


def _samples(golden: dict) -> list[tuple[Sample, str]]:
    return [
        (
            Sample(
                sample_id=str(c["question_id"]),
                image_paths=(),
                text="",
                references=tuple(c["gt_answers"]),
                meta={
                    "question_type": c["question_type"],
                    "answer_type": c["answer_type"],
                    "answer_keys": [["yes", i + 1] for i in range(10)],
                },
            ),
            c["prediction"],
        )
        for c in golden["cases"]
    ]


def test_streaming_metric_values_stderr_and_types(golden: dict) -> None:
    metric = VQAAccuracy()
    per_sample = [metric.update(s, a)["vqa_accuracy"] for s, a in _samples(golden)]
    expected = [c["official"] / 100 for c in golden["cases"]]
    assert per_sample == pytest.approx(expected, abs=1e-12)
    result = metric.compute()
    overall = result.values["vqa_accuracy"]
    assert overall.value == pytest.approx(100 * statistics.fmean(expected), abs=1e-9)
    assert round(overall.value, 2) == golden["aggregates"]["official"]["overall"]
    se = 100 * statistics.stdev(expected) / math.sqrt(len(expected))
    assert overall.stderr == pytest.approx(se, rel=1e-12)
    assert (overall.ci_low, overall.ci_high) == pytest.approx(
        (overall.value - 1.96 * se, overall.value + 1.96 * se)
    )
    assert overall.n == 18 and overall.ci_method == "normal"
    for answer_type, value in golden["aggregates"]["official"]["perAnswerType"].items():
        assert round(result.values[f"vqa_accuracy/{answer_type}"].value, 2) == value
    assert result.notes == {}  # the variant is recorded by the suite (scoring_info), not as a note


def test_merged_shards_equal_one_pass(golden: dict) -> None:
    samples = _samples(golden)
    whole, a, b = VQAAccuracy("lmms_eval"), VQAAccuracy("lmms_eval"), VQAAccuracy("lmms_eval")
    for i, (s, ans) in enumerate(samples):
        whole.update(s, ans)
        (a if i % 3 else b).update(s, ans)
    a.merge(b)
    assert a.compute() == whole.compute()
    with pytest.raises(TypeError):
        a.merge(VQAAccuracy("official"))
    with pytest.raises(ValueError):
        a.merge(b)
    with pytest.raises(ValueError):
        whole.update(*samples[0])


def test_empty_metric_and_missing_references() -> None:
    metric = VQAAccuracy()
    assert metric.compute().values == {}
    with pytest.raises(ValueError):
        metric.update(Sample("1", (), "q"), "x")
    metric.update(Sample("2", (), "q", references=("a", "a", "a", "b")), "a")
    single = metric.compute().values["vqa_accuracy"]
    assert single.n == 1 and single.stderr is None


# --- loaders --------------------------------------------------------------------------------


def _write(path: Path, obj: object) -> Path:
    path.write_text(json.dumps(obj, ensure_ascii=False), encoding="utf-8")
    return path


def _vqa_files(
    tmp_path: Path, *, images: list | None = None, subtype: str | None = "val2014"
) -> tuple[Path, Path]:
    questions: dict = {"questions": [{"image_id": 42, "question": "What?", "question_id": 420}]}
    if subtype:
        questions["data_subtype"] = subtype
    if images is not None:
        questions["images"] = images
    answers = [
        {"answer": a, "answer_confidence": "yes", "answer_id": i + 1} for i, a in enumerate(["é"] * 10)
    ]
    annotations = {
        "annotations": [
            {
                "question_id": 420,
                "image_id": 42,
                "question_type": "what",
                "answer_type": "other",
                "multiple_choice_answer": "é",
                "answers": answers,
            }
        ]
    }
    return _write(tmp_path / "q.json", questions), _write(tmp_path / "a.json", annotations)


def test_vqav2_image_names_follow_the_coco_pattern(tmp_path: Path) -> None:
    q, a = _vqa_files(tmp_path)
    data = load_vqa(q, a, image_dir=tmp_path / "img")
    question = data.questions[0]
    assert question.image_file == "COCO_val2014_000000000042.jpg"
    assert question.image_path == (tmp_path / "img" / "COCO_val2014_000000000042.jpg").absolute()
    assert question.answer_texts == ("é",) * 10 and question.answer_keys[3] == ("yes", 4)
    with pytest.raises(InputError, match="image file not found"):
        load_vqa(q, a, image_dir=tmp_path / "img", check_images=True)
    custom = load_vqa(q, a, image_dir=tmp_path, image_pattern="{data_subtype}/{image_id}.png")
    assert custom.questions[0].image_file == "val2014/42.png"
    mapped = load_vqa(q, a, image_dir=tmp_path, image_files={42: "x.png"})
    assert mapped.questions[0].image_path == (tmp_path / "x.png").absolute()


def test_images_list_and_escaping_names(tmp_path: Path) -> None:
    q, a = _vqa_files(tmp_path, images=[{"id": 42, "file_name": "sub/p.png"}], subtype=None)
    assert load_vqa(q, a, image_dir=tmp_path).questions[0].image_file == "sub/p.png"
    for bad in ("../../etc/passwd", "/etc/passwd", "a/../../x.png"):
        q, a = _vqa_files(tmp_path, images=[{"id": 42, "file_name": bad}], subtype=None)
        with pytest.raises(InputError, match=r"image id 42"):
            load_vqa(q, a, image_dir=tmp_path)
    q, a = _vqa_files(tmp_path, subtype=None)
    assert load_vqa(q, a).questions[0].image_path is None
    with pytest.raises(InputError, match="no image file name for image id 42"):
        load_vqa(q, a, image_dir=tmp_path)


def _bad_annotations(tmp_path: Path, mutate) -> tuple[Path, Path]:  # type: ignore[no-untyped-def]
    q, a = _vqa_files(tmp_path)
    doc = json.loads(a.read_text(encoding="utf-8"))
    mutate(doc)
    return q, _write(a, doc)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda d: d["annotations"].append(dict(d["annotations"][0])),
            "duplicate annotation of question id 420",
        ),
        (
            lambda d: d["annotations"][0].update(question_id=421),
            "question id 421 is not in the questions file",
        ),
        (lambda d: d["annotations"][0].update(image_id=43), "question id 420 has image id 43"),
        (lambda d: d["annotations"][0].update(answers=[]), "'answers' must be a non-empty"),
        (lambda d: d["annotations"][0]["answers"][0].update(answer=3), "'answer' must be a string"),
        (lambda d: d["annotations"][0].update(question_type=None), "'question_type' must be a string"),
        (lambda d: d["annotations"][0].update(question_id=True), "'question_id' must be an integer"),
        (lambda d: d.pop("annotations"), "no 'annotations' list"),
        (lambda d: d.update(annotations=[]), "question id 420 has no annotation"),
    ],
)
def test_annotation_errors_name_file_and_id(tmp_path: Path, mutate, message: str) -> None:  # type: ignore[no-untyped-def]
    q, a = _bad_annotations(tmp_path, mutate)
    with pytest.raises(InputError, match=re.escape(message)) as info:
        load_vqa(q, a)
    assert str(tmp_path) in str(info.value)


def test_results_loader(tmp_path: Path) -> None:
    ids = [1, 2]
    ok = _write(tmp_path / "r.json", [{"question_id": 1, "answer": ""}, {"question_id": 2, "answer": "日本"}])
    assert load_vqa_results(ok, ids) == {1: "", 2: "日本"}
    cases = {
        "dup": (
            [{"question_id": 1, "answer": "a"}, {"question_id": 1, "answer": "b"}],
            "duplicate result for question id 1",
        ),
        "missing": ([{"question_id": 1, "answer": "a"}], "no result for question id(s) 2"),
        "unknown": (
            [
                {"question_id": 1, "answer": "a"},
                {"question_id": 2, "answer": "a"},
                {"question_id": 7, "answer": "a"},
            ],
            "question id(s) not in the annotations: 7",
        ),
        "type": (
            [{"question_id": 1, "answer": 5}, {"question_id": 2, "answer": "a"}],
            "question id 1: 'answer' must be a string",
        ),
        "notlist": ({"question_id": 1}, "must be a JSON array"),
    }
    for name, (doc, message) in cases.items():
        path = _write(tmp_path / f"{name}.json", doc)
        with pytest.raises(InputError, match=re.escape(message)) as info:
            load_vqa_results(path, ids)
        assert str(path) in str(info.value)
    (tmp_path / "broken.json").write_text("[{", encoding="utf-8")
    with pytest.raises(InputError, match="not valid JSON"):
        load_vqa_results(tmp_path / "broken.json", ids)
    with pytest.raises(InputError, match="not found"):
        load_vqa_results(tmp_path / "absent.json", ids)
