"""``whisper``: speech recognition with ``WhisperForConditionalGeneration`` (audio -> transcript).

Each request must carry exactly one `Audio` (the runner decodes a sample's audio file to mono
16 kHz); the request text is ignored (Whisper takes no prompt here). One batched greedy
``generate`` per call through `mllmbench.adapters.asr.WhisperStage`; Whisper reads one 30 s
window, so longer audio is transcribed from its first 30 seconds. The adapter declares only
`Capability.AUDIO`: it serves speech suites (``asr``) and refuses image and video suites.

Usage: ``input_tokens`` is the encoder positions (1500 for the 30 s window), ``image_tokens`` 0,
``output_tokens`` the transcript tokens; ``batch_seconds`` covers feature extraction and generate.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from mllmbench.adapters.asr import WhisperStage
from mllmbench.adapters.base import Adapter
from mllmbench.adapters.counting import count_parameters
from mllmbench.core.errors import ConfigError
from mllmbench.core.profiling import weights_bytes
from mllmbench.core.types import (
    AdapterInfo,
    Capability,
    Connector,
    GenerationSettings,
    Paradigm,
    UnderstandRequest,
    UnderstandResponse,
    Usage,
)


class WhisperAdapter(Adapter):
    """Whisper encoder-decoder: log-mel features -> transformer encoder -> text decoder."""

    name: ClassVar[str] = "whisper"
    description: ClassVar[str] = "Whisper speech recognition (audio -> transcript)"
    capabilities: ClassVar[Capability] = Capability.AUDIO
    connector: ClassVar[Connector] = Connector.NONE

    def __init__(
        self, model: str, *, device: str = "cpu", dtype: str = "float32", trust_remote_code: bool = False
    ) -> None:
        super().__init__(model, device=device, dtype=dtype, trust_remote_code=trust_remote_code)
        self._stage: WhisperStage | None = None

    @property
    def stage(self) -> WhisperStage:
        """The loaded recogniser."""
        return self._require_loaded(self._stage)

    @property
    def model(self) -> Any:
        """The loaded ``WhisperForConditionalGeneration``."""
        return self.stage.model

    @property
    def processor(self) -> Any:
        """The loaded ``WhisperProcessor``."""
        return self.stage.processor

    def load(self) -> None:
        """Load the model and processor; record `info`."""
        stage = WhisperStage(self.model_id, device=self.device, dtype=self.dtype)
        stage.load()
        model = stage.model
        groups = {"audio": ("model.encoder",), "llm": ("model.decoder", "proj_out")}
        self._stage = stage
        self._info = AdapterInfo(
            name=self.name,
            checkpoint=self.model_id,
            checkpoint_hash=stage.checkpoint_hash,
            dtype=self.dtype,
            device=self.device,
            capabilities=self.capabilities,
            paradigm=Paradigm(
                family=self.name,
                connector=self.connector,
                vision_encoder="",
                llm_backbone=type(model.model.decoder).__name__,
            ),
            parameters=count_parameters(model, groups),
            visual_tokens_per_image=None,
            model_class=type(model).__name__,
            processor_class=type(stage.processor).__name__,
            weights_bytes=weights_bytes(model),
        )

    def close(self) -> None:
        """Release the model."""
        if self._stage is not None:
            self._stage.close()
        self._stage = None
        super().close()

    def understand(
        self, batch: Sequence[UnderstandRequest], settings: GenerationSettings
    ) -> list[UnderstandResponse]:
        """Transcribe each request's audio (greedy, at most ``settings.max_new_tokens`` tokens)."""
        if not batch:
            return []
        for request in batch:
            if len(request.audios) != 1:
                raise ConfigError(
                    f"adapter 'whisper' needs exactly one audio per request; sample {request.sample_id!r} "
                    f"has {len(request.audios)}"
                )
        stage = self.stage
        stage.max_new_tokens = settings.max_new_tokens
        transcripts, seconds = stage.transcribe([request.audios[0] for request in batch])
        positions = int(stage.model.config.max_source_positions)
        return [
            UnderstandResponse(
                text=t.text,
                prompt="",
                usage=Usage(
                    input_tokens=positions,
                    output_tokens=t.output_tokens,
                    image_tokens=0,
                    batch_seconds=seconds,
                    batch_size=len(batch),
                ),
            )
            for t in transcripts
        ]

    @classmethod
    def build_tiny(cls, out_dir: Path, *, seed: int = 0) -> Path:
        """Write the tiny random Whisper of `mllmbench.adapters.tiny.whisper` to `out_dir`."""
        from mllmbench.adapters.tiny import whisper

        return whisper.build(out_dir, seed=seed)
