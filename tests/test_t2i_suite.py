"""The `t2i` suite: Shapes prompts and references, extractor choice, checks before the model, and an
end-to-end `mllm-bench run` whose metrics equal the metric functions applied to the saved images."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mllmbench.cli.main import main
from mllmbench.core.errors import ConfigError, MissingResourceError
from mllmbench.core.types import Capability, derive_seed
from mllmbench.suites import t2i_metrics
from mllmbench.suites.shapes import ensure_shapes
from mllmbench.suites.t2i import ShapesT2ISuite
from mllmbench.suites.t2i_metrics import (
    CLIP_MODEL_ENV,
    FID_EXTRACTOR_ENV,
    FID_MODE_ENV,
    ExtractorChoice,
    T2IMetricConfig,
    parse_extractors,
)

N_IMAGES = 10
"""Images of the small Shapes set these tests use (every image is a reference)."""
LIMIT = 4


@pytest.fixture(scope="module")
def small_shapes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ensure_shapes(tmp_path_factory.mktemp("shapes-t2i"), images=N_IMAGES)


@pytest.fixture(scope="module")
def encoders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Tiny random Inception (TorchScript), DINOv2 and CLIP stand-ins saved to disk."""
    from mllmbench.suites.metrics.tiny_encoders import (
        build_tiny_clip,
        build_tiny_dinov2,
        build_tiny_inception_torchscript,
    )

    root = tmp_path_factory.mktemp("encoders")
    return {
        "inception": build_tiny_inception_torchscript(root / "inception-2015-12-05.pt"),
        "dinov2": build_tiny_dinov2(root / "dinov2"),
        "clip": build_tiny_clip(root / "clip"),
    }


