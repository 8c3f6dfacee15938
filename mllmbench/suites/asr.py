"""``asr``: speech recognition scored by word error rate (jiwer), from a local copy.

Two layouts are read, whichever ``--data DIR`` holds:

* a NeMo-style manifest ``DIR/manifest.json``: JSON lines ``{"audio_filepath", "text"}`` (plus
  ``"id"`` or anything else, kept in meta), audio paths relative to DIR or absolute inside it;
* the official LibriSpeech layout: ``DIR/<speaker>/<chapter>/<speaker>-<chapter>.trans.txt``,
  each line ``<utterance id> <TRANSCRIPT>``, next to ``<utterance id>.flac`` (e.g. a
  ``test-clean`` folder of https://www.openslr.org/12).

Samples carry the audio path in `Sample.audio` (the runner decodes it to mono 16 kHz) and the
prompt `PROMPT` (audio LLMs read it; Whisper ignores it). The metric is corpus WER
(`mllmbench.suites.metrics.wer`), lower is better. Transcripts are longer than VQA answers:
pass ``--max-new-tokens`` (e.g. 128).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

from mllmbench.core.errors import InputError
from mllmbench.core.types import Capability
from mllmbench.suites.base import Metric, Sample, Suite
from mllmbench.suites.fingerprint import files_fingerprint

PROMPT = "Transcribe the speech in the audio."
MANIFEST = "manifest.json"


class ASRSuite(Suite):
    """Word error rate over a NeMo manifest or a LibriSpeech folder."""

    name = "asr"
    version = "1"
    requires = Capability.AUDIO
    description = "Speech recognition WER (jiwer) on a local NeMo manifest or LibriSpeech folder"
    metric_names = ("wer",)
    expected_files = (MANIFEST + " or <speaker>/<chapter>/*.trans.txt",)
    prompt: ClassVar[str] = PROMPT

    def _sources(self) -> list[Path]:
        manifest = self.data_dir / MANIFEST
        if manifest.is_file():
            return [manifest]
        found = sorted(self.data_dir.rglob("*.trans.txt"))
        if not found:
            raise InputError(
                f"no {MANIFEST} and no LibriSpeech *.trans.txt under {self.data_dir}: the asr suite reads a "
                "NeMo manifest or a LibriSpeech split (https://www.openslr.org/12)"
            )
        return found

    def load_samples(self, limit: int | None = None) -> list[Sample]:
        """Utterances in file order, each with its audio path and reference transcript."""
        root = self.data_dir.resolve()
        sources = self._sources()
        rows = self._manifest(sources[0]) if sources[0].name == MANIFEST else self._librispeech(sources)
        out = []
        for sample_id, audio, text, meta in rows[:limit] if limit is not None else rows:
            path = (root / audio).resolve()
            if root not in path.parents:
                raise InputError(f"audio path {audio!r} of utterance {sample_id!r} escapes {root}")
            if not path.is_file():
                raise InputError(f"audio file of utterance {sample_id!r} not found: {path}")
            out.append(Sample(sample_id, (), self.prompt, references=(text,), meta=meta, audio=str(path)))
        return out

    @staticmethod
    def _manifest(path: Path) -> list[tuple[str, str, str, dict[str, Any]]]:
        rows = []
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                audio, text = str(entry["audio_filepath"]), str(entry["text"])
            except (ValueError, KeyError, TypeError) as exc:
                raise InputError(
                    f"{path} line {n}: need a JSON object with audio_filepath and text ({exc!r})"
                ) from None
            sample_id = str(entry.get("id", n))
            rows.append((sample_id, audio, text, {k: v for k, v in entry.items() if k not in ("text",)}))
        return rows

    def _librispeech(self, files: list[Path]) -> list[tuple[str, str, str, dict[str, Any]]]:
        rows = []
        for path in files:
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
                if not line.strip():
                    continue
                utterance, _, text = line.partition(" ")
                if not text:
                    raise InputError(f"{path} line {n}: expected '<utterance id> <TRANSCRIPT>'")
                audio = str((path.parent / f"{utterance}.flac").relative_to(self.data_dir))
                rows.append((utterance, audio, text, {"utterance_id": utterance}))
        return rows

    def metrics(self) -> list[Metric]:
        """Fresh corpus WER."""
        from mllmbench.suites.metrics.wer import WordErrorRate

        return [WordErrorRate()]

    def dataset_fingerprint(self) -> str:
        """Hash of the transcript files (the manifest or every trans.txt)."""
        return files_fingerprint(self._sources())

    def scoring_info(self) -> dict[str, Any]:
        """Recorded in run.json next to the metric."""
        from mllmbench.suites.metrics.wer import NORMALIZATION

        return {"metric": "corpus WER (jiwer)", "normalization": NORMALIZATION, "prompt": self.prompt}
