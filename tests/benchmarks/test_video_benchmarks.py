"""MVBench, Video-MME and ActivityNet-QA from small local copies in their layouts, and their answer rules."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from mllmbench.cli.main import main
from mllmbench.core.errors import InputError
from mllmbench.core.video import write_video
from mllmbench.suites.base import Sample
from mllmbench.suites.benchmarks.video_bench import (
    MVBENCH_TASKS,
    ActivityNetQASuite,
    MVBenchSuite,
    VideoMMESuite,
)
from mllmbench.suites.metrics.video_qa import (
    activitynet_normalize,
    mvbench_correct,
    mvbench_process,
    videomme_extract,
)
from mllmbench.testing.adapter_contract import synthetic_image


def _clip(path: Path, seed: int) -> Path:
    return write_video(path, [synthetic_image(seed + k).resize((32, 32)) for k in range(4)], 4)


@pytest.fixture(scope="module")
def mvbench_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("mvbench")
    for task in MVBENCH_TASKS:
        (root / "json").mkdir(exist_ok=True)
        (root / "json" / f"{task}.json").write_text("[]")
    items = [
        {
            "video": "a.mp4",
            "question": "What did the person do first?",
            "candidates": ["sat", "stood"],
            "answer": "stood",
        },
        {
            "video": "b.mp4",
            "question": "What happened next?",
            "candidates": ["ran", "ate", "slept"],
            "answer": "ran",
        },
    ]
    (root / "json" / "action_sequence.json").write_text(json.dumps(items))
    _clip(root / "video" / "star" / "Charades_segment" / "a.mp4", 0)
    _clip(root / "star" / "Charades_segment" / "b.mp4", 4)  # lmms-eval's cache layout
    return root


def test_mvbench_reads_the_lmms_eval_layout_with_its_prompt(mvbench_dir: Path) -> None:
    samples = MVBenchSuite(mvbench_dir).load_samples()
    assert [s.sample_id for s in samples] == ["action_sequence/0", "action_sequence/1"]
    assert samples[0].text == (
        "Question:What did the person do first?\nOption:\n(A) sat\n(B) stood\n"
        "Answer with the option's letter from the given choices directly."
    )
    assert samples[0].references == ("B",) and samples[1].references == ("A",)
    assert samples[1].video and samples[1].video.endswith("star/Charades_segment/b.mp4")


def test_mvbench_answer_rule_and_accuracy(mvbench_dir: Path) -> None:
    assert mvbench_process("B. stood") == "B" and mvbench_process("(B) stood") == "B"
    assert mvbench_correct("B", "(B) stood") and mvbench_correct("B", "b")
    assert not mvbench_correct("B", "A") and not mvbench_correct("B", "stood up")
    suite = MVBenchSuite(mvbench_dir)
    samples = suite.load_samples()
    [metric] = suite.metrics()
    metric.update(samples[0], "B")
    metric.update(samples[1], "")  # unanswered: left out, as lmms-eval's aggregate does
    result = metric.compute()
    assert result.values["mvbench_accuracy"].value == 100.0 and result.values["mvbench_accuracy"].n == 1
    assert (
        result.values["mvbench_task_mean"].value == 100.0 and "unanswered" in result.notes["mvbench_accuracy"]
    )


def test_missing_files_name_where_they_come_from(tmp_path: Path, mvbench_dir: Path) -> None:
    with pytest.raises(InputError, match="OpenGVLab/MVBench"):
        MVBenchSuite(tmp_path).load_samples()
    broken = tmp_path / "broken"
    (broken / "json").mkdir(parents=True)
    for task in MVBENCH_TASKS:
        (broken / "json" / f"{task}.json").write_text((mvbench_dir / "json" / f"{task}.json").read_text())
    with pytest.raises(InputError, match="a.mp4 not found .*OpenGVLab/MVBench"):
        MVBenchSuite(broken).load_samples()
    with pytest.raises(InputError, match="lmms-lab/Video-MME"):
        VideoMMESuite(tmp_path).load_samples()
    with pytest.raises(InputError, match="test_q.json not found .*MILVLG/activitynet-qa"):
        ActivityNetQASuite(tmp_path).load_samples()


@pytest.fixture(scope="module")
def videomme_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    root = tmp_path_factory.mktemp("videomme")
    rows = {
        "video_id": ["001", "002"],
        "duration": ["short", "long"],
        "domain": ["Knowledge", "Sports Competition"],
        "sub_category": ["Astronomy", "Football"],
        "url": ["u1", "u2"],
        "videoID": ["abc", "def"],
        "question_id": ["001-1", "002-1"],
        "task_type": ["Counting Problem", "Action Recognition"],
        "question": ["How many planets are shown?", "What does the player do?"],
        "options": [["A. 1", "B. 2", "C. 3", "D. 4"], ["A. kick", "B. run", "C. jump", "D. fall"]],
        "answer": ["C", "A"],
    }
    (root / "videomme").mkdir()
    pq.write_table(pa.table(rows), root / "videomme" / "test-00000-of-00001.parquet")
    _clip(root / "data" / "abc.mp4", 1)
    _clip(root / "data" / "def.MP4", 2)
    return root


def test_videomme_prompt_answer_rule_and_durations(videomme_dir: Path) -> None:
    suite = VideoMMESuite(videomme_dir)
    samples = suite.load_samples()
    assert samples[0].text.endswith(
        "How many planets are shown?\nA. 1\nB. 2\nC. 3\nD. 4\nThe best answer is:"
    )
    assert samples[0].text.startswith("Select the best answer to the following multiple-choice question")
    assert samples[1].video and samples[1].video.endswith("def.MP4")
    assert videomme_extract("The best answer is C.") == "C" and videomme_extract("c") == ""
    assert videomme_extract("I think the planets number three in this short clip today here") == ""
    [metric] = suite.metrics()
    metric.update(samples[0], "The answer is C")
    metric.update(samples[1], "B")
    values = metric.compute().values
    assert values["videomme_accuracy"].value == 50.0
    assert values["videomme_accuracy/short"].value == 100.0 and values["videomme_accuracy/long"].value == 0.0


def test_activitynetqa_official_files_and_exact_match(tmp_path: Path) -> None:
    root = tmp_path / "anetqa"
    root.mkdir()
    (root / "test_q.json").write_text(
        json.dumps([{"video_name": "x1", "question_id": "x1_0", "question": "what color is the ball"}])
    )
    (root / "test_a.json").write_text(json.dumps([{"question_id": "x1_0", "answer": "red", "type": 4}]))
    _clip(root / "all_test" / "v_x1.mp4", 3)
    suite = ActivityNetQASuite(root)
    [sample] = suite.load_samples()
    assert sample.text == "what color is the ball? Answer the question using a single word or phrase."
    assert sample.meta["question_type"] == "color"
    assert activitynet_normalize(" Red. ") == "red"
    [metric] = suite.metrics()
    assert metric.update(sample, "Red.") == {"activitynetqa_accuracy": 1.0}
    assert metric.compute().values["activitynetqa_accuracy/color"].value == 100.0


def test_run_qwen2_vl_on_mvbench(
    tmp_path: Path, mvbench_dir: Path, tiny_checkpoint: Callable[[str], Path]
) -> None:
    out = tmp_path / "run"
    args = ["run", "--no-progress", "--adapter", "qwen2_vl", "--model", str(tiny_checkpoint("qwen2_vl"))]
    args += [
        "--suite",
        "mvbench",
        "--data",
        f"mvbench={mvbench_dir}",
        "--video-frames",
        "2",
        "--out",
        str(out),
    ]
    assert main(args) == 0
    lines = [json.loads(x) for x in (out / "samples.jsonl").read_text().splitlines()]
    assert len(lines) == 2 and all(x["error"] is None and x["tokens"]["video_frames"] == 2 for x in lines)
    metrics = json.loads((out / "run.json").read_text())["suites"]["mvbench"]["metrics"]
    assert "mvbench_accuracy" in metrics or all(x["answer"] == "" for x in lines)


def test_grouped_accuracy_rejects_double_scoring() -> None:
    from mllmbench.suites.metrics.video_qa import GroupedAccuracy

    metric = GroupedAccuracy("acc", lambda s, a: a == "x", "g")
    metric.update(Sample("1", (), "", ("x",)), "x")
    with pytest.raises(ValueError, match="twice"):
        metric.update(Sample("1", (), "", ("x",)), "x")
