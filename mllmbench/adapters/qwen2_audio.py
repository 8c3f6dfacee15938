"""Qwen2-Audio: a Whisper-style audio encoder whose pooled features a linear projector feeds to
a Qwen2 LLM (``Qwen2AudioForConditionalGeneration``, e.g. ``Qwen/Qwen2-Audio-7B-Instruct``).

Each request's audio (mono, the processor's rate: 16 kHz) goes into the chat template as an
``{"type": "audio"}`` item (``Audio 1: <|audio_bos|><|AUDIO|><|audio_eos|>``) before the text;
the processor expands ``<|AUDIO|>`` into one position per pooled encoder frame (25 per second)
and pads the waveform to its window (30 s for the released checkpoints). Batched, greedy, left
padding, new tokens only: the shared `HFVisionLanguageAdapter` machinery
(`HFVisionLanguageAdapter.audio_processor_inputs`).

The adapter declares only `Capability.AUDIO` (it reads no images): it serves speech suites such
as ``asr``. ``usage.image_tokens`` is 0; the audio positions are in ``input_tokens``. The audio
encoder and projector are the timed modules, so their time is reported where image models
report vision + connector time.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from mllmbench.adapters.hf import HFVisionLanguageAdapter
from mllmbench.core.types import Capability, Connector


class Qwen2AudioAdapter(HFVisionLanguageAdapter):
    """Qwen2-Audio: audio encoder -> linear projector -> Qwen2 LLM (connector ``mlp``)."""

    name: ClassVar[str] = "qwen2_audio"
    description: ClassVar[str] = "Qwen2-Audio: Whisper-style audio encoder, linear projector, Qwen2 LLM"
    capabilities: ClassVar[Capability] = Capability.AUDIO
    connector: ClassVar[Connector] = Connector.MLP
    model_class_name: ClassVar[str] = "Qwen2AudioForConditionalGeneration"
    param_groups: ClassVar[dict[str, tuple[str, ...]]] = {
        "audio": ("model.audio_tower",),
        "connector": ("model.multi_modal_projector",),
        "llm": ("model.language_model", "lm_head"),
    }

    def vision_encoder_name(self) -> str:
        """No vision encoder; the audio encoder's class is recorded instead."""
        return type(self.model.get_submodule("model.audio_tower")).__name__

    def visual_tokens_per_image(self) -> int | None:
        """Reads no images."""
        return None

    def count_image_tokens(self, inputs: Mapping[str, Any]) -> list[int]:
        """No image positions (the audio positions count as input tokens)."""
        return [0] * int(inputs["input_ids"].shape[0])

    def timed_modules(self) -> list[Any]:
        """The audio encoder and the projector."""
        return [self.model.get_submodule(n) for n in ("model.audio_tower", "model.multi_modal_projector")]

    @classmethod
    def build_tiny(cls, out_dir: Path, *, seed: int = 0) -> Path:
        """Write the tiny random Qwen2-Audio of `mllmbench.adapters.tiny.qwen2_audio` to `out_dir`."""
        from mllmbench.adapters.tiny import qwen2_audio

        return qwen2_audio.build(out_dir, seed=seed)
