"""The Shapes video set (`mllm-bench data shapes-video`) and the ``shapes_video`` suite."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mllmbench.cli.main import main
from mllmbench.core.errors import InputError
from mllmbench.core.video import decode_video
from mllmbench.suites import shapes_render, shapes_video
from mllmbench.suites.shapes_video_suite import ShapesVideoSuite


@pytest.fixture(scope="module")
def video_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("shapes-video") / "set"
    assert main(["data", "shapes-video", "--out", str(out), "--videos", "6", "--seed", "5"]) == 0
    return out


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes_prefix_property_other_seed_differs(tmp_path: Path, video_dir: Path) -> None:
    again = tmp_path / "again"
    shapes_video.generate_shapes_video(again, videos=6, seed=5)
    assert _tree(again) == _tree(video_dir)
    few = tmp_path / "few"
    shapes_video.generate_shapes_video(few, videos=2, seed=5)
    for name in ("shapes_video_000001.mp4", "shapes_video_000002.mp4"):
        assert (few / "videos" / name).read_bytes() == (video_dir / "videos" / name).read_bytes()
    other = tmp_path / "other"
    shapes_video.generate_shapes_video(other, videos=2, seed=6)
    assert (other / "questions.json").read_bytes() != (few / "questions.json").read_bytes()


def _mask(frame, rgb: tuple[int, int, int]) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Pixels within a lossy-codec tolerance of `rgb`."""
    return np.abs(np.asarray(frame, dtype=np.int32) - np.array(rgb)).max(axis=2) < 40


def test_decoded_clips_show_what_the_answers_say(video_dir: Path) -> None:
    doc = json.loads((video_dir / "questions.json").read_text())
    clips = {c["id"]: c for c in json.loads((video_dir / "clips.json").read_text())["clips"]}
    answers = {q["question_id"]: q for q in doc["questions"]}
    for video in doc["videos"]:
        clip = clips[video["id"]]
        decoded = decode_video(video_dir / "videos" / video["file_name"], fps=shapes_video.FPS)
        assert len(decoded.frames) == shapes_video.FRAMES and decoded.frames[0].size == (128, 128)
        # Direction: the mover's colour centroid (only in its row/column band) moves that way.
        mover = clip["mover"]
        rgb = shapes_render.COLORS[mover["color"]]
        band = slice(43, 85)

        def centroid(frame, mover=mover, rgb=rgb, band=band):  # type: ignore[no-untyped-def]
            mask = _mask(frame, rgb)
            if mover["direction"] in ("left", "right"):
                ys, xs = np.nonzero(mask[band, :])
                return xs.mean()
            ys, xs = np.nonzero(mask[:, band])
            return ys.mean()

        start, end = centroid(decoded.frames[0]), centroid(decoded.frames[-1])
        direction = answers[video["id"] * 1000]["answers"][0]
        assert direction == mover["direction"]
        assert (end > start + 40) if direction in ("right", "down") else (end < start - 40)
        # Order and counts: each static is absent before its frame and present from it on.
        for static in clip["statics"]:
            cx, cy = static["center"]
            srgb = shapes_render.COLORS[static["color"]]
            k = static["appears_at_frame"]
            assert not _mask(decoded.frames[k - 1], srgb)[cy, cx]
            assert _mask(decoded.frames[k], srgb)[cy, cx] and _mask(decoded.frames[-1], srgb)[cy, cx]
        order = answers[video["id"] * 1000 + 1]
        first = min(
            clip["statics"], key=lambda s: s["appears_at_frame"] if s["shape"] in order["question"] else 99
        )
        assert order["answers"] == [first["shape"]] * 10 and order["question_type"] == "order"
        count = answers[video["id"] * 1000 + 2]
        n = len(clip["statics"])
        assert count["answers"][0] == str(n + 1 if "end of the video" in count["question"] else n)


def test_suite_reads_the_set_and_scores_like_vqa(video_dir: Path) -> None:
    suite = ShapesVideoSuite(video_dir)
    samples = suite.load_samples()
    assert len(samples) == 18 and len(suite.load_samples(limit=4)) == 4
    s = samples[0]
    assert s.video and Path(s.video).is_file() and s.image_paths == ()
    assert s.text.endswith("Answer the question using a single word or phrase.")
    assert {x.meta["question_type"] for x in samples} == {"direction", "order", "count"}
    [metric] = suite.metrics()
    for sample in samples:
        metric.update(sample, sample.references[0].upper() + ".")  # normalised like vqa (lmms-eval)
    result = metric.compute()
    assert result.values["vqa_accuracy"].value == pytest.approx(100.0)
    assert suite.dataset_fingerprint()


def test_suite_errors_name_the_file(tmp_path: Path, video_dir: Path) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    doc = json.loads((video_dir / "questions.json").read_text())
    doc["questions"][0]["video_id"] = 999
    (bad / "questions.json").write_text(json.dumps(doc))
    with pytest.raises(InputError, match="names video 999"):
        ShapesVideoSuite(bad).load_samples()
    doc["questions"][0]["video_id"] = 1
    doc["videos"][0]["file_name"] = "../../etc/passwd"
    (bad / "questions.json").write_text(json.dumps(doc))
    with pytest.raises(InputError, match="escapes"):
        ShapesVideoSuite(bad).load_samples()
    with pytest.raises(InputError, match="between 1 and"):
        shapes_video.generate_shapes_video(tmp_path / "zero", videos=0)


def test_run_qwen2_vl_on_shapes_video(tmp_path: Path, video_dir: Path, tiny_checkpoint) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "run"
    args = ["run", "--no-progress", "--adapter", "qwen2_vl", "--model", str(tiny_checkpoint("qwen2_vl"))]
    args += ["--suite", "shapes_video", "--data", f"shapes_video={video_dir}", "--limit", "6"]
    assert main([*args, "--batch-size", "3", "--video-frames", "4", "--out", str(out)]) == 0
    lines = [json.loads(x) for x in (out / "samples.jsonl").read_text().splitlines()]
    assert len(lines) == 6 and all(x["error"] is None for x in lines)
    assert all(x["tokens"]["video_frames"] == 4 and x["tokens"]["image"] == 32 for x in lines)
    run = json.loads((out / "run.json").read_text())
    assert run["config"]["video_frames"] == 4
    assert "vqa_accuracy" in run["suites"]["shapes_video"]["metrics"]


def test_efficiency_video_reports_per_frame_cost(tmp_path: Path, video_dir: Path, tiny_checkpoint) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "eff"
    args = ["run", "--no-progress", "--adapter", "qwen2_vl", "--model", str(tiny_checkpoint("qwen2_vl"))]
    args += ["--suite", "efficiency_video", "--data", f"efficiency_video={video_dir}", "--limit", "2"]
    assert main([*args, "--batch-size", "2", "--video-frames", "4", "--out", str(out)]) == 0
    metrics = json.loads((out / "run.json").read_text())["suites"]["efficiency_video"]["metrics"]
    # 4 frames -> 2 temporal patches x 16 merged tokens = 32 positions: 8 per frame.
    assert metrics["visual_tokens_per_frame"]["value"] == pytest.approx(8.0)
    assert metrics["time_vision_connector_per_frame"]["value"] > 0
    assert metrics["e2e_latency_per_frame"]["value"] > 0
    assert metrics["e2e_latency_per_frame"]["n"] == 12
