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
        if not isinstance(self.caption_max_new_tokens, int) or self.caption_max_new_tokens < 1:
            raise ConfigError(f"{path}: caption_max_new_tokens must be a positive integer")
        for key, fields in (
            ("caption_line", ("{caption}",)),
            ("user_template", ("{captions}", "{question}")),
        ):
            value = getattr(self, key)
            if not isinstance(value, str) or any(f not in value for f in fields):
                raise ConfigError(f"{path}: {key} must be a string containing {' and '.join(fields)}")
            try:
                value.format(index=1, caption="", captions="", question="")
            except (KeyError, IndexError, ValueError) as exc:
                raise ConfigError(f"{path}: {key} {value!r} is not a valid template: {exc!r}") from exc

    def to_dict(self) -> dict[str, Any]:
        """The JSON form `read` accepts."""
        d = dataclasses.asdict(self)
        captioner = {"adapter": d.pop("captioner_adapter"), "model": d.pop("captioner_model")}
        return {"captioner": captioner, **d}
