"""``auto``: any checkpoint that loads with ``AutoModelForImageTextToText`` + ``AutoProcessor``.

Gemma3, SmolVLM, InternVL, Qwen2/2.5/3-VL, LLaVA(-NeXT, -OneVision), Mistral3/Pixtral, Aria,
Idefics2/3, Mllama and more, through the shared `HFVisionLanguageAdapter` (batched, greedy,
left padding, new tokens only). Prompts come from the processor's chat template, images
first; a checkpoint without one needs ``--prompt-format`` (e.g. ``"{images}Question: {text}
Answer:"``; ``{images}`` becomes the processor's image token once per image).

Paradigm metadata comes from the loaded model: the connector from ``config.model_type``
(`mllmbench.adapters.auto_paradigms.CONNECTORS`), the parameter groups from the submodule
names, the family name is the model type. Two generic rules replace the family adapters'
overrides: a rendered prompt that already starts with the BOS token is tokenized without
adding another, and images go to the processor as one list per prompt.

Video: the class declares `Capability.VIDEO`; a checkpoint whose processor has a video processor
(LLaVA-OneVision, LLaVA-NeXT-Video, Qwen2/2.5/3-VL ...) reads the sampled frames through its chat
template's video item (`HFVisionLanguageAdapter.video_processor_inputs`), and one without refuses
the request naming its model type. ``--prompt-format`` places images only, so it refuses videos.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from mllmbench.adapters.auto_paradigms import CONNECTORS, LLM_NAMES, find_param_groups
from mllmbench.adapters.hf import HFVisionLanguageAdapter, video_kwargs
from mllmbench.core.config import RunConfig
from mllmbench.core.errors import ConfigError
from mllmbench.core.types import AdapterInfo, Capability, Connector, Video

if TYPE_CHECKING:
    from PIL.Image import Image

FLAT_IMAGES = frozenset(
    {"llava", "llava_next", "llava_onevision", "qwen2_vl", "qwen2_5_vl", "qwen3_vl", "paligemma"}
)
"""Model types whose processors take one flat image list for the batch (the others: one list per prompt)."""


class AutoAdapter(HFVisionLanguageAdapter):
    """Any image-text-to-text checkpoint with a chat template (or a ``--prompt-format``)."""

    name: ClassVar[str] = "auto"
    description: ClassVar[str] = (
        "any AutoModelForImageTextToText checkpoint (chat template or --prompt-format)"
    )
    capabilities: ClassVar[Capability] = Capability.UNDERSTAND | Capability.VIDEO
    model_class_name: ClassVar[str] = "AutoModelForImageTextToText"
    tiny_recipe_reason: ClassVar[str | None] = (
        "loads other families' checkpoints; tested on tiny checkpoints of many model types "
        "(mllmbench.adapters.tiny.auto_models)"
    )

    def __init__(
        self,
        model: str,
        *,
        device: str = "cpu",
        dtype: str = "float32",
        trust_remote_code: bool = False,
        prompt_format: str | None = None,
    ) -> None:
        super().__init__(model, device=device, dtype=dtype, trust_remote_code=trust_remote_code)
        if prompt_format is not None and "{text}" not in prompt_format:
            raise ConfigError(f"--prompt-format must contain {{text}}, got {prompt_format!r}")
        self.prompt_format = prompt_format
        self.param_groups: dict[str, tuple[str, ...]] = {}  # type: ignore[misc]  # found at load
        self.connector: Connector = Connector.NONE  # type: ignore[misc]  # from the model type at load

    @classmethod
    def from_config(cls, config: RunConfig, *, device: str) -> AutoAdapter:
        """The adapter with the run's ``--prompt-format``."""
        return cls(
            config.model,
            device=device,
            dtype=config.dtype,
            trust_remote_code=config.trust_remote_code,
            prompt_format=config.prompt_format,
        )

    @property
    def model_type(self) -> str:
        """``config.model_type`` of the loaded model."""
        return str(self.model.config.model_type)

    def _from_pretrained(self, local_dir: Path | None) -> tuple[Any, Any]:
        model, processor = super()._from_pretrained(local_dir)
        model_type = str(model.config.model_type)
        if model_type not in CONNECTORS:
            raise ConfigError(
                f"adapter 'auto': model type {model_type!r} of {self.model_id!r} is not in the connector "
                f"table (mllmbench/adapters/auto_paradigms.py CONNECTORS); add it there"
            )
        self.connector = CONNECTORS[model_type]  # type: ignore[misc]  # per checkpoint, not per class
        self.param_groups = find_param_groups(model)  # type: ignore[misc]
        return model, processor

    def llm_backbone_name(self) -> str:
        """Class name of the language model module (not of its first parameter group member)."""
        names = {name for name, _ in self.model.named_modules()}
        found = next((n for n in LLM_NAMES if n in names), None)
        return type(self.model.get_submodule(found)).__name__ if found else super().llm_backbone_name()

    def _build_info(self, local_dir: Path | None) -> AdapterInfo:
        info = super()._build_info(local_dir)
        return replace(info, paradigm=replace(info.paradigm, family=self.model_type))

    # --- prompts and inputs ----------------------------------------------------------------
    def render_prompt(self, text: str, n_images: int) -> str:
        """The chat template's prompt, or `prompt_format` filled in when one is given."""
        if self.prompt_format is None:
            if not getattr(self.processor, "chat_template", None):
                raise ConfigError(
                    f"checkpoint {self.model_id!r} has no chat template; pass --prompt-format, e.g. "
                    f"'{{images}}Question: {{text}} Answer:' ({{images}}: the image tokens)"
                )
            return super().render_prompt(text, n_images)
        token = getattr(self.processor, "image_token", None) or getattr(self.tokenizer, "image_token", None)
        if n_images and not token:
            raise ConfigError(f"--prompt-format: the processor of {self.model_id!r} names no image token")
        return self.prompt_format.format(text=text, images=str(token or "") * n_images)

    def render_video_prompt(self, text: str, n_images: int, n_videos: int) -> str:
        """The chat template's prompt with video items; refused with ``--prompt-format``."""
        if self.prompt_format is not None:
            raise ConfigError(
                "--prompt-format places images only; a video needs the checkpoint's chat template"
            )
        if getattr(self.processor, "video_processor", None) is None:
            raise ConfigError(
                f"checkpoint {self.model_id!r} (model type {self.model_type!r}) has no video processor; "
                f"it cannot read video"
            )
        return super().render_video_prompt(text, n_images, n_videos)

    def chat_template_text(self) -> str | None:
        """The prompt format when one is given (it is what shapes the prompt), else the chat template."""
        return self.prompt_format if self.prompt_format is not None else super().chat_template_text()

    def image_token_id(self) -> int | None:
        """The id the model replaces with image features: the config's, then the processor's.

        (Gemma 3's processor names its begin-of-image marker; the config the soft image token.)
        """
        config = self.model.config
        for name in ("image_token_id", "image_token_index"):
            value = getattr(config, name, None)
            if value is not None:
                return int(value)
        return super().image_token_id()

    def processor_inputs(self, prompts: list[str], images: list[list[Image]]) -> Mapping[str, Any]:
        """``processor(text=, images=)``, padded; no second BOS when the prompts start with one."""
        return self._call_processor(prompts, images, {})

    def video_processor_inputs(
        self, prompts: list[str], images: list[list[Image]], videos: list[list[Video]]
    ) -> Mapping[str, Any]:
        """As `processor_inputs`, plus the videos (`mllmbench.adapters.hf.video_kwargs`)."""
        return self._call_processor(prompts, images, video_kwargs(videos))

    def _call_processor(
        self, prompts: list[str], images: list[list[Image]], extra: Mapping[str, Any]
    ) -> Mapping[str, Any]:
        bos = self.tokenizer.bos_token
        starts_with_bos = bool(prompts) and bool(bos) and all(p.startswith(bos) for p in prompts)
        if not any(images):
            batch_images: Any = None
        elif self.model_type in FLAT_IMAGES:
            batch_images = [image for sample in images for image in sample]
        else:
            batch_images = images
        return self.processor(  # type: ignore[no-any-return]
            text=prompts,
            images=batch_images,
            return_tensors="pt",
            padding=True,
            add_special_tokens=not starts_with_bos,
            **extra,
        )
