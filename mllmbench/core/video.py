"""Decoding video files into sampled frames with PyAV (FFmpeg), with errors that name the file.

The frame-sampling policy is the run's (`RunConfig.video_frames` / `RunConfig.video_fps`):

* ``frames=N``: N frames spread evenly over the clip, the frame shown at the middle of each of N
  equal time slices (``(i + 0.5) * duration / N``), as lmms-eval's uniform sampling;
* ``fps=F``: the frame shown at ``0, 1/F, 2/F, ...`` seconds, up to the clip's end.

"The frame shown at t" is the last decoded frame whose presentation time is at most t (the first
frame for t before it). A clip shorter than the policy asks for repeats frames rather than
inventing any. Timestamps are the chosen frames' own presentation times in seconds, from the
stream's first frame. Every frame is decoded once (fine for benchmark clips of seconds to minutes).

`decode_audio` reads a file's first audio stream as a mono float32 waveform (a video's sound
track, or an audio file); `has_audio` says whether there is one. `write_video` encodes frames
(and optionally a mono waveform) into an MP4, deterministically on one installation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mllmbench.core.errors import InputError
from mllmbench.core.types import Audio, Video

DEFAULT_VIDEO_FRAMES = 8
"""Frames per clip when the run sets neither ``--video-frames`` nor ``--video-fps``."""
AUDIO_RATE = 16_000
"""Sample rate `decode_audio` resamples to (what Whisper and Qwen2-Audio read)."""


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


def sampled_fps(video: Video) -> float:
    """Frames per second of the *sampled* frames: the mean spacing of their timestamps (the
    stream's rate, or 1, for a single frame)."""
    times = video.timestamps
    if len(times) > 1 and times[-1] > times[0]:
        return (len(times) - 1) / (times[-1] - times[0])
    return video.fps or 1.0


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


def has_audio(path: str | Path) -> bool:
    """Whether the file has an audio stream (`InputError` naming an unreadable file)."""
    import av

    p = _existing(path)
    try:
        with av.open(str(p)) as container:
            return bool(container.streams.audio)
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise InputError(f"cannot read media file {p}: {exc}") from None


def decode_audio(path: str | Path, *, sample_rate: int = AUDIO_RATE) -> Audio:
    """The file's first audio stream, downmixed to mono float32 and resampled to `sample_rate`.

    Raises `InputError` naming the file when it is missing, unreadable or has no audio stream.
    """
    import av
    import numpy as np

    p = _existing(path)
    try:
        with av.open(str(p)) as container:
            if not container.streams.audio:
                raise InputError(f"no audio stream in {p}")
            resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
            chunks: list[Any] = []
            for frame in container.decode(container.streams.audio[0]):
                chunks.extend(r.to_ndarray().reshape(-1) for r in resampler.resample(frame))
            chunks.extend(r.to_ndarray().reshape(-1) for r in resampler.resample(None))
    except InputError:
        raise
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise InputError(f"cannot decode audio of {p}: {exc}") from None
    waveform = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)
    if waveform.size == 0:
        raise InputError(f"no decodable audio samples in {p}")
    return Audio(waveform=waveform, sample_rate=sample_rate, source=str(p))


def write_video(
    path: str | Path,
    frames: Sequence[Any],
    fps: int,
    *,
    audio: Any = None,
    sample_rate: int = AUDIO_RATE,
) -> Path:
    """Encode RGB frames (PIL images or HxWx3 uint8 arrays) as H.264 MP4, optionally with a mono
    float32 `audio` waveform as AAC; one encoder thread, so the bytes do not depend on the CPU count.
    """
    import av
    import numpy as np

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    arrays = [np.asarray(f.convert("RGB") if hasattr(f, "convert") else f, dtype=np.uint8) for f in frames]
    if not arrays:
        raise ValueError("write_video needs at least one frame")
    with av.open(str(p), "w", format="mp4") as out:
        out.metadata.clear()
        video = out.add_stream("libx264", rate=fps, options={"crf": "12", "threads": "1"})
        video.height, video.width = arrays[0].shape[:2]
        video.pix_fmt = "yuv420p"
        video.thread_count = 1
        sound = None
        if audio is not None:
            sound = out.add_stream("aac", rate=sample_rate, layout="mono")
        for rgb in arrays:
            out.mux(video.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        out.mux(video.encode())
        if sound is not None:
            samples = np.asarray(audio, dtype=np.float32).reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(samples, format="flt", layout="mono")
            frame.sample_rate = sample_rate
            frame.pts = 0
            out.mux(sound.encode(frame))
            out.mux(sound.encode())
    return p


def write_audio(path: str | Path, waveform: Any, sample_rate: int = AUDIO_RATE) -> Path:
    """Write a mono float32 waveform as ``.wav`` (16-bit PCM) or ``.flac``, by the suffix."""
    import av
    import numpy as np

    p = Path(path)
    codecs = {".wav": ("wav", "pcm_s16le", "s16"), ".flac": ("flac", "flac", "s16")}
    if p.suffix not in codecs:
        raise ValueError(f"write_audio writes .wav or .flac, not {p.suffix!r}")
    container, codec, fmt = codecs[p.suffix]
    p.parent.mkdir(parents=True, exist_ok=True)
    pcm = (np.clip(np.asarray(waveform, dtype=np.float32), -1, 1) * 32767).astype(np.int16).reshape(1, -1)
    with av.open(str(p), "w", format=container) as out:
        stream: Any = out.add_stream(codec, rate=sample_rate, layout="mono")
        frame = av.AudioFrame.from_ndarray(pcm, format=fmt, layout="mono")
        frame.sample_rate = sample_rate
        frame.pts = 0
        out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return p


def _existing(path: str | Path) -> Path:
    p = Path(path)
    if not p.is_file():
        raise InputError(f"media file not found: {p}")
    if p.stat().st_size == 0:
        raise InputError(f"media file is empty (0 bytes): {p}")
    return p
