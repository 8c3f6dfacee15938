"""Decoding video files into sampled frames with PyAV (FFmpeg), with errors that name the file.

The frame-sampling policy is the run's (`RunConfig.video_frames` / `RunConfig.video_fps`):

* ``frames=N``: N frames spread evenly over the clip, the frame shown at the middle of each of N
  equal time slices (``(i + 0.5) * duration / N``), as lmms-eval's uniform sampling;
* ``fps=F``: the frame shown at ``0, 1/F, 2/F, ...`` seconds, up to the clip's end.

"The frame shown at t" is the last decoded frame whose presentation time is at most t (the first
frame for t before it). A clip shorter than the policy asks for repeats frames rather than
inventing any. Timestamps are the chosen frames' own presentation times in seconds, from the
stream's first frame. Every frame is decoded once (fine for benchmark clips of seconds to minutes).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from mllmbench.core.errors import InputError
from mllmbench.core.types import Video

DEFAULT_VIDEO_FRAMES = 8
"""Frames per clip when the run sets neither ``--video-frames`` nor ``--video-fps``."""


def target_times(duration: float, *, frames: int | None = None, fps: float | None = None) -> list[float]:
    """The times (seconds) the policy samples in a clip of `duration` seconds."""
    if frames is not None and fps is not None:
        raise ValueError("give frames or fps, not both")
    if fps is not None:
        count = max(1, math.ceil(duration * fps - 1e-9))
        return [i / fps for i in range(count)]
    n = frames if frames is not None else DEFAULT_VIDEO_FRAMES
    return [(i + 0.5) * duration / n for i in range(n)]


def decode_video(path: str | Path, *, frames: int | None = None, fps: float | None = None) -> Video:
    """Sample a video file's frames as RGB images; raise `InputError` naming the file."""
    import av

    p = Path(path)
    if not p.is_file():
        raise InputError(f"video file not found: {p}")
    if p.stat().st_size == 0:
        raise InputError(f"video file is empty (0 bytes): {p}")
    try:
        with av.open(str(p)) as container:
            if not container.streams.video:
                raise InputError(f"no video stream in {p}")
            stream = container.streams.video[0]
            decoded = [(float(f.time), f) for f in container.decode(stream) if f.time is not None]
            rate = float(stream.average_rate) if stream.average_rate else None
            picked = _pick(decoded, _duration(decoded, rate), frames=frames, fps=fps)
            images = tuple(f.to_image().convert("RGB") for _, f in picked)
    except InputError:
        raise
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise InputError(f"cannot decode video {p}: {exc}") from None
    if not images:
        raise InputError(f"no decodable frames in video {p}")
    return Video(frames=images, timestamps=tuple(t for t, _ in picked), source=str(p), fps=rate)


def _duration(decoded: list[tuple[float, Any]], rate: float | None) -> float:
    """The clip's length: the last frame's time plus one frame period (0 without frames)."""
    if not decoded:
        return 0.0
    last = decoded[-1][0] - decoded[0][0]
    period = 1.0 / rate if rate else (last / max(1, len(decoded) - 1) if len(decoded) > 1 else 0.0)
    return last + period


def _pick(
    decoded: list[tuple[float, Any]], duration: float, *, frames: int | None, fps: float | None
) -> list[tuple[float, Any]]:
    """For each target time, the last frame shown at or before it, with its time from the start."""
    if not decoded:
        return []
    start = decoded[0][0]
    out = []
    i = 0
    for t in target_times(duration, frames=frames, fps=fps):
        while i + 1 < len(decoded) and decoded[i + 1][0] - start <= t + 1e-9:
            i += 1
        out.append((decoded[i][0] - start, decoded[i][1]))
    return out
