"""The ``asr`` suite (NeMo manifest and LibriSpeech layouts) and the ``whisper`` adapter end to end."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from mllmbench.cli.main import main
from mllmbench.core.errors import InputError
from mllmbench.core.video import AUDIO_RATE, write_audio
from mllmbench.suites.asr import ASRSuite
from mllmbench.suites.metrics.wer import word_errors

TEXTS = ("the red circle moves left", "a blue square appears", "three shapes at the end")


def _wave(i: int) -> np.ndarray:
    t = np.arange(AUDIO_RATE) / AUDIO_RATE
    return (0.4 * np.sin(2 * np.pi * (300 + 400 * i) * t)).astype(np.float32)


@pytest.fixture(scope="module")
def nemo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("nemo")
    lines = []
    for i, text in enumerate(TEXTS):
        write_audio(root / "audio" / f"u{i}.wav", _wave(i))
        lines.append(
            json.dumps({"audio_filepath": f"audio/u{i}.wav", "text": text, "id": f"u{i}", "duration": 1.0})
        )
    (root / "manifest.json").write_text("\n".join(lines) + "\n")
    return root


def test_reads_nemo_manifest_and_librispeech_layout(nemo_dir: Path, tmp_path: Path) -> None:
    samples = ASRSuite(nemo_dir).load_samples()
    assert [s.sample_id for s in samples] == ["u0", "u1", "u2"]
    assert samples[0].audio and Path(samples[0].audio).is_file() and samples[0].references == (TEXTS[0],)
    libri = tmp_path / "test-clean"
    chapter = libri / "1089" / "134686"
    for i in range(len(TEXTS)):
        write_audio(chapter / f"1089-134686-{i:04d}.flac", _wave(i))
    (chapter / "1089-134686.trans.txt").write_text(
        "".join(f"1089-134686-{i:04d} {t.upper()}\n" for i, t in enumerate(TEXTS))
    )
    samples = ASRSuite(libri).load_samples(limit=2)
    assert [s.sample_id for s in samples] == ["1089-134686-0000", "1089-134686-0001"]
    assert samples[1].audio and samples[1].audio.endswith("1089-134686-0001.flac")


def test_missing_data_and_bad_lines_name_the_file(tmp_path: Path, nemo_dir: Path) -> None:
    with pytest.raises(InputError, match="openslr"):
        ASRSuite(tmp_path).load_samples()
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "manifest.json").write_text('{"text": "no audio"}\n')
    with pytest.raises(InputError, match="manifest.json line 1"):
        ASRSuite(bad).load_samples()
    (bad / "manifest.json").write_text('{"audio_filepath": "gone.wav", "text": "x"}\n')
    with pytest.raises(InputError, match="not found"):
        ASRSuite(bad).load_samples()


def test_run_whisper_on_asr(tmp_path: Path, nemo_dir: Path, tiny_checkpoint: Callable[[str], Path]) -> None:
    out = tmp_path / "run"
    args = ["run", "--no-progress", "--adapter", "whisper", "--model", str(tiny_checkpoint("whisper"))]
    args += ["--suite", "asr", "--data", f"asr={nemo_dir}", "--batch-size", "3", "--out", str(out)]
    assert main(args) == 0
    lines = [json.loads(x) for x in (out / "samples.jsonl").read_text().splitlines()]
    assert len(lines) == 3 and all(x["error"] is None for x in lines)
    errors = words = 0
    for line in lines:
        e, w = word_errors(line["references"][0], line["answer"])
        assert line["scores"]["wer"] == pytest.approx(e / w)
        errors, words = errors + e, words + w
    run = json.loads((out / "run.json").read_text())
    wer = run["suites"]["asr"]["metrics"]["wer"]
    assert wer["value"] == pytest.approx(100 * errors / words) and wer["higher_is_better"] is False


def test_image_suite_refused_for_whisper(tiny_checkpoint: Callable[[str], Path]) -> None:
    assert (
        main(["run", "--adapter", "whisper", "--model", str(tiny_checkpoint("whisper")), "--suite", "vqa"])
        == 2
    )
