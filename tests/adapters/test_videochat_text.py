"""VideoChat-Text through the expert pipeline: frame captions + a Whisper transcript -> text LLM.

The tiny pipeline (LLaVA captioner, Whisper recogniser, Llama chat LM) on synthetic clips muxed
with PyAV: a tone or noise sound track, or none. Each stage is checked against transformers
called directly; a clip without audio runs vision-only and says so in the prompt and the usage.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from mllmbench.adapters.expert_pipeline import ExpertPipelineAdapter
from mllmbench.cli.main import main
from mllmbench.core.types import GenerationSettings, UnderstandRequest
from mllmbench.core.video import AUDIO_RATE, decode_audio, decode_video, write_video
from mllmbench.testing.adapter_contract import synthetic_image

SETTINGS = GenerationSettings(max_new_tokens=6)


def tone(freq: float, seconds: float = 2.0) -> np.ndarray:
    t = np.arange(int(seconds * AUDIO_RATE)) / AUDIO_RATE
    return (0.4 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def noise(seconds: float = 2.0, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, 0.2, int(seconds * AUDIO_RATE)).astype(np.float32)


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("clips")
    frames = [[synthetic_image(4 * i + k).resize((48, 48)) for k in range(16)] for i in range(3)]
    return {
        "tone": write_video(root / "tone.mp4", frames[0], 8, audio=tone(440.0)),
        "noise": write_video(root / "noise.mp4", frames[1], 8, audio=noise()),
        "silent": write_video(root / "silent.mp4", frames[2], 8),
    }


@pytest.fixture(scope="module")
def adapter(tiny_checkpoint: Callable[[str], Path]) -> Iterator[ExpertPipelineAdapter]:
    loaded = ExpertPipelineAdapter(str(tiny_checkpoint("expert_pipeline")))
    loaded.load()
    yield loaded
    loaded.close()


def _request(name: str, path: Path) -> UnderstandRequest:
    return UnderstandRequest(name, (), "What happens in the video?", videos=(decode_video(path, frames=3),))


def _direct_transcript(asr_dir: Path, path: Path) -> str:
    import torch
    from transformers import AutoProcessor, WhisperForConditionalGeneration

    model = WhisperForConditionalGeneration.from_pretrained(asr_dir).eval()
    processor = AutoProcessor.from_pretrained(asr_dir)
    audio = decode_audio(path)
    features = processor(audio.waveform, sampling_rate=AUDIO_RATE, return_tensors="pt").input_features
    with torch.inference_mode():
        out = model.generate(features, max_new_tokens=model.generation_config.max_new_tokens, do_sample=False)
    return str(processor.batch_decode(out, skip_special_tokens=True)[0]).strip()


def _direct_answer(llm_dir: Path, prompt: str) -> str:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(llm_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(llm_dir)
    bos = tokenizer.bos_token
    inputs = tokenizer(prompt, return_tensors="pt", add_special_tokens=not (bos and prompt.startswith(bos)))
    with torch.inference_mode():
        out = model.generate(**inputs, max_new_tokens=SETTINGS.max_new_tokens, do_sample=False)
    return str(tokenizer.decode(out[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True)).strip()


def test_frames_and_speech_reach_the_llm_each_stage_as_transformers(
    adapter: ExpertPipelineAdapter, clips: dict[str, Path], tiny_checkpoint: Callable[[str], Path]
) -> None:
    root = tiny_checkpoint("expert_pipeline")
    batch = [_request(name, clips[name]) for name in ("tone", "noise", "silent")]
    responses = adapter.understand(batch, SETTINGS)
    tone_r, noise_r, silent_r = responses
    for name, response in (("tone", tone_r), ("noise", noise_r)):
        assert response.usage.speech == "transcribed"
        assert response.transcript == _direct_transcript(root / "asr", clips[name])
        assert f"Speech: {response.transcript}" in response.prompt
        stages = response.usage.to_dict()["stages"]
        assert list(stages) == ["caption", "asr", "answer"]
        assert stages["asr"]["batch_seconds"] > 0 and stages["asr"]["batch_size"] == 2
        assert stages["asr"]["output_tokens"] >= 1
    assert tone_r.transcript != noise_r.transcript  # the transcript depends on the sound
    assert silent_r.usage.speech == "no audio track" and silent_r.transcript is None
    assert "Speech: none (the video has no audio track)" in silent_r.prompt
    assert "asr" not in silent_r.usage.to_dict()["stages"]
    for request, response in zip(batch, responses, strict=True):
        # Every sampled frame was captioned, as the captioner adapter does alone, and shown by time.
        video = request.videos[0]
        assert response.usage.video_frames == 3 and len(response.captions) == 3
        alone = adapter.captioner.understand(
            [UnderstandRequest("f", (f,), adapter.config.caption_prompt) for f in video.frames],
            GenerationSettings(max_new_tokens=adapter.config.caption_max_new_tokens),
        )
        assert list(response.captions) == [a.text for a in alone]
        for k, (t, caption) in enumerate(zip(video.timestamps, response.captions, strict=True)):
            assert f"Frame {k + 1} at {t:.1f} s: {caption}" in response.prompt
        assert response.text == _direct_answer(root / "llm", response.prompt)
        assert response.usage.image_tokens > 0


def test_batch_one_equals_batch_n(adapter: ExpertPipelineAdapter, clips: dict[str, Path]) -> None:
    batch = [_request(name, clips[name]) for name in ("tone", "silent", "noise")]
    together = adapter.understand(batch, SETTINGS)
    alone = [adapter.understand([r], SETTINGS)[0] for r in batch]
    key = lambda r: (r.text, r.prompt, r.transcript, r.usage.input_tokens, r.usage.output_tokens)  # noqa: E731
    assert [key(r) for r in together] == [key(r) for r in alone]


def test_request_audio_is_transcribed_without_video(
    adapter: ExpertPipelineAdapter, clips: dict[str, Path]
) -> None:
    audio = decode_audio(clips["tone"])
    [response] = adapter.understand([UnderstandRequest("a", (), "What is said?", audios=(audio,))], SETTINGS)
    assert response.usage.speech == "transcribed" and response.transcript
    assert response.captions == ()


def test_run_on_shapes_video_records_stages_and_vision_only(
    tmp_path: Path, tiny_checkpoint: Callable[[str], Path]
) -> None:
    data = tmp_path / "sv"
    assert main(["data", "shapes-video", "--out", str(data), "--videos", "1"]) == 0
    out = tmp_path / "run"
    args = ["run", "--no-progress", "--adapter", "expert_pipeline"]
    args += ["--model", str(tiny_checkpoint("expert_pipeline")), "--suite", "shapes_video"]
    args += ["--data", f"shapes_video={data}", "--video-frames", "2", "--out", str(out)]
    assert main(args) == 0
    lines = [json.loads(x) for x in (out / "samples.jsonl").read_text().splitlines()]
    assert len(lines) == 3
    for line in lines:
        assert line["error"] is None
        assert line["timing"]["speech"] == "no audio track"
        assert set(line["timing"]["stages"]) == {"caption", "answer"}
        assert line["tokens"]["video_frames"] == 2
        assert "Speech: none (the video has no audio track)" in line["prompt"]
