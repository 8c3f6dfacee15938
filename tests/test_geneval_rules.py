"""Golden tests of GenEval's decision rules and aggregation (mllmbench.suites.metrics.geneval_rules)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mllmbench.core.errors import InputError
from mllmbench.suites.metrics import geneval_rules as R
from mllmbench.suites.metrics.geneval_rules import Detection

GOLDEN = Path(__file__).parent / "data" / "golden_geneval"


@pytest.mark.parametrize("case", json.loads((GOLDEN / "relative_position.json").read_text())["cases"])
def test_relative_position_golden(case):
    assert sorted(R.relative_position(case["a"], case["b"])) == case["relations"], case["note"]


def _d(x: float, y: float, score: float = 0.99, color: str | None = None, size: float = 10) -> Detection:
    return Detection(box=(x, y, x + size, y + size), score=score, color=color)


def test_counting_is_exact_through_exclude():
    meta = {
        "tag": "counting",
        "include": [{"class": "circle", "count": 2}],
        "exclude": [{"class": "circle", "count": 3}],
    }
    assert R.evaluate({"circle": [_d(0, 0), _d(50, 0)]}, meta, R.judge_colors) == (True, "")
    ok, why = R.evaluate({"circle": [_d(0, 0), _d(50, 0), _d(100, 0)]}, meta, R.judge_colors)
    assert not ok and why == "expected circle<3, found 3"
    ok, why = R.evaluate({"circle": [_d(0, 0)]}, meta, R.judge_colors)
    assert not ok and why == "expected circle>=2, found 1"


def test_colour_checked_on_the_most_confident_only():
    meta = {"tag": "colors", "include": [{"class": "square", "count": 1, "color": "red"}]}
    dets = {"square": [_d(0, 0, 0.9, "blue"), _d(50, 0, 0.8, "red")]}
    ok, why = R.evaluate(dets, meta, R.judge_colors)
    assert not ok and why == "expected red square>=1, found 1 blue"
    assert R.evaluate({"square": [_d(0, 0, 0.9, "red")]}, meta, R.judge_colors)[0]


def test_position_against_every_target_and_missing_target():
    meta = {
        "tag": "position",
        "include": [
            {"class": "circle", "count": 1},
            {"class": "square", "count": 1, "position": ["left of", 0]},
        ],
    }
    assert R.evaluate({"circle": [_d(60, 0)], "square": [_d(0, 0)]}, meta, R.judge_colors)[0]
    ok, why = R.evaluate({"circle": [_d(0, 0)], "square": [_d(60, 0)]}, meta, R.judge_colors)
    assert not ok and why == "expected square left of target, found right of target"
    ok, why = R.evaluate({"square": [_d(0, 0)]}, meta, R.judge_colors)
    assert not ok and why.splitlines() == [
        "expected circle>=1, found 0",
        "no target for square to be left of",
    ]


def test_colour_attribution_binds_each_colour_to_its_object():
    meta = {
        "tag": "color_attr",
        "include": [
            {"class": "star", "count": 1, "color": "green"},
            {"class": "circle", "count": 1, "color": "blue"},
        ],
    }
    assert R.evaluate(
        {"star": [_d(0, 0, color="green")], "circle": [_d(50, 0, color="blue")]}, meta, R.judge_colors
    )[0]
    swapped = {"star": [_d(0, 0, color="blue")], "circle": [_d(50, 0, color="green")]}
    assert not R.evaluate(swapped, meta, R.judge_colors)[0]


def test_select_detections_thresholds_order_and_cap():
    dets = {"circle": [_d(0, 0, 0.5), _d(10, 0, 0.95), _d(20, 0, 0.2)], "star": [_d(0, 0, 0.1)]}
    kept = R.select_detections(dets, 0.3)
    assert [d.score for d in kept["circle"]] == [0.95, 0.5] and "star" not in kept
    assert [
        d.score for d in R.select_detections(dets, R.confidence_threshold({"tag": "counting"}))["circle"]
    ] == [0.95]
    assert R.confidence_threshold({"tag": "colors"}) == 0.3
    many = {"circle": [_d(i, 0, 0.5 + i / 100) for i in range(20)]}
    assert len(R.select_detections(many, 0.3)["circle"]) == 16


def test_summary_is_the_unweighted_mean_of_task_scores():
    rows = [
        ("single_object", "p1", True), ("single_object", "p1", False), ("single_object", "p2", False),
        ("single_object", "p2", True), ("counting", "p3", True), ("colors", "p4", False), ("colors", "p5", False),
    ]  # fmt: skip
    s = R.summarize(rows)
    assert list(s.tasks) == ["single_object", "counting", "colors"]
    assert s.tasks == {"single_object": 0.5, "counting": 1.0, "colors": 0.0}
    assert s.overall == pytest.approx(0.5)
    assert s.correct_images == pytest.approx(3 / 7) and s.correct_prompts == pytest.approx(3 / 5)
    assert s.task_counts["single_object"] == (2, 4)


@pytest.mark.parametrize(
    "meta, problem",
    [
        ({"include": [{"class": "a", "count": 1}]}, "no 'tag'"),
        ({"tag": "nope", "include": [{"class": "a", "count": 1}]}, "unknown tag"),
        ({"tag": "colors"}, "non-empty 'include'"),
        ({"tag": "colors", "include": [{"class": "a"}]}, "integer 'count'"),
        (
            {"tag": "position", "include": [{"class": "a", "count": 1, "position": ["near", 0]}]},
            "bad 'position'",
        ),
    ],
)
def test_bad_metadata_is_named(meta, problem):
    with pytest.raises(InputError, match=problem):
        R.check_metadata(meta, "prompt 7")
