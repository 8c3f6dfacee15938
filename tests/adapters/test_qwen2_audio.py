"""Qwen2-Audio on its tiny checkpoint: the answer equals transformers called directly, audio
positions from the processor, and an ``asr`` run end to end."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from mllmbench.adapters.qwen2_audio import Qwen2AudioAdapter
from mllmbench.cli.main import main
from mllmbench.core.types import GenerationSettings, UnderstandRequest
from mllmbench.core.video import write_audio
from mllmbench.testing.tiny_contract import synthetic_audios

SETTINGS = GenerationSettings(max_new_tokens=6)


def test_answers_as_transformers_directly(tiny_checkpoint: Callable[[str], Path]) -> None:
    import torch
    from transformers import AutoProcessor, Qwen2AudioForConditionalGeneration

    directory = tiny_checkpoint("qwen2_audio")
    adapter = Qwen2AudioAdapter(str(directory))
    adapter.load()
    try:
        audios = synthetic_audios(2)
        requests = [
            UnderstandRequest(f"a{i}", (), "Transcribe the speech.", audios=(a,))
            for i, a in enumerate(audios)
        ]
        responses = adapter.understand(requests, SETTINGS)
        assert adapter.info.parameters["audio"] > 0 and adapter.info.visual_tokens_per_image is None
        model = Qwen2AudioForConditionalGeneration.from_pretrained(directory).eval()
        processor = AutoProcessor.from_pretrained(directory)
        for audio, response in zip(audios, responses, strict=True):
            assert "<|AUDIO|>" in response.prompt and "Transcribe the speech." in response.prompt
            inputs = processor(
                text=[response.prompt], audio=[audio.waveform], sampling_rate=16_000, return_tensors="pt"
            )
            with torch.inference_mode():
                out = model.generate(**inputs, max_new_tokens=SETTINGS.max_new_tokens, do_sample=False)
            new = out[0, inputs["input_ids"].shape[1] :]
            assert response.text == processor.decode(new, skip_special_tokens=True).strip()
            assert response.usage.input_tokens == inputs["input_ids"].shape[1]
            # 1 s of audio -> 25 pooled positions.
            assert int((inputs["input_ids"] == model.config.audio_token_index).sum()) == 25
            assert response.usage.image_tokens == 0
    finally:
        adapter.close()


def test_run_qwen2_audio_on_asr(tmp_path: Path, tiny_checkpoint: Callable[[str], Path]) -> None:
    data = tmp_path / "nemo"
    lines = []
    for i, audio in enumerate(synthetic_audios(2)):
        write_audio(data / f"u{i}.wav", audio.waveform)
        lines.append(json.dumps({"audio_filepath": f"u{i}.wav", "text": f"word number {i}"}))
    (data / "manifest.json").write_text("\n".join(lines) + "\n")
    out = tmp_path / "run"
    args = [
        "run",
        "--no-progress",
        "--adapter",
        "qwen2_audio",
        "--model",
        str(tiny_checkpoint("qwen2_audio")),
    ]
    assert (
        main([*args, "--suite", "asr", "--data", f"asr={data}", "--batch-size", "2", "--out", str(out)]) == 0
    )
    records = [json.loads(x) for x in (out / "samples.jsonl").read_text().splitlines()]
    assert len(records) == 2 and all(r["error"] is None for r in records)
    assert json.loads((out / "run.json").read_text())["suites"]["asr"]["metrics"]["wer"]["value"] >= 0


@pytest.mark.parametrize("suite", ["vqa", "shapes_video"])
def test_image_and_video_suites_refused(suite: str, tiny_checkpoint: Callable[[str], Path]) -> None:
    assert (
        main(
            [
                "run",
                "--adapter",
                "qwen2_audio",
                "--model",
                str(tiny_checkpoint("qwen2_audio")),
                "--suite",
                suite,
            ]
        )
        == 2
    )
