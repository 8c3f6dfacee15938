"""Pieces shared by the two-stage adapters (`expert_pipeline`, `llm_diffusion`).

Both keep two models in one checkpoint directory tied by a small JSON file, and both use a
text-only causal LM as one stage.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from mllmbench.adapters.hf import HFVisionLanguageAdapter, render_chat
from mllmbench.core.errors import ConfigError
from mllmbench.core.hashing import sha256_of

if TYPE_CHECKING:
    from PIL.Image import Image


def read_part_config(path: Path, missing_hint: str, *, allowed: set[str]) -> dict[str, Any]:
    """The JSON object of a two-stage checkpoint's config file, with only `allowed` keys.

    `ConfigError` names the file: missing (with `missing_hint`), unreadable, not an object, or
    holding an unknown key.
    """
    import json

    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{path} not found: {missing_hint}") from exc
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a JSON object")
    unknown = set(raw) - allowed
    if unknown:
        raise ConfigError(f"{path}: unknown keys {sorted(unknown)}")
    return raw


def resolve_part(directory: Path, config_file: str, value: str, key: str) -> str:
    """Where a part named in `config_file` lives: a subdirectory, an absolute path or a hub id.

    A name without ``/`` must be a subdirectory of `directory` (`ConfigError` otherwise);
    ``zoo:NAME`` is a shipped zoo member (`mllmbench.core.zoo_paths`).
    """
    from mllmbench.core.zoo_paths import is_zoo_model, resolve_zoo_model

    if is_zoo_model(value):
        return str(resolve_zoo_model(value))
    path = Path(value).expanduser()
    if path.is_absolute():
        return str(path)
    if (directory / value).exists():
        return str(directory / value)
    if "/" not in value or value.startswith("."):
        raise ConfigError(f"{directory / config_file}: {key} {value!r} is not a directory in {directory}")
    return value


def combined_hash(config_path: Path, *part_hashes: str | None) -> str | None:
    """``sha256`` over the parts' weight hashes and the config file (None if a part has none)."""
    if any(h is None for h in part_hashes):
        return None
    return "sha256:" + sha256_of([*(f"{piece}\0" for piece in part_hashes), Path(config_path)])


class TextLLMStage(HFVisionLanguageAdapter):
    """Stage 2: a text-only causal LM behind the `HFVisionLanguageAdapter` machinery, no images.

    The request text is the user message, rendered with the tokenizer's chat template. The
    tokenizer adds its special tokens (BOS) unless the rendered prompt already starts with BOS.
    Not registered: `ExpertPipelineAdapter` owns it.
    """

    name: ClassVar[str] = "expert_llm"
    description: ClassVar[str] = "text-only causal LM (stage 2 of expert_pipeline)"
    model_class_name: ClassVar[str] = "AutoModelForCausalLM"
    processor_class_name: ClassVar[str] = "AutoTokenizer"

    def render_prompt(self, text: str, n_images: int) -> str:
        """``[{"role": "user", "content": text}]`` through the tokenizer's chat template."""
        missing = f"text LLM {self.model_id!r} has no chat template; the expert pipeline needs one"
        return render_chat(self.tokenizer, [{"role": "user", "content": text}], missing=missing)

    def add_special_tokens(self, prompt: str) -> bool:
        """Whether tokenizing `prompt` adds BOS: not when the chat template wrote it already."""
        bos = self.tokenizer.bos_token
        return not (bos and prompt.startswith(bos))

    def processor_inputs(self, prompts: list[str], images: list[list[Image]]) -> Mapping[str, Any]:
        """``tokenizer(prompts)``, left-padded (the images lists are empty)."""
        return self.tokenizer(  # type: ignore[no-any-return]
            prompts, return_tensors="pt", padding=True, add_special_tokens=self.add_special_tokens(prompts[0])
        )

    def count_image_tokens(self, inputs: Mapping[str, Any]) -> list[int]:
        """No image positions: `ExpertPipelineAdapter` counts the caption positions instead."""
        return [0] * int(inputs["input_ids"].shape[0])

    def visual_tokens_per_image(self) -> int | None:
        """A text LLM has none."""
        return None

    def llm_backbone_name(self) -> str:
        """Class of the decoder under the LM head (``LlamaModel``)."""
        return type(getattr(self.model, "base_model", self.model)).__name__

    def caption_token_counts(
        self, prompt: str, user_text: str, spans: Sequence[tuple[int, int]]
    ) -> list[int]:
        """Per caption, how many tokens of `prompt` overlap it (`spans` are offsets in `user_text`).

        Uses the fast tokenizer's offsets where `user_text` appears verbatim in `prompt`; otherwise
        (a template that rewrites the message, a slow tokenizer) each caption is tokenized alone.
        """
        start = prompt.find(user_text)
        tokenizer = self.tokenizer
        if start >= 0 and getattr(tokenizer, "is_fast", False):
            encoding = tokenizer(
                prompt, add_special_tokens=self.add_special_tokens(prompt), return_offsets_mapping=True
            )
            offsets = encoding["offset_mapping"]
            return [
                sum(1 for s, e in offsets if e > s and s < start + hi and e > start + lo) for lo, hi in spans
            ]
        return [len(tokenizer(user_text[lo:hi], add_special_tokens=False)["input_ids"]) for lo, hi in spans]
