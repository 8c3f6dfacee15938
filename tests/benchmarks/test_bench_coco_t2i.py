"""coco_t2i: the seeded 30k prompt list, the reference images, and the deferred FID / CLIP score."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import benchmark_layouts as bl
import numpy as np
import pytest

from mllmbench.core.errors import ConfigError
from mllmbench.core.types import Capability
from mllmbench.suites.base import Sample
from mllmbench.suites.benchmarks.coco_t2i import CocoT2ISuite
from mllmbench.suites.formats.coco_captions import load_coco_captions
from mllmbench.suites.formats.coco_prompts import select_prompts
from mllmbench.suites.metrics.deferred_image_metrics import (
    CLIP_MODEL_ENV,
    DeferredCLIPScore,
    DeferredFID,
    center_crop_resize,
)


def _reference_selection(captions: dict[Any, list[str]], n: int, seed: int) -> list[tuple[Any, str]]:
    """The documented rule, written out independently."""

    def h(text: str) -> str:
        return hashlib.sha256(text.encode()).hexdigest()

    order = sorted(captions, key=lambda i: h(f"{seed}:{i}"))[:n]
    return [(i, min(captions[i], key=lambda c: h(f"{seed}:{i}:{c}"))) for i in order]


def test_prompt_list_follows_the_documented_rule(tmp_path: Path) -> None:
    root = bl.coco_t2i_official(tmp_path, n_images=6)
    data = load_coco_captions(root / "annotations" / "captions_val2014.json", image_dir=root / "val2014")
    captions = {im.image_id: list(im.references) for im in data.images}
    for n, seed in ((4, 0), (6, 0), (4, 7), (30_000, 1)):
        got = [(p.image_id, p.caption) for p in select_prompts(data, n, seed)]
        assert got == _reference_selection(captions, n, seed)
    assert select_prompts(data, 4, 0) != select_prompts(data, 4, 1)
    # A larger list extends a smaller one.
    assert select_prompts(data, 6, 3)[:4] == select_prompts(data, 4, 3)


def test_prompt_list_ignores_file_order(tmp_path: Path) -> None:
    root = bl.coco_t2i_official(tmp_path, n_images=6)
    path = root / "annotations" / "captions_val2014.json"
    before = [(p.image_id, p.caption) for p in CocoT2ISuite(root).prompt_list()]
    data = json.loads(path.read_text())
    data["images"].reverse()
    data["annotations"].reverse()
    path.write_text(json.dumps(data))
    assert [(p.image_id, p.caption) for p in CocoT2ISuite(root).prompt_list()] == before


def test_samples_and_reference_images(tmp_path: Path) -> None:
    root = bl.coco_t2i_official(tmp_path, n_images=6)
    suite = CocoT2ISuite(root)
    assert suite.requires is Capability.GENERATE
    samples = suite.load_samples()
    prompts = suite.prompt_list()
    assert len(samples) == 6 and [s.text for s in samples] == [p.caption for p in prompts]
    assert all(s.image_paths == () for s in samples)
    ref = Path(samples[0].meta["reference_image"])
    assert ref.is_file() and ref.parent == root / "val2014"
    assert suite.reference_image_paths() == [Path(s.meta["reference_image"]) for s in samples]
    assert [s.sample_id for s in suite.load_samples(limit=2)] == [s.sample_id for s in samples[:2]]
    info = suite.scoring_info()
    assert "30000" in info["protocol"] and "seed 0" in info["protocol"]
    with pytest.raises(
        ConfigError,
        match=r"captions_val2014\.json \(or annotations/captions_val2014\.json\) from the COCO download page",
    ):
        CocoT2ISuite()


def test_center_crop_resize(tmp_path: Path) -> None:
    from PIL import Image

    img = Image.new("RGB", (40, 20), (255, 0, 0))
    img.paste((0, 0, 255), (10, 0, 30, 20))  # the central square is blue
    img.save(tmp_path / "x.png")
    out = center_crop_resize(tmp_path / "x.png", 8)
    assert out.shape == (8, 8, 3) and out.dtype == np.uint8
    assert (out == np.array([0, 0, 255], dtype=np.uint8)).all()


def _generated(tmp_path: Path, suite: CocoT2ISuite) -> tuple[list[Sample], list[Path]]:
    """Pretend generations: each sample's image is a recoloured 32x32 square."""
    samples = suite.load_samples()
    paths = []
    for k, s in enumerate(samples):
        paths.append(bl.write_jpeg(tmp_path / "gen" / f"{s.sample_id}.jpg", bl.COLORS[(k + 1) % 6], (32, 32)))
    return samples, paths


