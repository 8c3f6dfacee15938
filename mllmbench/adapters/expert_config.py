"""``pipeline.json``: what ties an expert pipeline's captioner and text LLM together.

See `mllmbench.adapters.expert_pipeline` for the checkpoint layout; `PipelineConfig.read`
parses and checks the file, naming the file and the key in every error.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mllmbench.adapters.two_stage import read_part_config
from mllmbench.core.errors import ConfigError

PIPELINE_FILE = "pipeline.json"
"""The file in the checkpoint directory that names the two models and the prompts."""
DEFAULT_CAPTION_PROMPT = "Describe the image."
DEFAULT_CAPTION_LINE = "Image {index}: {caption}"
DEFAULT_USER_TEMPLATE = "{captions}\n{question}"
DEFAULT_CAPTION_MAX_NEW_TOKENS = 32
DEFAULT_FRAME_LINE = "Frame {index} at {time:.1f} s: {caption}"
DEFAULT_TRANSCRIPT_LINE = "Speech: {transcript}"
DEFAULT_NO_AUDIO_LINE = "Speech: none (the video has no audio track)"
DEFAULT_NO_ASR_LINE = "Speech: not transcribed (this pipeline has no speech recogniser)"
DEFAULT_ASR_MAX_NEW_TOKENS = 64


@dataclass(frozen=True)
class PipelineConfig:
    """The contents of ``pipeline.json``."""

    captioner_adapter: str
    """Registry name of the captioning adapter (``llava``, ``blip2`` ...)."""
    captioner_model: str
    """Its checkpoint: a subdirectory of the pipeline directory, an absolute path or a hub id."""
    llm: str
    """The text LLM checkpoint, resolved like `captioner_model`."""
    caption_prompt: str = DEFAULT_CAPTION_PROMPT
    """The text sent to the captioner with each image (before its chat template)."""
    caption_max_new_tokens: int = DEFAULT_CAPTION_MAX_NEW_TOKENS
    """Caption length limit; the run's ``max_new_tokens`` limits the answer."""
    caption_line: str = DEFAULT_CAPTION_LINE
    """One line per image, with ``{index}`` (1-based) and ``{caption}``."""
    user_template: str = DEFAULT_USER_TEMPLATE
    """The stage-2 user message, with ``{captions}`` (the lines joined by newlines) and ``{question}``."""
    asr: str | None = None
    """The speech recogniser (a Whisper checkpoint, resolved like `captioner_model`) that
    transcribes a video's audio track; None: videos are read from their frames only."""
    asr_max_new_tokens: int = DEFAULT_ASR_MAX_NEW_TOKENS
    frame_line: str = DEFAULT_FRAME_LINE
    """One line per sampled video frame, with ``{index}`` (1-based), ``{time}`` (seconds) and ``{caption}``."""
    transcript_line: str = DEFAULT_TRANSCRIPT_LINE
    """The line holding a video's transcript, with ``{transcript}``."""
    no_audio_line: str = DEFAULT_NO_AUDIO_LINE
    """The line that says a video had no audio track (the answer came from its frames alone)."""
    no_asr_line: str = DEFAULT_NO_ASR_LINE
    """The line that says a video's audio was not transcribed (no `asr` in the pipeline)."""

    @classmethod
    def read(cls, directory: Path) -> PipelineConfig:
        """Parse and check ``directory/pipeline.json``; `ConfigError` names the file and the key."""
        path = directory / PIPELINE_FILE
        raw = read_part_config(
            path,
            f"an expert_pipeline checkpoint is a directory with {PIPELINE_FILE} naming the captioner "
            "and the text LLM (see `mllm-bench tiny expert_pipeline`)",
            allowed={f.name for f in dataclasses.fields(cls)} | {"captioner"},
        )
        captioner = raw.get("captioner")
        if not isinstance(captioner, dict) or not {"adapter", "model"} <= captioner.keys():
            raise ConfigError(f"{path}: 'captioner' must be an object with 'adapter' and 'model'")
        fields = {k: v for k, v in raw.items() if k != "captioner"}
        try:
            config = cls(captioner_adapter=captioner["adapter"], captioner_model=captioner["model"], **fields)
        except TypeError as exc:
            raise ConfigError(f"{path}: {exc}") from exc
        config._check(path)
        return config

    def _check(self, path: Path) -> None:
        for key in ("captioner_adapter", "captioner_model", "llm", "caption_prompt"):
            if not isinstance(getattr(self, key), str) or not getattr(self, key):
                raise ConfigError(f"{path}: {key} must be a non-empty string")
        for key in ("caption_max_new_tokens", "asr_max_new_tokens"):
            if not isinstance(getattr(self, key), int) or getattr(self, key) < 1:
                raise ConfigError(f"{path}: {key} must be a positive integer")
        if self.asr is not None and (not isinstance(self.asr, str) or not self.asr):
            raise ConfigError(f"{path}: asr must be a non-empty string (a Whisper checkpoint) or absent")
        for key, fields in (
            ("caption_line", ("{caption}",)),
            ("user_template", ("{captions}", "{question}")),
            ("frame_line", ("{caption}",)),
            ("transcript_line", ("{transcript}",)),
            ("no_audio_line", ()),
            ("no_asr_line", ()),
        ):
            value = getattr(self, key)
            if not isinstance(value, str) or any(f not in value for f in fields):
                raise ConfigError(f"{path}: {key} must be a string containing {' and '.join(fields)}")
            try:
                value.format(index=1, caption="", captions="", question="", time=0.0, transcript="")
            except (KeyError, IndexError, ValueError) as exc:
                raise ConfigError(f"{path}: {key} {value!r} is not a valid template: {exc!r}") from exc

    def to_dict(self) -> dict[str, Any]:
        """The JSON form `read` accepts."""
        d = dataclasses.asdict(self)
        captioner = {"adapter": d.pop("captioner_adapter"), "model": d.pop("captioner_model")}
        return {"captioner": captioner, **d}
