"""VQAv2, OK-VQA, TextVQA, VizWiz and GQA suites: both layouts, scoring wiring, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import benchmark_layouts as bl
import pytest
from PIL import Image

from mllmbench.core.errors import ConfigError, InputError
from mllmbench.suites.base import Sample
from mllmbench.suites.benchmarks.gqa import GQASuite
from mllmbench.suites.benchmarks.okvqa import OKVQASuite
from mllmbench.suites.benchmarks.textvqa import TextVQASuite
from mllmbench.suites.benchmarks.vizwiz import VizWizSuite
from mllmbench.suites.benchmarks.vqav2 import VQAv2Suite
from mllmbench.suites.metrics.evalai_vqa import EvalAIVQAAccuracy
from mllmbench.suites.metrics.exact_match import ExactMatch
from mllmbench.suites.metrics.vqa import VQAAccuracy

VQA_SUFFIX = "\nAnswer the question using a single word or phrase."


def _score(suite, samples: list[Sample], answers: dict[str, str]) -> dict[str, float]:
    (metric,) = suite.metrics()
    per = {s.sample_id: next(iter(metric.update(s, answers[s.sample_id]).values())) for s in samples}
    return per


def _color(path: str) -> tuple[int, int, int]:
    with Image.open(path) as im:
        pixel = im.convert("RGB").getpixel((4, 4))
    assert isinstance(pixel, tuple)
    return (int(pixel[0]), int(pixel[1]), int(pixel[2]))


# ------------------------------------------------------------------------------------ VQAv2
def test_vqav2_official_layout(tmp_path: Path) -> None:
    suite = VQAv2Suite(bl.vqav2_official(tmp_path))
    samples = suite.load_samples()
    assert [s.sample_id for s in samples] == ["4200", "4201", "4300", "4400"]
    s = samples[0]
    assert s.text == "What color is the bus?" + VQA_SUFFIX
    assert s.image_paths == (str(tmp_path / "val2014" / "COCO_val2014_000000000042.jpg"),)
    assert len(s.references) == 10 and s.meta["answer_type"] == "other"
    assert s.meta["answer_keys"][0] == ["yes", 1]
    assert suite.layout()[0] == "official"
    info = suite.scoring_info()
    assert info["vqa_variant"] == "lmms_eval" and info["prompt"].endswith(VQA_SUFFIX)
    assert isinstance(suite.metrics()[0], VQAAccuracy)
    # 6 x red -> 1; "dark red" has 1 match -> 0.3; "Two" normalises to 2 (2 of 10) -> 0.6.
    per = _score(suite, samples, {"4200": "Red", "4201": "no", "4300": "Two", "4400": "dark red"})
    assert per == pytest.approx({"4200": 1.0, "4201": 1.0, "4300": 0.6, "4400": 0.0})
    assert len(suite.dataset_fingerprint()) == 16


def test_vqav2_parquet_layout_matches_official(tmp_path: Path) -> None:
    official = VQAv2Suite(bl.vqav2_official(tmp_path / "official")).load_samples()
    suite = VQAv2Suite(bl.vqav2_parquet(tmp_path / "hf", shards=2))
    samples = suite.load_samples()
    assert suite.layout()[0] == "hf_parquet"
    assert [(s.sample_id, s.text, s.references, s.meta["answer_keys"]) for s in samples] == [
        (s.sample_id, s.text, s.references, s.meta["answer_keys"]) for s in official
    ]
    # Images were decoded into the cache, one file per image id, under the dataset fingerprint.
    paths = {s.image_paths[0] for s in samples}
    assert len(paths) == 3
    for p in paths:
        assert Path(p).is_file() and suite.dataset_fingerprint() in p and p.endswith(".png")
    assert _color(samples[0].image_paths[0]) == bl.COLORS[0]
    info = suite.scoring_info()
    assert info["hf_dataset"] == "lmms-lab/VQAv2" and info["split"] == "validation"
    # A second load reuses the cache (same paths, files untouched).
    mtimes = {p: Path(p).stat().st_mtime_ns for p in paths}
    again = VQAv2Suite(tmp_path / "hf").load_samples()
    assert {s.image_paths[0] for s in again} == paths
    assert {p: Path(p).stat().st_mtime_ns for p in paths} == mtimes


def test_vqav2_lite_split_and_limit(tmp_path: Path) -> None:
    suite = VQAv2Suite(bl.vqav2_parquet(tmp_path, split="lite"))
    assert [s.sample_id for s in suite.load_samples(limit=2)] == ["4200", "4201"]
    assert suite.scoring_info()["split"] == "lite"


@pytest.mark.parametrize("form", ["txt", "json"])
def test_vqav2_subset_by_question_id_list(tmp_path: Path, form: str) -> None:
    root = bl.vqav2_official(tmp_path)
    if form == "txt":
        subset = root / "lite_ids.txt"
        subset.write_text("# lite\n4400\n4201\n\n")
    else:
        subset = bl.write_json(root / "lite_ids.json", [4400, 4201])
    suite = VQAv2Suite(subset)
    assert suite.data_dir == root
    assert [s.sample_id for s in suite.load_samples()] == ["4201", "4400"]  # dataset order
    assert suite.scoring_info()["subset_file"] == str(subset)
    assert suite.dataset_fingerprint() != VQAv2Suite(root).dataset_fingerprint()


def test_vqav2_subset_with_unknown_id(tmp_path: Path) -> None:
    root = bl.vqav2_official(tmp_path)
    subset = root / "ids.txt"
    subset.write_text("4200\n999\n")
    with pytest.raises(InputError, match=r"ids\.txt.*'999'"):
        VQAv2Suite(subset).load_samples()
    subset.write_text("4200\n4200\n")
    with pytest.raises(InputError, match="listed twice"):
        VQAv2Suite(subset).load_samples()


def test_vqav2_needs_data_dir_and_says_where_files_come_from() -> None:
    with pytest.raises(ConfigError) as err:
        VQAv2Suite()
    msg = str(err.value)
    assert "--data" in msg and "v2_OpenEnded_mscoco_val2014_questions.json" in msg
    assert "visualqa.org" in msg and "lmms-lab/VQAv2" in msg


def test_vqav2_missing_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="data directory not found"):
        VQAv2Suite(tmp_path / "nope")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError) as err:
        VQAv2Suite(empty).load_samples()
    msg = str(err.value)
    assert "no VQAv2 data" in msg and "v2_mscoco_val2014_annotations.json" in msg and "lmms-lab/VQAv2" in msg
    root = bl.vqav2_official(tmp_path / "partial")
    (root / "v2_mscoco_val2014_annotations.json").unlink()
    with pytest.raises(InputError) as err:
        VQAv2Suite(root).load_samples()
    msg = str(err.value)
    assert "lacks v2_mscoco_val2014_annotations.json" in msg and "Validation annotations" in msg
    assert "v2_OpenEnded" not in msg


def test_vqav2_malformed_files(tmp_path: Path) -> None:
    root = bl.vqav2_official(tmp_path)
    q = root / "v2_OpenEnded_mscoco_val2014_questions.json"
    data = json.loads(q.read_text())
    del data["questions"][1]["question"]
    q.write_text(json.dumps(data))
    with pytest.raises(InputError, match=r"questions\.json: question id 4201 has no 'question'"):
        VQAv2Suite(root).load_samples()
    q.write_text("{not json")
    with pytest.raises(InputError, match="is not valid JSON"):
        VQAv2Suite(root).load_samples()


def test_parquet_missing_shard_and_column(tmp_path: Path) -> None:
    root = bl.vqav2_parquet(tmp_path / "a", shards=2)
    (root / "data" / "validation-00001-of-00002.parquet").unlink()
    with pytest.raises(InputError, match="validation-00001-of-00002.parquet is missing"):
        VQAv2Suite(root).load_samples()
    root = tmp_path / "b"
    bl.write_parquet(
        root / "data" / "validation-00000-of-00001.parquet",
        [{"question_id": 1, "question": "q?", "image": bl.image_struct((1, 2, 3))}],
    )
    with pytest.raises(InputError, match=r"column\(s\) image_id, answers missing.*lmms-lab/VQAv2"):
        VQAv2Suite(root).load_samples()
    (root / "data" / "validation-00000-of-00001.parquet").write_bytes(b"garbage")
    with pytest.raises(InputError, match="not a readable parquet file"):
        VQAv2Suite(root).load_samples()


def test_parquet_bad_cells(tmp_path: Path) -> None:
    row = {
        "question_id": 7,
        "question": "q?",
        "image_id": 1,
        "answers": ["a"],
        "image": {"bytes": None, "path": None},
    }
    bl.write_parquet(tmp_path / "data" / "validation-00000-of-00001.parquet", [row])
    with pytest.raises(InputError, match="image_id 1: the image cell has neither bytes nor a path"):
        VQAv2Suite(tmp_path).load_samples()
    row["image"] = {"bytes": None, "path": "../outside.png"}
    bl.write_parquet(tmp_path / "data" / "validation-00000-of-00001.parquet", [row])
    with pytest.raises(InputError, match="escapes the dataset root"):
        VQAv2Suite(tmp_path).load_samples()
    row["answers"] = []
    bl.write_parquet(tmp_path / "data" / "validation-00000-of-00001.parquet", [row])
    with pytest.raises(InputError, match="question id 7: 'answers' is empty"):
        VQAv2Suite(tmp_path).load_samples()


# ------------------------------------------------------------------------------------ OK-VQA
def test_okvqa_both_layouts(tmp_path: Path) -> None:
    official = OKVQASuite(bl.okvqa_official(tmp_path / "official"))
    hf = OKVQASuite(bl.okvqa_parquet(tmp_path / "hf"))
    a, b = official.load_samples(), hf.load_samples()
    assert [(s.sample_id, s.text, s.references) for s in a] == [
        (s.sample_id, s.text, s.references) for s in b
    ]
    assert a[0].text.startswith("What color is the bus?\nWhen the provided information is insufficient")
    assert b[0].meta["answer_keys"] is None  # plain-string answers: told apart by index
    assert isinstance(official.metrics()[0], EvalAIVQAAccuracy)
    per = _score(hf, b, {"4200": "Red.", "4201": "No", "4300": "three", "4400": "cakes"})
    assert per == pytest.approx({"4200": 1.0, "4201": 1.0, "4300": 1.0, "4400": 0.0})
    with pytest.raises(InputError, match="okvqa.allenai.org"):
        OKVQASuite(tmp_path).load_samples()


# ------------------------------------------------------------------------------------ TextVQA
def test_textvqa_official_layout(tmp_path: Path) -> None:
    suite = TextVQASuite(bl.textvqa_official(tmp_path))
    samples = suite.load_samples()
    assert [s.sample_id for s in samples] == ["34602", "34603", "34604"]
    # lmms-eval's question.capitalize() lowercases the rest of the question.
    assert samples[0].text == "What is the brand of this camera?" + VQA_SUFFIX
    assert samples[0].meta["ocr_tokens"] == ["nikon", "d40"]
    assert samples[0].image_paths == (str(tmp_path / "train_images" / "0054c91397f2fe05.jpg"),)
    assert "Rosetta" not in samples[0].text  # OCR-free prompt
    per = _score(suite, samples, {"34602": "Nikon", "34603": "STOP!", "34604": "5"})
    assert per == pytest.approx({"34602": 1.0, "34603": 1.0, "34604": 1.0})  # "five" -> "5": 6 matches
    assert suite.scoring_info()["ocr_tokens_in_prompt"] is False


def test_textvqa_ocr_file_is_optional_and_parquet_matches(tmp_path: Path) -> None:
    no_ocr = TextVQASuite(bl.textvqa_official(tmp_path / "a", with_ocr=False)).load_samples()
    assert "ocr_tokens" not in no_ocr[0].meta
    hf = TextVQASuite(bl.textvqa_parquet(tmp_path / "b")).load_samples()
    assert [(s.sample_id, s.text, s.references) for s in hf] == [
        (s.sample_id, s.text, s.references) for s in no_ocr
    ]
    assert hf[2].meta["ocr_tokens"] == ["15"]
    assert hf[1].image_paths == hf[2].image_paths  # same image id, one cached file


def test_textvqa_errors(tmp_path: Path) -> None:
    root = bl.textvqa_official(tmp_path)
    path = root / "TextVQA_0.5.1_val.json"
    data = json.loads(path.read_text())
    del data["data"][1]["answers"]
    path.write_text(json.dumps(data))
    with pytest.raises(InputError, match="question id 34603 has no 'answers'.*test split"):
        TextVQASuite(root).load_samples()
    data["data"][1]["answers"] = "stop"
    path.write_text(json.dumps(data))
    with pytest.raises(InputError, match="'answers' must be a JSON array of strings"):
        TextVQASuite(root).load_samples()
    (root / "train_images" / "0054c91397f2fe05.jpg").unlink()
    for p in (root / "train_images").iterdir():
        p.unlink()
    (root / "train_images").rmdir()
    with pytest.raises(InputError, match=r"lacks train_images/ from the TextVQA download page"):
        TextVQASuite(root).load_samples()


# ------------------------------------------------------------------------------------ VizWiz
@pytest.mark.parametrize("annotations", ["val.json", "Annotations/val.json"])
def test_vizwiz_official_layout(tmp_path: Path, annotations: str) -> None:
    suite = VizWizSuite(bl.vizwiz_official(tmp_path, annotations))
    samples = suite.load_samples()
    assert [s.sample_id for s in samples] == [
        "VizWiz_val_00000000",
        "VizWiz_val_00000001",
        "VizWiz_val_00000002",
    ]
    assert samples[2].text == (
        "Is this milk?\nWhen the provided information is insufficient, respond with 'Unanswerable'."
        "\nAnswer the question using a single word or phrase."
    )
    assert samples[0].text.startswith("Ok. there is another picture")  # capitalize() lowercases the rest
    assert samples[0].meta["answerable"] == 0
    metric = suite.metrics()[0]
    for s, a in zip(samples, ["Unanswerable", "night time medicine", "no"], strict=True):
        metric.update(s, a)
    values = metric.compute().values
    assert values["vqa_accuracy"].value == pytest.approx(200 / 3)
    assert values["vqa_accuracy/unanswerable"].value == pytest.approx(100.0)
    assert values["vqa_accuracy/yes/no"].value == pytest.approx(0.0)


def test_vizwiz_parquet_and_empty_answers(tmp_path: Path) -> None:
    hf = VizWizSuite(bl.vizwiz_parquet(tmp_path / "hf"))
    samples = hf.load_samples()
    assert samples[0].meta["answer_type"] == "unanswerable"  # from the 'category' column
    official = VizWizSuite(bl.vizwiz_official(tmp_path / "official")).load_samples()
    assert [(s.sample_id, s.text, s.references) for s in samples] == [
        (s.sample_id, s.text, s.references) for s in official
    ]
    # A question without answers scores 0, as in lmms-eval.
    root = tmp_path / "noanswers"
    bl.write_json(
        root / "val.json", [{"image": "VizWiz_val_00000009.jpg", "question": "What?", "answers": []}]
    )
    (root / "val").mkdir()
    (only,) = VizWizSuite(root).load_samples()
    assert VizWizSuite(root).metrics()[0].update(only, "unanswerable") == {"vqa_accuracy": 0.0}


def test_vizwiz_refuses_escaping_image_names(tmp_path: Path) -> None:
    root = bl.vizwiz_official(tmp_path)
    bl.write_json(root / "val.json", [{"image": "../../etc/passwd.jpg", "question": "q", "answers": []}])
    with pytest.raises(InputError, match="escapes the dataset root"):
        VizWizSuite(root).load_samples()


# ------------------------------------------------------------------------------------ GQA
def test_gqa_official_layout(tmp_path: Path) -> None:
    suite = GQASuite(bl.gqa_official(tmp_path))
    samples = suite.load_samples()
    assert [s.sample_id for s in samples] == ["20968379", "20968380", "201640614"]
    assert samples[0].text == "Do the shorts have dark color?" + VQA_SUFFIX
    assert samples[0].references == ("yes",) and samples[0].meta["structural"] == "verify"
    assert samples[0].image_paths == (str(tmp_path / "images" / "n288870.jpg"),)
    assert isinstance(suite.metrics()[0], ExactMatch)
    metric = suite.metrics()[0]
    for s, out in zip(samples, ["  Yes.\n", "left side", "Brown"], strict=True):
        metric.update(s, suite.extract_answer(out))
    values = metric.compute().values
    assert values["exact_match"].value == pytest.approx(200 / 3)
    assert values["exact_match/query"].value == 0.0 and values["exact_match/verify"].value == 100.0


def test_gqa_parquet_layout_joins_images(tmp_path: Path) -> None:
    official = GQASuite(bl.gqa_official(tmp_path / "official")).load_samples()
    suite = GQASuite(bl.gqa_parquet(tmp_path / "hf"))
    samples = suite.load_samples()
    assert [(s.sample_id, s.text, s.references, s.meta["structural"]) for s in samples] == [
        (s.sample_id, s.text, s.references, s.meta["structural"]) for s in official
    ]
    assert samples[0].image_paths == samples[1].image_paths  # same imageId
    colors = {img: bl.COLORS[k] for k, img in enumerate(sorted({r[1] for r in bl.GQA_ROWS}))}
    assert _color(samples[2].image_paths[0]) == colors["n161313"]
    no_images = GQASuite(bl.gqa_parquet(tmp_path / "noimg", with_images=False))
    with pytest.raises(InputError, match="testdev_balanced_images/testdev-\\*.parquet"):
        no_images.load_samples()


def test_gqa_missing_answer(tmp_path: Path) -> None:
    root = bl.gqa_official(tmp_path)
    path = root / "testdev_balanced_questions.json"
    data = json.loads(path.read_text())
    del data["20968380"]["answer"]
    path.write_text(json.dumps(data))
    with pytest.raises(InputError, match="question id '20968380' has no 'answer'"):
        GQASuite(root).load_samples()