@pytest.mark.slow
def test_deferred_fid_equals_fid_metric_on_the_same_features(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mllmbench.suites.metrics.fid import FIDMetric
    from mllmbench.suites.metrics.frechet import FeatureStats
    from mllmbench.suites.metrics.image_features import Dinov2Extractor
    from mllmbench.suites.metrics.tiny_encoders import build_tiny_dinov2

    monkeypatch.setenv("MLLMBENCH_CACHE", str(tmp_path / "cache"))
    # A 32-d stand-in extractor keeps the test fast; the suite's default is Inception (below).
    ext = Dinov2Extractor(build_tiny_dinov2(tmp_path / "dino"), resolution=56, device="cpu")
    suite = CocoT2ISuite(bl.coco_t2i_official(tmp_path / "coco", n_images=6))
    samples, paths = _generated(tmp_path, suite)
    assert isinstance(suite.metrics()[0], DeferredFID) and isinstance(suite.metrics()[1], DeferredCLIPScore)
    fid_metric = DeferredFID(
        suite.reference_stats, resolution=suite.reference_resolution, extractor=lambda: ext
    )
    half = DeferredFID(suite.reference_stats, resolution=suite.reference_resolution, extractor=lambda: ext)
    for k, (s, p) in enumerate(zip(samples, paths, strict=True)):
        assert (fid_metric if k < 3 else half).update(s, str(p)) == {}
    fid_metric.merge(half)
    result = fid_metric.compute()
    # Independent path: extract both sets by hand with the same extractor and preprocessing.
    ref = FeatureStats(ext.dim)
    ref.update(ext([center_crop_resize(p, 256) for p in suite.reference_image_paths()]))
    direct = FIDMetric(ext, ref)
    direct.update_images([center_crop_resize(p, 256) for p in paths])
    expected = direct.compute().values["fid"].value
    assert result.values["fid"].value == pytest.approx(expected, rel=1e-9)
    assert result.values["fid"].n == 6 and result.values["fid"].higher_is_better is False
    # The reference statistics were cached under the prompt list's fingerprint.
    cached = list((tmp_path / "cache" / "fid_stats").glob("*.npz"))
    assert len(cached) == 1 and "coco2014-val-captions" in cached[0].name


def test_default_fid_extractor_is_clean_inception(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mllmbench.suites.metrics.deferred_image_metrics import default_inception
    from mllmbench.suites.metrics.tiny_encoders import build_tiny_inception_torchscript

    weights = build_tiny_inception_torchscript(tmp_path / "inception.pt")
    monkeypatch.setenv("MLLMBENCH_INCEPTION_WEIGHTS", str(weights))
    ext = default_inception()
    assert ext.info.name == "inception_v3_tf2015" and ext.info.preprocessing == "clean"
    assert ext.info.weights_path == str(weights)


def test_metrics_report_missing_weights_instead_of_failing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLLMBENCH_INCEPTION_WEIGHTS", raising=False)
    monkeypatch.delenv(CLIP_MODEL_ENV, raising=False)
    monkeypatch.setenv("MLLMBENCH_CACHE", str(tmp_path / "cache"))
    import mllmbench.suites.metrics.inception_features as incf

    monkeypatch.setattr(incf, "CLEANFID_DOWNLOAD_DIR", tmp_path / "no-cleanfid")
    suite = CocoT2ISuite(bl.coco_t2i_official(tmp_path / "coco", n_images=3))
    samples, paths = _generated(tmp_path, suite)
    fid_metric, clip_metric = suite.metrics()
    for s, p in zip(samples, paths, strict=True):
        fid_metric.update(s, str(p))
        clip_metric.update(s, str(p))
    fid = fid_metric.compute()
    assert fid.values == {} and "inception-2015-12-05.pt" in fid.notes["fid"]
    clip = clip_metric.compute()
    assert clip.values == {} and CLIP_MODEL_ENV in clip.notes["clip_score"]
    monkeypatch.setenv(CLIP_MODEL_ENV, str(tmp_path / "no-clip"))
    missing = DeferredCLIPScore()
    missing.update(samples[0], str(paths[0]))
    assert "no-clip" in missing.compute().notes["clip_score"]


def test_deferred_clip_score_equals_clip_score_metric(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mllmbench.suites.metrics.clip_score import CLIPScoreMetric, ClipScorer
    from mllmbench.suites.metrics.tiny_encoders import build_tiny_clip

    clip_dir = build_tiny_clip(tmp_path / "clip")
    monkeypatch.setenv(CLIP_MODEL_ENV, str(clip_dir))
    suite = CocoT2ISuite(bl.coco_t2i_official(tmp_path / "coco", n_images=4))
    samples, paths = _generated(tmp_path, suite)
    metric = suite.metrics()[1]
    direct = CLIPScoreMetric(ClipScorer(clip_dir))
    for s, p in zip(samples, paths, strict=True):
        metric.update(s, str(p))
        direct.update(s, str(p))
    got, want = metric.compute(), direct.compute()
    assert got.values["clip_score"].value == pytest.approx(want.values["clip_score"].value, rel=1e-9)
    assert got.per_sample.keys() == {s.sample_id for s in samples}
