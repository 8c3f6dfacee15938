"""POPE: answer rules (golden vectors), the scores, the lmms-lab/POPE parquet layout, shapes_pope."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from mllmbench.core.errors import InputError
from mllmbench.suites.base import Sample
from mllmbench.suites.metrics.pope import PopeMetric, lmms_eval_answer, pope_answer, pope_unparsed

GOLDEN = json.loads((Path(__file__).parent.parent / "data" / "golden_bench" / "pope.json").read_text())


@pytest.mark.parametrize("case", GOLDEN["answers"], ids=lambda c: repr(c["output"]))
def test_answer_rules_golden(case: dict) -> None:
    assert pope_answer(case["output"]) == case["pope"]
    assert lmms_eval_answer(case["output"]) == case["lmms_eval"]
    assert pope_unparsed(case["output"]) is case["unparsed_pope"]


@pytest.mark.parametrize("rule", ["pope", "lmms_eval"])
def test_scores_golden(rule: str) -> None:
    case = GOLDEN["confusion_case"]
    m = PopeMetric(rule)
    for i, (gold, out) in enumerate(zip(case["golds"], case["outputs"], strict=True)):
        m.update(Sample(str(i), (), "", (gold,), {"category": "random" if i % 2 else "popular"}), out)
    values = m.compute().values
    for key, expected in case[rule].items():
        assert values[key].value == pytest.approx(expected), key
    assert {"accuracy/split=random", "yes_ratio/split=popular"} <= set(values)


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), "green").save(buf, format="PNG")
    return buf.getvalue()


def _write_pope(folder: Path, rows: list[dict]) -> Path:
    (folder / "data").mkdir(parents=True)
    pd.DataFrame(rows).to_parquet(folder / "data" / "test-00000-of-00001.parquet")
    return folder


def _rows() -> list[dict]:
    img = {"bytes": _png(), "path": None}
    return [
        {
            "question_id": "1",
            "question": "Is there a cat?",
            "answer": "yes",
            "image_source": "a",
            "image": img,
            "category": "random",
        },
        {
            "question_id": "2",
            "question": "Is there a dog?",
            "answer": "no",
            "image_source": "a",
            "image": img,
            "category": "adversarial",
        },
    ]


def test_pope_parquet_layout(tmp_path: Path) -> None:
    from mllmbench.suites.benchmarks.pope import PopeSuite

    samples = PopeSuite(_write_pope(tmp_path / "pope", _rows())).load_samples()
    assert [s.sample_id for s in samples] == ["1", "2"] and samples[1].meta["category"] == "adversarial"
    assert Image.open(samples[0].image_paths[0]).getpixel((0, 0)) == (0, 128, 0)


def test_pope_bad_input(tmp_path: Path) -> None:
    from mllmbench.suites.benchmarks.pope import PopeSuite

    rows = _rows()
    for r in rows:
        del r["category"]
    with pytest.raises(InputError, match=r"test-00000-of-00001\.parquet: column\(s\) category missing"):
        PopeSuite(_write_pope(tmp_path / "a", rows)).load_samples()
    rows = _rows()
    rows[1]["answer"] = "maybe"
    with pytest.raises(InputError, match=r"question_id '2'\): column 'answer' must be yes or no"):
        PopeSuite(_write_pope(tmp_path / "b", rows)).load_samples()
    (tmp_path / "c").mkdir()
    with pytest.raises(InputError, match="no POPE data in"):
        PopeSuite(tmp_path / "c").load_samples()


def test_shapes_pope_negatives(shapes_dir: Path) -> None:
    from mllmbench.suites import shapes_render
    from mllmbench.suites.shapes_pope import ShapesPopeSuite

    samples = ShapesPopeSuite().load_samples()
    assert len(samples) == 200 * 6
    for s in samples[:60]:
        image_id = int(s.sample_id) // 10
        scene = shapes_render.sample_scene(0, image_id)
        objects = {x.color_shape for x in scene.shapes}
        obj = re.fullmatch(r"Is there an? (.+) in the image\?", s.text).group(1)  # type: ignore[union-attr]
        assert (obj in objects) == (s.references[0] == "yes"), s.text
    counts = {c: sum(s.meta["category"] == c for s in samples) for c in ("adversarial", "popular", "random")}
    assert counts == {"adversarial": 400, "popular": 400, "random": 400}
