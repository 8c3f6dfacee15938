"""The speech-recognition expert of an expert pipeline (VideoChat-Text): Whisper, batched.

`WhisperStage` loads a ``WhisperForConditionalGeneration`` checkpoint with its processor and
transcribes a batch of `Audio` waveforms in one ``generate`` call (greedy). Audio is resampled
to the feature extractor's rate by the decoder (`mllmbench.core.video.decode_audio` gives
16 kHz); Whisper reads one 30-second window, so longer audio is transcribed from its first
30 seconds only (no long-form chunking here). Not registered: `ExpertPipelineAdapter` owns it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mllmbench.adapters.checkpoints import check_device_and_dtype, checkpoint_hash, resolve_checkpoint
from mllmbench.adapters.counting import count_output_tokens, eos_id_set
from mllmbench.core.errors import ConfigError, MissingResourceError
from mllmbench.core.types import Audio

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Transcript:
    """One waveform's transcript and what it cost."""

    text: str
    output_tokens: int
    audio_seconds: float
    """Length of the waveform (before the 30 s window cut)."""


class WhisperStage:
    """Waveforms -> text with a Whisper checkpoint (local directory or cached hub id)."""

    def __init__(
        self, model: str, *, device: str = "cpu", dtype: str = "float32", max_new_tokens: int = 64
    ) -> None:
        self.model_id = model
        self.device = device
        self.dtype = dtype
        self.max_new_tokens = max_new_tokens
        self.model: Any = None
        self.processor: Any = None
        self.checkpoint_hash: str | None = None

    def load(self) -> None:
        """Load the model and processor (``ConfigError``/``MissingResourceError`` naming the checkpoint)."""
        import torch
        from transformers import AutoProcessor, WhisperForConditionalGeneration

        local_dir = resolve_checkpoint(self.model_id)
        check_device_and_dtype(self.device, self.dtype)
        source = str(local_dir) if local_dir is not None else self.model_id
        try:
            self.model = WhisperForConditionalGeneration.from_pretrained(
                source, dtype=getattr(torch, self.dtype), device_map=self.device
            ).eval()
            self.processor = AutoProcessor.from_pretrained(source)
        except OSError as exc:
            if local_dir is None:
                raise MissingResourceError(
                    f"ASR model {self.model_id!r} is not local nor cached ({exc})"
                ) from exc
            raise ConfigError(f"cannot load ASR checkpoint {source!r}: {exc}") from exc
        self.checkpoint_hash = checkpoint_hash(local_dir) if local_dir is not None else None
        log.info("loaded Whisper %s on %s", self.model_id, self.device)

    def close(self) -> None:
        """Drop the model."""
        self.model = self.processor = None

    @property
    def parameters(self) -> int:
        """Parameter count of the loaded model."""
        return sum(p.numel() for p in self.model.parameters())

    def transcribe(self, audios: Sequence[Audio]) -> tuple[list[Transcript], float]:
        """Transcripts of `audios` in order, and the wall time of the batched call (features + generate)."""
        if not audios:
            return [], 0.0
        import torch

        if self.model is None:
            raise RuntimeError("WhisperStage is not loaded; call load() first")
        start = time.perf_counter()
        extractor = self.processor.feature_extractor
        for audio in audios:
            if audio.sample_rate != extractor.sampling_rate:
                raise ConfigError(
                    f"audio of {audio.source} is at {audio.sample_rate} Hz; Whisper reads {extractor.sampling_rate} Hz"
                )
        features = extractor(
            [a.waveform for a in audios], sampling_rate=extractor.sampling_rate, return_tensors="pt"
        )["input_features"].to(self.device, dtype=getattr(torch, self.dtype))
        with torch.inference_mode():
            sequences = self.model.generate(features, max_new_tokens=self.max_new_tokens, do_sample=False)
        seconds = time.perf_counter() - start
        eos_ids = eos_id_set(self.model.generation_config.eos_token_id)
        specials = set(self.processor.tokenizer.all_special_ids)
        out = []
        for audio, row in zip(audios, sequences.tolist(), strict=True):
            row = [t for t in row if t not in specials or t in eos_ids]
            n = count_output_tokens(row, eos_ids)
            text = self.processor.tokenizer.decode(row[:n], skip_special_tokens=True).strip()
            out.append(Transcript(text, n, len(audio.waveform) / audio.sample_rate))
        return out, seconds
