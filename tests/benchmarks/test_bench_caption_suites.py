"""COCO Karpathy, COCO 2017, NoCaps and Flickr30k suites: both layouts and clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import benchmark_layouts as bl
import pytest
from PIL import Image

from mllmbench.core.errors import ConfigError, InputError
from mllmbench.suites.benchmarks.coco2017_cap import Coco2017CaptionSuite
from mllmbench.suites.benchmarks.coco_karpathy import CocoKarpathySuite
from mllmbench.suites.benchmarks.flickr30k import Flickr30kSuite
from mllmbench.suites.benchmarks.nocaps import NoCapsSuite
from mllmbench.suites.metrics.caption import CaptionMetrics
from mllmbench.suites.metrics.caption_domains import DomainCaptionMetrics

CAPTION_PROMPT = "Provide a one-sentence caption for the provided image."


def _color(path: str) -> tuple[int, int, int]:
    with Image.open(path) as im:
        pixel = im.convert("RGB").getpixel((4, 4))
    assert isinstance(pixel, tuple)
    return (int(pixel[0]), int(pixel[1]), int(pixel[2]))


# ------------------------------------------------------------------------------ COCO Karpathy
def test_karpathy_official_test_split(tmp_path: Path) -> None:
    suite = CocoKarpathySuite(bl.karpathy_coco(tmp_path))
    samples = suite.load_samples()
    assert [s.sample_id for s in samples] == ["391895", "522418", "184613"]  # train image left out
    s = samples[0]
    assert s.text == "Describe the image briefly."
    assert s.references == tuple(bl.CAPTIONS[391895])
    assert s.image_paths == (str(tmp_path / "val2014" / "COCO_val2014_000000391895.jpg"),)
    assert s.meta["file_name"] == "val2014/COCO_val2014_000000391895.jpg"
    assert isinstance(suite.metrics()[0], CaptionMetrics)
    assert suite.extract_answer("\n  A man on a bike.  \nSecond line") == "A man on a bike."
    info = suite.scoring_info()
    assert info["prompt"] == "Describe the image briefly." and info["files"] == ["dataset_coco.json"]


def test_karpathy_parquet_uses_local_images(tmp_path: Path) -> None:
    official = CocoKarpathySuite(bl.karpathy_coco(tmp_path / "a")).load_samples()
    suite = CocoKarpathySuite(bl.karpathy_coco_parquet(tmp_path / "b"))
    samples = suite.load_samples()
    assert [(s.sample_id, s.references, s.text) for s in samples] == [
        (s.sample_id, s.references, s.text) for s in official
    ]
    assert samples[1].image_paths == (str(tmp_path / "b" / "val2014" / "COCO_val2014_000000522418.jpg"),)
    for p in (tmp_path / "b" / "val2014").iterdir():
        p.unlink()
    (tmp_path / "b" / "val2014").rmdir()
    with pytest.raises(InputError, match="hold image URLs only.*val2014/"):
        CocoKarpathySuite(tmp_path / "b").load_samples()


def test_karpathy_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"dataset_coco\.json from Karpathy's caption_datasets\.zip"):
        CocoKarpathySuite()
    root = bl.karpathy_coco(tmp_path, with_images=False)
    with pytest.raises(InputError, match=r"lacks val2014/ from COCO 2014 val images"):
        CocoKarpathySuite(root).load_samples()
    (root / "val2014").mkdir()
    path = root / "dataset_coco.json"
    data = json.loads(path.read_text())
    for im in data["images"]:
        im["split"] = "restval"
    path.write_text(json.dumps(data))
    with pytest.raises(InputError, match=r"no image in split 'test' \(splits present: restval\)"):
        CocoKarpathySuite(root).load_samples()
    data["images"][0]["split"] = "test"
    data["images"][0]["sentences"][1] = {"tokens": []}
    path.write_text(json.dumps(data))
    with pytest.raises(InputError, match="image id 391895, sentence 1 has no 'raw'"):
        CocoKarpathySuite(root).load_samples()
    data["images"][0]["sentences"] = []
    data["images"][0]["filepath"] = "../../elsewhere"
    path.write_text(json.dumps(data))
    with pytest.raises(InputError, match="image id 391895 has no sentences"):
        CocoKarpathySuite(root).load_samples()
    data["images"][0]["sentences"] = [{"raw": "x"}]
    path.write_text(json.dumps(data))
    with pytest.raises(InputError, match="escapes the dataset root"):
        CocoKarpathySuite(root).load_samples()


# ------------------------------------------------------------------------------ COCO 2017
def test_coco2017_both_layouts(tmp_path: Path) -> None:
    official = Coco2017CaptionSuite(bl.coco2017_official(tmp_path / "a"))
    a = official.load_samples()
    hf = Coco2017CaptionSuite(bl.coco2017_parquet(tmp_path / "b"))
    b = hf.load_samples()
    assert [(s.sample_id, s.references, s.text) for s in a] == [
        (s.sample_id, s.references, s.text) for s in b
    ]
    assert a[0].text == CAPTION_PROMPT
    assert [_color(s.image_paths[0]) for s in b] == bl.COLORS[:4]
    assert official.scoring_info()["files"] == ["captions_val2017.json"]


# ------------------------------------------------------------------------------ NoCaps
@pytest.mark.parametrize("images_dir", ["images", "validation"])
def test_nocaps_official_layout_with_domains(tmp_path: Path, images_dir: str) -> None:
    suite = NoCapsSuite(bl.nocaps_official(tmp_path, images_dir))
    samples = suite.load_samples()
    assert [s.sample_id for s in samples] == ["0", "1", "2", "3"]
    assert [s.meta["domain"] for s in samples] == [d for _, _, d, _ in bl.NOCAPS]
    assert samples[0].image_paths == (str(tmp_path / images_dir / "0013ea2087020901.jpg"),)
    assert samples[0].text == CAPTION_PROMPT
    metric = suite.metrics()[0]
    assert isinstance(metric, DomainCaptionMetrics) and metric.domain_key == "domain"
    assert suite.scoring_info()["domains"] == "nocaps_val_4500_captions.json"


def test_nocaps_parquet_domains(tmp_path: Path) -> None:
    with_col = NoCapsSuite(bl.nocaps_parquet(tmp_path / "a", domain_column=True))
    assert [s.meta["domain"] for s in with_col.load_samples()] == [d for _, _, d, _ in bl.NOCAPS]
    assert with_col.scoring_info()["domains"] == "parquet column 'image_domain'"
    # Without a domain column, the official captions file beside the parquet files gives them.
    root = bl.nocaps_parquet(tmp_path / "b")
    bl.nocaps_official(root, with_images=False)
    suite = NoCapsSuite(root)
    assert suite.layout()[0] == "hf_parquet"
    assert [s.meta["domain"] for s in suite.load_samples()] == [d for _, _, d, _ in bl.NOCAPS]
    bare = NoCapsSuite(bl.nocaps_parquet(tmp_path / "c"))
    assert {s.meta["domain"] for s in bare.load_samples()} == {""}
    assert bare.scoring_info()["domains"].startswith("none")


def test_nocaps_unknown_domain(tmp_path: Path) -> None:
    root = bl.nocaps_official(tmp_path)
    path = root / "nocaps_val_4500_captions.json"
    data = json.loads(path.read_text())
    data["images"][2]["domain"] = "far-domain"
    path.write_text(json.dumps(data))
    with pytest.raises(InputError, match="image id 2: unknown domain 'far-domain'"):
        NoCapsSuite(root).load_samples()


# ------------------------------------------------------------------------------ Flickr30k
def test_flickr30k_both_layouts(tmp_path: Path) -> None:
    official = Flickr30kSuite(bl.karpathy_flickr(tmp_path / "a"))
    a = official.load_samples()
    assert [s.sample_id for s in a] == ["1000092795", "10002456"]  # Karpathy test split only
    assert a[0].image_paths == (str(tmp_path / "a" / "flickr30k-images" / "1000092795.jpg"),)
    assert a[0].references == tuple(bl.FLICKR["1000092795"]) and a[0].text == CAPTION_PROMPT
    assert official.scoring_info()["image_set"].startswith("Karpathy test")
    hf = Flickr30kSuite(bl.flickr_parquet(tmp_path / "b"))
    b = hf.load_samples()
    assert len(b) == 3 and b[0].references == a[0].references
    assert hf.scoring_info()["image_set"].startswith("lmms-lab/flickr30k")
    with pytest.raises(InputError, match="flickr30k-images/ from the Flickr30k images"):
        Flickr30kSuite(tmp_path).load_samples()
