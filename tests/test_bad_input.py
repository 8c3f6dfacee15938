"""Bad input never sinks a run and never loses work: each case gets a message naming the file/sample."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mllmbench.cli.main import main
from mllmbench.core.errors import InputError
from mllmbench.core.images import open_rgb
from mllmbench.suites.shapes_suites import ShapesVQASuite


@pytest.fixture()
def data(shapes_dir: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "shapes"
    shutil.copytree(shapes_dir, dst)
    return dst


def _lines(run_dir: Path) -> dict[str, dict]:
    return {r["sample_id"]: r for r in map(json.loads, (run_dir / "samples.jsonl").read_text().splitlines())}


def test_broken_images_are_per_sample_errors_naming_the_file(
    data: Path, tiny_llava: Path, tmp_path: Path
) -> None:
    images = data / "images"
    (images / "shapes_000000000001.png").write_bytes(b"")  # zero bytes
    png = (images / "shapes_000000000002.png").read_bytes()
    (images / "shapes_000000000002.png").write_bytes(png[: len(png) // 2])  # truncated
    (images / "shapes_000000000003.png").unlink()  # missing
    out = tmp_path / "run"
    code = main(
        [
            "run",
            "--no-progress",
            "--no-report",
            "--model",
            str(tiny_llava),
            "--suite",
            "vqa",
            "--limit",
            "15",
            "--data",
            str(data),
            "--out",
            str(out),
        ]
    )
    assert code == 1
    lines = _lines(out)
    assert "empty (0 bytes)" in lines["1000"]["error"] and "shapes_000000000001.png" in lines["1000"]["error"]
    assert "shapes_000000000002.png" in lines["2000"]["error"]
    assert "not found" in lines["3000"]["error"] and "shapes_000000000003.png" in lines["3000"]["error"]
    good = [r for r in lines.values() if r["error"] is None]
    assert len(good) == 6 and all(r["answer"] is not None for r in good)
    run = json.loads((out / "run.json").read_text())
    assert run["suites"]["vqa"]["n_errors"] == 9 and run["suites"]["vqa"]["metrics"]["vqa_accuracy"]["n"] == 6


def test_open_rgb_messages(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not an image")
    with pytest.raises(InputError, match="not an image file PIL can read: .*notes.txt"):
        open_rgb(tmp_path / "notes.txt")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"annotations": [', "is not valid JSON"),
        (b"\xff\xfe\x00garbage", "is not valid UTF-8"),
        (b'{"annotations": {"not": "a list"}}', "annotations"),
    ],
)
def test_malformed_annotation_files_name_the_file(data: Path, content: bytes, message: str, capsys) -> None:
    (data / "vqa" / "annotations.json").write_bytes(content)
    with pytest.raises(InputError, match=message) as info:
        ShapesVQASuite(data).load_samples()
    assert "annotations.json" in str(info.value)
    code = main(["run", "--no-progress", "--suite", "vqa", "--data", str(data), "--out", str(data / "x")])
    assert code == 2 and "annotations.json" in capsys.readouterr().err


def test_wrong_field_type_names_the_question(data: Path) -> None:
    path = data / "vqa" / "annotations.json"
    ann = json.loads(path.read_text())
    ann["annotations"][4]["answers"] = "yes"
    path.write_text(json.dumps(ann))
    with pytest.raises(InputError) as info:
        ShapesVQASuite(data).load_samples()
    text = str(info.value)
    assert "annotations.json" in text and str(ann["annotations"][4]["question_id"]) in text


def test_huge_and_non_ascii_questions_run(data: Path, tiny_llava: Path, tmp_path: Path) -> None:
    path = data / "vqa" / "questions.json"
    qs = json.loads(path.read_text())
    qs["questions"][0]["question"] = "Wie viele Kreise? 圆有几个？ " + "very " * 2000 + "long?"
    path.write_text(json.dumps(qs, ensure_ascii=False))
    out = tmp_path / "run"
    code = main(
        [
            "run",
            "--no-progress",
            "--no-report",
            "--model",
            str(tiny_llava),
            "--suite",
            "vqa",
            "--limit",
            "2",
            "--data",
            str(data),
            "--out",
            str(out),
            "--max-new-tokens",
            "2",
        ]
    )
    assert code == 0
    lines = _lines(out)
    first = lines["1000"]
    assert first["error"] is None and lines["1001"]["error"] is None
    assert first["tokens"]["input"] > 2000  # the whole question reached the model, untruncated
    assert "圆有几个" in first["text"]
