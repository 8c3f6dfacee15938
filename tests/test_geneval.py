"""GenEval from local copies: the folder layout, `score geneval` and the suite metric, with tiny random
Mask2Former and CLIP checkpoints built from the real config classes (the numbers are meaningless;
the decision rules and the aggregation have golden tests in test_geneval_rules.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mllmbench.cli.main import main
from mllmbench.suites.base import Sample
from mllmbench.suites.metrics import geneval_rules
from mllmbench.suites.metrics.geneval_detect import ClipColorClassifier, mask_box
from mllmbench.suites.metrics.geneval_rules import Detection

CLASSES = ["person", "dog", "bench", "clock"]
PROMPTS = [
    {"tag": "single_object", "include": [{"class": "bench", "count": 1}], "prompt": "a photo of a bench"},
    {"tag": "counting", "include": [{"class": "clock", "count": 2}], "exclude": [{"class": "clock", "count": 3}], "prompt": "a photo of two clocks"},
    {"include": [{"class": "dog", "count": 1}], "prompt": "a photo of a dog (no tag)"},
    {"tag": "colors", "include": [{"class": "dog", "count": 1, "color": "red"}], "prompt": "a photo of a red dog"},
    {"tag": "position", "include": [{"class": "dog", "count": 1}, {"class": "person", "count": 1, "position": ["left of", 0]}], "prompt": "a photo of a person left of a dog"},
]  # fmt: skip


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    from mllmbench.suites.metrics.geneval_tiny import build_tiny_mask2former
    from mllmbench.suites.metrics.tiny_encoders import build_tiny_clip

    root = tmp_path_factory.mktemp("geneval-models")
    return build_tiny_mask2former(root / "m2f", CLASSES), build_tiny_clip(root / "clip")


def _image(path: Path, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (48, 64, 3), dtype=np.uint8)).save(path)


def test_mask_box_and_colour_crop_golden():
    mask = np.zeros((6, 8), dtype=bool)
    mask[2:4, 3:6] = True
    assert mask_box(mask) == (3.0, 2.0, 6.0, 4.0)
    assert mask_box(np.zeros((3, 3), dtype=bool)) == (0.0, 0.0, 0.0, 0.0)
    image = Image.new("RGB", (8, 6), (200, 10, 10))
    mask[2, 3] = False
    clf = ClipColorClassifier.__new__(ClipColorClassifier)
    (crop,) = clf.crops(image, [Detection(box=mask_box(mask), score=1.0, mask=mask)])
    assert crop.size == (3, 2)
    assert crop.getpixel((0, 0)) == (0x99, 0x99, 0x99) and crop.getpixel((1, 0)) == (200, 10, 10)


def test_score_geneval_layout_bad_inputs_named(models, tmp_path, capsys):
    detector, clip = models
    meta = tmp_path / "evaluation_metadata.jsonl"
    meta.write_text("".join(json.dumps(p) + "\n" for p in PROMPTS))
    images = tmp_path / "images"
    for index in (0, 1, 2, 3):  # prompt 4 has no folder
        for n in range(2):
            _image(images / f"{index:05}" / "samples" / f"{n:05}.png", 10 * index + n)
        (images / f"{index:05}" / "metadata.jsonl").write_text(json.dumps(PROMPTS[index]))
    (images / "00003" / "samples" / "00001.png").write_bytes(b"not a png")
    (images / "00000" / "samples" / "grid.png").write_bytes(b"ignored, as evaluate_images.py does")
    results = tmp_path / "results.jsonl"
    rc = main(["score", "geneval", "--metadata", str(meta), "--images", str(images), "--detector", str(detector),
               "--clip", str(clip), "--results", str(results), "--json"])  # fmt: skip
    out = json.loads(capsys.readouterr().out)
    assert rc == 1
    assert set(out["failed"]) == {
        "prompt 4 (00004)",
        "00002/samples/00000.png",
        "00002/samples/00001.png",
        "00003/samples/00001.png",
    }
    assert "no 'tag'" in out["failed"]["00002/samples/00000.png"]
    assert "00003/samples/00001.png" in out["failed"]["00003/samples/00001.png"]
    assert out["images"] == 5 and set(out["tasks"]) == {"single_object", "counting", "colors"}
    rows = [json.loads(line) for line in results.read_text().splitlines()]
    assert len(rows) == 5
    assert set(rows[0]) == {"filename", "tag", "prompt", "correct", "reason", "metadata", "details"}
    # The printed aggregation is summary_scores.py's over these rows.
    summary = geneval_rules.summarize([(r["tag"], r["metadata"], r["correct"]) for r in rows])
    assert out["overall"] == pytest.approx(100 * summary.overall)
    assert out["correct_prompts"] == pytest.approx(100 * summary.correct_prompts)


def test_suite_writes_genevals_layout_and_scores_it(models, tmp_path, monkeypatch):
    from mllmbench.suites.benchmarks.geneval import CLIP_ENV, DETECTOR_ENV, IMAGES_PER_PROMPT, GenEvalSuite

    detector, clip = models
    data = tmp_path / "geneval"
    (data / "prompts").mkdir(parents=True)
    (data / "prompts" / "evaluation_metadata.jsonl").write_text(
        "".join(json.dumps(p) + "\n" for p in PROMPTS[:2])
    )
    monkeypatch.setenv(DETECTOR_ENV, str(detector))
    monkeypatch.setenv(CLIP_ENV, str(clip))
    suite = GenEvalSuite(data)
    samples = suite.load_samples()
    assert len(samples) == 2 * IMAGES_PER_PROMPT and samples[5].sample_id == "00001_1"
    assert samples[5].text == "a photo of two clocks" and samples[5].meta["geneval"] == PROMPTS[1]
    (metric,) = suite.metrics()
    gen = tmp_path / "run" / "images" / "geneval"
    for i, s in enumerate(samples):
        path = gen / f"{s.sample_id}_0.png"
        if s.sample_id != "00000_2":  # one image never came back
            _image(path, i)
        metric.update(s, str(path))
    result = metric.compute()
    layout = gen / "layout"
    assert json.loads((layout / "00001" / "metadata.jsonl").read_text()) == PROMPTS[1]
    assert sorted(p.name for p in (layout / "00001" / "samples").iterdir()) == [
        f"{n:05}.png" for n in range(4)
    ]
    assert len(list((layout / "00000" / "samples").iterdir())) == 3
    assert result.per_sample["00000_2"] == {"geneval_failed": 1.0}
    assert {k for k, v in result.per_sample.items() if "geneval_correct" in v} == {
        s.sample_id for s in samples
    } - {"00000_2"}
    assert result.values["geneval"].unit == "%" and result.values["geneval"].n == 7
    assert 0 <= result.values["geneval"].value <= 100
    assert set(k for k in result.values if k.startswith("geneval/")) == {
        "geneval/single_object",
        "geneval/counting",
    }


def test_suite_without_models_writes_the_layout_and_says_why(tmp_path, monkeypatch):
    from mllmbench.suites.benchmarks.geneval import CLIP_ENV, DETECTOR_ENV, GenEvalMetric

    monkeypatch.delenv(DETECTOR_ENV, raising=False)
    monkeypatch.delenv(CLIP_ENV, raising=False)
    metric = GenEvalMetric(None, None)
    path = tmp_path / "images" / "geneval" / "00000_0.png"
    _image(path, 0)
    metric.update(
        Sample("00000_0", (), "a photo of a bench", meta={"index": 0, "n": 0, "geneval": PROMPTS[0]}),
        str(path),
    )
    result = metric.compute()
    assert result.values == {} and DETECTOR_ENV in result.notes["geneval"]
    assert (tmp_path / "images" / "geneval" / "layout" / "00000" / "samples" / "00000.png").is_file()


@pytest.mark.slow
def test_run_geneval_end_to_end_with_a_tiny_diffusion_model(models, tmp_path, monkeypatch):
    from mllmbench.adapters.diffusion import DiffusionAdapter
    from mllmbench.suites.benchmarks.geneval import CLIP_ENV, DETECTOR_ENV

    detector, clip = models
    sd = DiffusionAdapter.build_tiny(tmp_path / "sd", seed=0)
    data = tmp_path / "data"
    data.mkdir()
    (data / "evaluation_metadata.jsonl").write_text("".join(json.dumps(p) + "\n" for p in PROMPTS[:2]))
    monkeypatch.setenv(DETECTOR_ENV, str(detector))
    monkeypatch.setenv(CLIP_ENV, str(clip))
    monkeypatch.setenv("MLLMBENCH_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "run"
    rc = main(["run", "--no-progress", "--adapter", "diffusion", "--model", str(sd), "--suite", "geneval",
               "--data", str(data), "--limit", "6", "--steps", "2", "--out", str(out)])  # fmt: skip
    assert rc == 0
    run = json.loads((out / "run.json").read_text())
    metrics = run["suites"]["geneval"]["metrics"]
    assert metrics["geneval"]["n"] == 6 and metrics["geneval"]["unit"] == "%"
    layout = out / "images" / "geneval" / "layout"
    assert len(list((layout / "00000" / "samples").glob("*.png"))) == 4
    assert len(list((layout / "00001" / "samples").glob("*.png"))) == 2
    assert json.loads((layout / "00001" / "metadata.jsonl").read_text()) == PROMPTS[1]
