"""Video decoding (PyAV), the frame-sampling policy in RunConfig, and video fields of requests."""

from __future__ import annotations

from pathlib import Path

import pytest

from mllmbench.core.config import RunConfig
from mllmbench.core.errors import ConfigError, InputError
from mllmbench.core.types import UnderstandRequest
from mllmbench.core.video import decode_video, target_times

FPS = 8
FRAMES = 16  # a 2-second clip


def write_clip(path: Path, n: int = FRAMES, fps: int = FPS) -> Path:
    """Frame k is a flat grey of level 16 * k (lossy codecs keep flat colours close)."""
    import av
    import numpy as np

    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width = stream.height = 32
        stream.pix_fmt = "yuv420p"
        for k in range(n):
            rgb = np.full((32, 32, 3), 16 * k, dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def levels(video) -> list[int]:
    """Which clip frame each decoded frame is (its grey level / 16, rounded)."""
    import numpy as np

    return [round(float(np.asarray(f).mean()) / 16) for f in video.frames]


def test_target_times_policies() -> None:
    assert target_times(2.0, frames=4) == [0.25, 0.75, 1.25, 1.75]
    assert target_times(2.0, fps=2) == [0.0, 0.5, 1.0, 1.5]
    assert target_times(2.0, fps=0.4) == [0.0]
    with pytest.raises(ValueError):
        target_times(1.0, frames=2, fps=1.0)


def test_decode_uniform_frames(tmp_path: Path) -> None:
    video = decode_video(write_clip(tmp_path / "c.mp4"), frames=4)
    # Slice midpoints 0.25, 0.75, 1.25, 1.75 s at 8 fps are frames 2, 6, 10, 14.
    assert levels(video) == [2, 6, 10, 14]
    assert video.timestamps == pytest.approx([0.25, 0.75, 1.25, 1.75])
    assert video.fps == pytest.approx(FPS)
    assert video.source.endswith("c.mp4")
    assert all(f.mode == "RGB" and f.size == (32, 32) for f in video.frames)


def test_decode_fps_and_repeats(tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "c.mp4")
    video = decode_video(clip, fps=2.0)
    assert levels(video) == [0, 4, 8, 12]
    assert video.timestamps == pytest.approx([0.0, 0.5, 1.0, 1.5])
    short = decode_video(write_clip(tmp_path / "s.mp4", n=2), frames=4)  # more frames than the clip
    assert levels(short) == [0, 0, 1, 1]


@pytest.mark.parametrize("content", [b"", b"not a video at all" * 10])
def test_unreadable_file_is_input_error_naming_it(tmp_path: Path, content: bytes) -> None:
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(content)
    with pytest.raises(InputError, match="bad.mp4"):
        decode_video(bad)
    with pytest.raises(InputError, match="missing.mp4"):
        decode_video(tmp_path / "missing.mp4")


def test_frame_policy_in_identity_only_when_set() -> None:
    base = RunConfig(adapter="a", model="m", suites=("s",))
    assert "video_frames" not in base.identity() and "video_fps" not in base.identity()
    frames = RunConfig(adapter="a", model="m", suites=("s",), video_frames=4)
    assert frames.identity()["video_frames"] == 4 and frames.identity() != base.identity()
    assert RunConfig.from_dict(frames.to_dict()) == frames
    with pytest.raises(ConfigError, match="exclusive"):
        RunConfig(adapter="a", model="m", suites=("s",), video_frames=4, video_fps=1.0)
    with pytest.raises(ConfigError, match="--video-fps"):
        RunConfig(adapter="a", model="m", suites=("s",), video_fps=0.0)
    with pytest.raises(ConfigError, match="--video-frames"):
        RunConfig(adapter="a", model="m", suites=("s",), video_frames=0)


def test_requests_default_to_no_video_or_audio() -> None:
    request = UnderstandRequest("1", (), "q")
    assert request.videos == () and request.audios == ()