@pytest.fixture()
def no_weights(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """An environment where no Inception file can be found and nothing is configured."""
    import mllmbench.suites.metrics.inception_features as incf

    for var in (FID_EXTRACTOR_ENV, FID_MODE_ENV, CLIP_MODEL_ENV, "MLLMBENCH_INCEPTION_WEIGHTS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("MLLMBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(incf, "CLEANFID_DOWNLOAD_DIR", tmp_path / "no-cleanfid")


def test_samples_are_the_prompts_with_their_reference_images(
    small_shapes: Path, encoders: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLLMBENCH_INCEPTION_WEIGHTS", str(encoders["inception"]))
    suite = ShapesT2ISuite(small_shapes)
    assert suite.requires is Capability.GENERATE
    prompts = json.loads((small_shapes / "t2i" / "prompts.json").read_text())
    by_image = {a["image_id"]: a["caption"] for a in prompts["annotations"]}
    samples = suite.load_samples(limit=LIMIT)
    assert [s.sample_id for s in samples] == [str(i) for i in range(1, LIMIT + 1)]
    for s in samples:
        assert s.text == by_image[int(s.sample_id)] and s.image_paths == ()
        ref = Path(s.meta["reference_image"])
        assert ref == small_shapes / "images" / f"shapes_{int(s.sample_id):012d}.png" and ref.is_file()
    # The reference set is every image of the prompts file, whatever the limit.
    assert len(suite.reference_image_paths()) == N_IMAGES
    info = suite.scoring_info()
    assert info["fd_extractors"] == ["inception"] and info["fid_mode"] == "clean"


def test_extractor_choices_parse() -> None:
    assert parse_extractors("inception") == (ExtractorChoice("inception"),)
    assert parse_extractors(" inception , dinov2:/m/d ") == (
        ExtractorChoice("inception"),
        ExtractorChoice("dinov2", "/m/d"),
    )
    assert parse_extractors("none") == ()
    assert [c.fd_name for c in parse_extractors("clip:/c,dinov2:/d,inception")] == [
        "fd_clip",
        "fd_dinov2",
        "fid",
    ]
    assert [c.kid_name for c in parse_extractors("clip:/c,inception")] == ["kid_clip", "kid"]
    for bad in ("inceptionv3", "dinov2", "clip:", "inception,inception", "inception:/x", ""):
        with pytest.raises(ConfigError, match=FID_EXTRACTOR_ENV):
            parse_extractors(bad)
    with pytest.raises(ConfigError, match=FID_MODE_ENV):
        T2IMetricConfig.from_env({FID_MODE_ENV: "bilinear"})
    config = T2IMetricConfig.from_env({FID_EXTRACTOR_ENV: "dinov2:/d", FID_MODE_ENV: "legacy_pytorch"})
    assert config.extractors == (ExtractorChoice("dinov2", "/d"),) and config.mode == "legacy_pytorch"
    assert config.clip_model is None


def test_missing_files_are_named_before_anything_runs(
    small_shapes: Path, no_weights: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with pytest.raises(MissingResourceError, match=r"inception-2015-12-05\.pt") as err:
        ShapesT2ISuite(small_shapes).load_samples()
    assert FID_EXTRACTOR_ENV in str(err.value)
    monkeypatch.setenv(FID_EXTRACTOR_ENV, f"dinov2:{tmp_path / 'no-dino'}")
    with pytest.raises(MissingResourceError, match="no-dino"):
        ShapesT2ISuite(small_shapes).load_samples()
    monkeypatch.setenv(FID_EXTRACTOR_ENV, "none")
    monkeypatch.setenv(CLIP_MODEL_ENV, str(tmp_path / "no-clip"))
    with pytest.raises(MissingResourceError, match="no-clip"):
        ShapesT2ISuite(small_shapes).load_samples()
    monkeypatch.delenv(CLIP_MODEL_ENV)
    assert len(ShapesT2ISuite(small_shapes).load_samples(limit=2)) == 2


def test_run_refuses_before_loading_the_model_when_inception_is_missing(
    small_shapes: Path, no_weights: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # An empty directory is not a diffusers checkpoint: had the adapter been loaded first, the
    # error would be about model_index.json.
    model = tmp_path / "not-a-pipeline"
    model.mkdir()
    code = main(
        ["run", "--no-progress", "--adapter", "diffusion", "--model", str(model), "--suite", "t2i"]
        + ["--data", str(small_shapes), "--out", str(tmp_path / "run")]
    )
    err = capsys.readouterr().err
    assert code == 2 and "inception-2015-12-05.pt" in err and "model_index.json" not in err


def test_generation_suite_on_an_understanding_adapter_is_refused(
    small_shapes: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["run", "--no-progress", "--adapter", "llava", "--model", str(tmp_path / "nowhere"), "--suite", "t2i"]
        + ["--data", str(small_shapes), "--out", str(tmp_path / "run")]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "suite 't2i' needs the generate capability" in err and "supports only: understand" in err
    assert not (tmp_path / "run").exists()


def test_seeds_depend_on_run_seed_suite_and_sample() -> None:
    seeds = {
        derive_seed(s, suite, sid) for s in (0, 1) for suite in ("t2i", "coco_t2i") for sid in ("1", "2")
    }
    assert len(seeds) == 8 and all(0 <= x < 2**31 for x in seeds)
    assert derive_seed(0, "t2i", "1") == derive_seed(0, "t2i", "1")


def test_efficiency_from_records() -> None:
    from mllmbench.suites.base import Sample

    metric = t2i_metrics.GenerationEfficiency()
    metric.set_run_context({"device": "cpu"})
    records = [
        {
            "timing": {
                "call_seconds": 2.0,
                "call_requests": 2,
                "batch_size": 2,
                "stage_seconds": {"rewrite": 0.5, "draw": 1.5},
            },
            "generation": {"nfe": 100},
            "generated_images": ["a.png"],
            "tokens": {"image": 0},
            "memory": {"peak_rss_bytes": 3 * 2**20},
        },
        {
            "timing": {
                "call_seconds": 2.0,
                "call_requests": 2,
                "batch_size": 2,
                "stage_seconds": {"rewrite": 0.5, "draw": 1.5},
            },
            "generation": {"nfe": 100},
            "generated_images": ["b.png"],
            "tokens": {"image": 0},
            "memory": {"peak_rss_bytes": 5 * 2**20},
        },
        {
            "timing": {
                "call_seconds": 1.0,
                "call_requests": 1,
                "batch_size": 1,
                "stage_seconds": {"rewrite": 0.2, "draw": 0.8},
            },
            "generation": {"nfe": 40},
            "generated_images": ["c.png"],
            "tokens": {"image": 0},
            "memory": {"peak_rss_bytes": 4 * 2**20},
        },
    ]
    for k, rec in enumerate(records):
        metric.update_record(Sample(str(k), (), "p"), rec)
    values = metric.compute().values
    # Two calls: 2 images in 2 s and 1 image in 1 s -> 3 images in 3 s.
    assert values["images_per_second"].value == pytest.approx(1.0)
    assert values["nfe"].value == pytest.approx(80.0) and values["nfe"].higher_is_better is False
    assert values["seconds_per_image_rewrite"].value == pytest.approx((0.5 + 0.2) / 3)
    assert values["seconds_per_image_draw"].value == pytest.approx((1.5 + 0.8) / 3)
    assert values["image_tokens"].value == 0.0
    assert values["peak_rss"].value == pytest.approx(5.0) and values["peak_rss"].unit == "MiB"
    assert values["images_per_second"].context == {"device": "cpu"}


# --- end to end ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_sd(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from mllmbench.adapters.diffusion import DiffusionAdapter

    return DiffusionAdapter.build_tiny(tmp_path_factory.mktemp("tiny-sd-run"), seed=0)


@pytest.fixture(scope="module")
def scoring_env(encoders: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Inception + DINOv2 distances and the CLIP score, all from the tiny encoders; a private cache."""
    return {
        "MLLMBENCH_INCEPTION_WEIGHTS": str(encoders["inception"]),
        FID_EXTRACTOR_ENV: f"inception,dinov2:{encoders['dinov2']}",
        CLIP_MODEL_ENV: str(encoders["clip"]),
        "MLLMBENCH_CACHE": str(tmp_path_factory.mktemp("t2i-cache")),
    }


def _run_t2i(model: Path, data: Path, out: Path, env: dict[str, str], *extra: str) -> int:
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        return main(
            ["run", "--no-progress", "--adapter", "diffusion", "--model", str(model), "--suite", "t2i"]
            + ["--data", str(data), "--limit", str(LIMIT), "--batch-size", "2", "--out", str(out), *extra]
        )


@pytest.fixture(scope="module")
def t2i_run(
    tiny_sd: Path, small_shapes: Path, scoring_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    out = tmp_path_factory.mktemp("t2i-run") / "run"
    assert _run_t2i(tiny_sd, small_shapes, out, scoring_env) == 0
    return out


def _lines(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_images_are_saved_and_linked_with_seed_and_knobs(t2i_run: Path) -> None:
    from PIL import Image

    lines = _lines(t2i_run)
    assert [r["sample_id"] for r in lines] == [str(i) for i in range(1, LIMIT + 1)]
    for rec in lines:
        sid = rec["sample_id"]
        assert rec["error"] is None and rec["suite"] == "t2i"
        assert rec["generated_images"] == [f"images/t2i/{sid}_0.png"] and rec["answer"] is None
        with Image.open(t2i_run / rec["generated_images"][0]) as im:
            assert im.format == "PNG" and im.size == (32, 32)
        assert rec["seed"] == derive_seed(0, "t2i", sid)
        settings = rec["generation"]["settings"]
        assert settings["seed"] == rec["seed"] and settings["num_inference_steps"] == 50
        assert settings["guidance_scale"] == 7.5 and settings["scheduler"] == "DDIMScheduler"
        assert rec["generation"]["nfe"] == 100 and rec["generation"]["guidance_multiplier"] == 2
        assert rec["prompt"] == rec["text"] and rec["output"] is None
        assert rec["timing"]["call_requests"] == 2 and rec["timing"]["stage_seconds"]["draw"] > 0
        assert rec["memory"]["peak_rss_bytes"] > 0
        assert Path(rec["meta"]["reference_image"]).is_file()
    run = json.loads((t2i_run / "run.json").read_text())
    assert run["status"] == "ok" and run["adapter"]["paradigm"]["generation"] == "diffusion"
    assert run["suites"]["t2i"]["requires"] == "generate"
    assert run["suites"]["t2i"]["scoring"]["fd_extractors"][0] == "inception"


@pytest.mark.slow
def test_metrics_equal_the_metric_functions_on_the_saved_images(
    t2i_run: Path, small_shapes: Path, encoders: dict[str, Path], scoring_env: dict[str, str]
) -> None:
    """DINOv2 FD/KID and both CLIP scores recomputed from the saved files with the metric functions."""
    from mllmbench.core.images import open_rgb
    from mllmbench.suites.base import Sample
    from mllmbench.suites.metrics.clip_score import CLIPSCORE, TORCHMETRICS, CLIPScoreMetric, ClipScorer
    from mllmbench.suites.metrics.fid import FIDMetric, KIDMetric
    from mllmbench.suites.metrics.image_features import Dinov2Extractor, folder_features

    metrics = json.loads((t2i_run / "run.json").read_text())["suites"]["t2i"]["metrics"]
    lines = _lines(t2i_run)
    generated = [np.array(open_rgb(t2i_run / r["generated_images"][0])) for r in lines]
    extractor = Dinov2Extractor(encoders["dinov2"], device="cpu")
    reference = folder_features(small_shapes / "images", extractor, keep_features=True)
    assert reference.n == N_IMAGES
    fid, kid = FIDMetric(extractor, reference), KIDMetric(extractor, reference)
    fid.update_images(generated)
    kid.update_images(generated)
    assert metrics["fd_dinov2"]["value"] == pytest.approx(fid.compute().values["fid"].value, rel=1e-9)
    assert metrics["kid_dinov2"]["value"] == pytest.approx(
        kid.compute().values["kid"].value, rel=1e-9, abs=1e-12
    )
    assert metrics["fd_dinov2"]["n"] == LIMIT and metrics["fd_dinov2"]["higher_is_better"] is False
    assert metrics["fd_dinov2"]["context"]["extractor"]["name"] == "dinov2"
    assert metrics["fid"]["context"]["extractor"]["name"] == "inception_v3_tf2015"
    assert metrics["fid"]["context"]["fid_mode"] == "clean"
    scorer = ClipScorer(encoders["clip"], device="cpu")
    for name, convention in (("clip_score", TORCHMETRICS), ("clipscore", CLIPSCORE)):
        direct = CLIPScoreMetric(scorer, convention)
        for rec in lines:
            direct.update(
                Sample(rec["sample_id"], (), rec["text"]), str(t2i_run / rec["generated_images"][0])
            )
        assert metrics[name]["value"] == pytest.approx(direct.compute().values["clip_score"].value, rel=1e-9)
        assert metrics[name]["context"]["convention"]["name"] == convention.name
    for name in ("images_per_second", "nfe", "image_tokens", "seconds_per_image_draw", "peak_rss"):
        assert name in metrics, name
    assert metrics["nfe"]["value"] == 100 and metrics["image_tokens"]["value"] == 0
    late = [json.loads(x) for x in (t2i_run / "sample_scores.jsonl").read_text().splitlines()]
    assert {r["sample_id"] for r in late} == {r["sample_id"] for r in lines}
    judged = [r for r in late if "shapes_eval_correct" in r["scores"]]
    assert all({"clip_score", "clipscore"} <= r["scores"].keys() for r in late if r not in judged)
    # The Shapes judge's decision per sample, and its scores (percent) beside FID/KID.
    assert {r["sample_id"] for r in judged} == {r["sample_id"] for r in lines}
    assert metrics["shapes_eval"]["unit"] == "%" and metrics["shapes_eval"]["n"] == LIMIT
    assert "fd_shapes_judge" in metrics and any(k.startswith("shapes_eval/") for k in metrics)
    # KID on the judge's features: clean-fid's kernel distance (tested against its golden values).
    from mllmbench.core.images import open_rgb
    from mllmbench.suites.metrics.frechet import kernel_distance
    from mllmbench.suites.metrics.shapes_eval import KID_SEED
    from mllmbench.suites.metrics.shapes_judge.decide import ShapesJudge

    judge = ShapesJudge()
    fake = judge.features([open_rgb(t2i_run / rec["generated_images"][0]) for rec in lines])
    real = judge.features([open_rgb(p) for p in sorted((small_shapes / "images").glob("*.png"))])
    assert metrics["kid_shapes_judge"]["value"] == pytest.approx(
        kernel_distance(fake, real, seed=KID_SEED), rel=1e-6
    )
    assert metrics["kid_shapes_judge"]["higher_is_better"] is False
    # Reference statistics were cached, one entry per extractor.
    cached = sorted(p.name for p in (Path(scoring_env["MLLMBENCH_CACHE"]) / "fid_stats").glob("*.npz"))
    assert len(cached) == 2 and any("inception" in c for c in cached) and any("dinov2" in c for c in cached)


@pytest.mark.slow
def test_fid_and_kid_equal_score_fid_on_the_folders(
    t2i_run: Path, small_shapes: Path, encoders: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """clean-fid's folder protocol (`mllm-bench score fid`): reference folder vs generated folder."""
    capsys.readouterr()
    code = main(
        ["score", "fid", "--real", str(small_shapes / "images"), "--fake", str(t2i_run / "images" / "t2i")]
        + [
            "--inception-weights",
            str(encoders["inception"]),
            "--kid",
            "--no-cache",
            "--device",
            "cpu",
            "--json",
        ]
    )
    assert code == 0
    folder = json.loads(capsys.readouterr().out)
    assert folder["n_real"] == N_IMAGES and folder["n_fake"] == LIMIT and folder["mode"] == "clean"
    metrics = json.loads((t2i_run / "run.json").read_text())["suites"]["t2i"]["metrics"]
    assert metrics["fid"]["value"] == pytest.approx(folder["fid"], rel=1e-9)
    assert metrics["kid"]["value"] == pytest.approx(folder["kid"], rel=1e-9, abs=1e-12)


@pytest.mark.slow
def test_same_seed_same_image_and_resume_draws_nothing(
    t2i_run: Path, tiny_sd: Path, small_shapes: Path, tmp_path: Path
) -> None:
    env = {FID_EXTRACTOR_ENV: "none", "MLLMBENCH_CACHE": str(tmp_path / "cache")}
    again = tmp_path / "again"
    assert _run_t2i(tiny_sd, small_shapes, again, env, "--no-report") == 0
    for rec in _lines(t2i_run):
        assert (again / rec["generated_images"][0]).read_bytes() == (
            t2i_run / rec["generated_images"][0]
        ).read_bytes()
    notes = json.loads((again / "run.json").read_text())["suites"]["t2i"]["notes"]
    assert "clip_score" in notes and CLIP_MODEL_ENV in notes["clip_score"]
    # Running the same command again resumes: every sample is done, no image is redrawn.
    stamps = {p: p.stat().st_mtime_ns for p in (again / "images" / "t2i").iterdir()}
    assert _run_t2i(tiny_sd, small_shapes, again, env, "--no-report") == 0
    assert {p: p.stat().st_mtime_ns for p in (again / "images" / "t2i").iterdir()} == stamps
    assert len(_lines(again)) == LIMIT


@pytest.mark.slow
def test_report_shows_the_gallery(t2i_run: Path) -> None:
    html = (t2i_run / "report.html").read_text()
    gallery = html[html.index('id="gallery"') : html.index("<h2>Samples</h2>")]
    assert gallery.count("<tr>") == LIMIT + 1
    assert gallery.count('alt="reference ') == LIMIT
    assert gallery.count("data:image/png;base64,") == 2 * LIMIT
    assert "seed " in gallery and "steps=50 guidance=7.5 32x32 DDIMScheduler nfe=100" in gallery


def test_fd_with_a_local_clip_extractor_is_named_and_exact(
    small_shapes: Path, encoders: dict[str, Path], tmp_path: Path
) -> None:
    """``clip:PATH``: values named fd_clip / kid_clip, equal to the metric functions on the same files."""
    from mllmbench.core.images import open_rgb
    from mllmbench.suites.base import Sample
    from mllmbench.suites.metrics.fid import FIDMetric, KIDMetric
    from mllmbench.suites.metrics.image_features import ClipImageExtractor, folder_features

    refs = sorted((small_shapes / "images").glob("*.png"))
    generated = refs[:3] + refs[-2:]  # stand-ins for generated files
    reference_calls = []

    def reference(extractor):  # type: ignore[no-untyped-def]
        reference_calls.append(extractor.info.name)
        return folder_features(small_shapes / "images", extractor, keep_features=True)

    metric = t2i_metrics.FrechetKernelMetric(
        ExtractorChoice("clip", str(encoders["clip"])), "clean", reference
    )
    half = t2i_metrics.FrechetKernelMetric(ExtractorChoice("clip", str(encoders["clip"])), "clean", reference)
    for k, path in enumerate(generated):
        assert (metric if k < 2 else half).update(Sample(str(k), (), "p"), str(path)) == {}
    metric.merge(half)
    result = metric.compute()
    assert metric.name == "fd_clip" and set(result.values) == {"fd_clip", "kid_clip"}
    assert reference_calls == ["clip"]  # one extractor, one reference computation for both values
    extractor = ClipImageExtractor(encoders["clip"], device="cpu")
    ref = folder_features(small_shapes / "images", extractor, keep_features=True)
    images = [np.array(open_rgb(p)) for p in generated]
    fid, kid = FIDMetric(extractor, ref), KIDMetric(extractor, ref)
    fid.update_images(images)
    kid.update_images(images)
    assert result.values["fd_clip"].value == pytest.approx(fid.compute().values["fid"].value, rel=1e-9)
    assert result.values["kid_clip"].value == pytest.approx(
        kid.compute().values["kid"].value, rel=1e-9, abs=1e-12
    )
    assert result.values["fd_clip"].context["extractor_spec"] == f"clip:{encoders['clip']}"
    assert "fid_mode" not in result.values["fd_clip"].context
    # A generated file that cannot be read is reported, not raised.
    broken = t2i_metrics.FrechetKernelMetric(
        ExtractorChoice("clip", str(encoders["clip"])), "clean", reference
    )
    broken.update(Sample("x", (), "p"), str(tmp_path / "missing.png"))
    assert "missing.png" in broken.compute().notes["fd_clip"]


@pytest.mark.slow
def test_generation_knobs_from_the_command_line_reach_the_pipeline(
    tiny_sd: Path, small_shapes: Path, scoring_env: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "knobs"
    extra = ("--steps", "3", "--guidance", "1.0", "--image-size", "16", "--limit", "1")
    assert _run_t2i(tiny_sd, small_shapes, out, {**scoring_env, FID_EXTRACTOR_ENV: "none"}, *extra) == 0
    from PIL import Image

    rec = _lines(out)[0]
    settings = rec["generation"]["settings"]
    assert settings["num_inference_steps"] == 3 and settings["guidance_scale"] == 1.0
    assert rec["generation"]["nfe"] == 3  # guidance 1.0 turns classifier-free guidance off
    with Image.open(out / rec["generated_images"][0]) as im:
        assert im.size == (16, 16)
    config = json.loads((out / "run.json").read_text())["config"]
    assert (config["steps"], config["guidance"], config["image_size"]) == (3, 1.0, 16)
