"""IDEFICS (v1): a Flamingo-style model whose LLM reads the image through gated cross-attention.

Loads any ``IdeficsForVisionText2Text`` checkpoint (``HuggingFaceM4/idefics-9b-instruct`` and
the like) with its ``IdeficsProcessor``. A CLIP-style ViT encodes each image, a perceiver
resampler turns the patch features into a fixed number of latents, and gated cross-attention
layers interleaved with the LLM's decoder layers attend to those latents (feature-level fusion).
The image does not become LLM tokens: in the text it is only a placeholder,
``<fake_token_around_image><image><fake_token_around_image>``, that tells the
``image_attention_mask`` from which position on the text may look at which image.

The IDEFICS processor takes images *inline*, as items of a prompt list
(``["User:", image, "question<end_of_utterance>\\nAssistant:"]``), not as ``images=``. The
adapter renders a prompt string in which ``<image>`` marks where each image goes (that string
is the recorded prompt) and splits it back into such a list for the processor.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from mllmbench.adapters.hf import HFVisionLanguageAdapter
from mllmbench.core.errors import ConfigError
from mllmbench.core.types import Capability, Connector

if TYPE_CHECKING:
    from PIL.Image import Image

IMAGE_TOKEN = "<image>"
"""Marks an image's place in the recorded prompt (the processor's own image token)."""
FAKE_IMAGE_TOKEN = "<fake_token_around_image>"
END_OF_UTTERANCE = "<end_of_utterance>"
"""Ends every turn of the instruct checkpoints; the adapter also stops generation on it."""

IDEFICS_INSTRUCT_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ message['role'] | capitalize }}:"
    "{% for content in message['content'] %}"
    "{% if content['type'] == 'image' %}{{ '<image>' }}{% else %}{{ content['text'] }}{% endif %}"
    "{% endfor %}"
    "{{ '<end_of_utterance>\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}"
)
"""The dialogue format of ``idefics-9b-instruct`` (``User:<image>{text}<end_of_utterance>\\nAssistant:``).

The IDEFICS v1 checkpoints ship no chat template, and ``IdeficsProcessor`` drops one given to
it (its ``__init__`` does not pass ``chat_template`` on), so the adapter always applies this one.
"""


class IdeficsAdapter(HFVisionLanguageAdapter):
    """IDEFICS v1 (Flamingo design): CLIP ViT -> perceiver resampler -> gated cross-attention in a Llama.

    Visual tokens: each image takes one ``<image>`` position in ``input_ids`` (between two
    ``<fake_token_around_image>`` markers); that is what ``Usage.image_tokens`` counts. The
    image's content enters through cross-attention instead, so ``visual_tokens_per_image``
    reports the number of image features the cross-attention layers attend to per image: the
    perceiver resampler's latents (``perceiver_config.resampler_n_latents``), or, for a
    checkpoint without a resampler, the ViT's patch features plus its CLS feature.

    Batching: batched, left-padded; the processor's ``image_attention_mask`` keeps padding and
    text before the image away from it.
    """

    name: ClassVar[str] = "idefics"
    description: ClassVar[str] = (
        "IDEFICS v1 (Flamingo): CLIP ViT, perceiver resampler, gated cross-attention inside a Llama LLM"
    )
    capabilities: ClassVar[Capability] = Capability.UNDERSTAND
    connector: ClassVar[Connector] = Connector.CROSS_ATTENTION
    model_class_name: ClassVar[str] = "IdeficsForVisionText2Text"

    @property
    def param_groups(self) -> dict[str, tuple[str, ...]]:  # type: ignore[override]
        """Vision tower; resampler (when the checkpoint has one) and gated cross-attention; the LLM."""
        resampler = ("model.perceiver_resampler",) if self.model.config.use_resampler else ()
        return {
            "vision": ("model.vision_model",),
            "connector": (*resampler, "model.gated_cross_attn_layers"),
            "llm": ("model.embed_tokens", "model.layers", "model.norm", "lm_head"),
        }

    def load(self) -> None:
        """Load as usual, then also end generation at ``<end_of_utterance>``.

        The instruct checkpoints end each turn with ``<end_of_utterance>`` rather than EOS (the
        model card passes it as the exit condition), so the adapter adds its id to
        ``model.generation_config.eos_token_id`` when the tokenizer knows the token.
        """
        super().load()
        end_id = self.tokenizer.convert_tokens_to_ids(END_OF_UTTERANCE)
        if end_id is None or end_id == self.tokenizer.unk_token_id:
            return
        config = self.model.generation_config
        eos = config.eos_token_id if config.eos_token_id is not None else self.tokenizer.eos_token_id
        eos_ids = list(eos) if isinstance(eos, (list, tuple)) else [eos] if eos is not None else []
        if end_id not in eos_ids:
            config.eos_token_id = [*eos_ids, int(end_id)]

    def render_prompt(self, text: str, n_images: int) -> str:
        """``User:<image>…{text}<end_of_utterance>\\nAssistant:`` (`IDEFICS_INSTRUCT_CHAT_TEMPLATE`)."""
        content: list[dict[str, str]] = [{"type": "image"} for _ in range(n_images)]
        content.append({"type": "text", "text": text})
        messages = [{"role": "user", "content": content}]
        return str(
            self.processor.apply_chat_template(
                messages,
                chat_template=IDEFICS_INSTRUCT_CHAT_TEMPLATE,
                add_generation_prompt=True,
                tokenize=False,
            )
        )

    def chat_template_text(self) -> str:
        """`IDEFICS_INSTRUCT_CHAT_TEMPLATE` (``IdeficsProcessor`` cannot carry a template of its own)."""
        return IDEFICS_INSTRUCT_CHAT_TEMPLATE

    def processor_inputs(self, prompts: list[str], images: list[list[Image]]) -> Mapping[str, Any]:
        """Split each prompt at ``<image>`` and give the processor text and images inline, padded."""
        samples = [
            interleave(prompt, sample_images) for prompt, sample_images in zip(prompts, images, strict=True)
        ]
        return self.processor(text=samples, return_tensors="pt", padding="longest")  # type: ignore[no-any-return]

    def timed_modules(self) -> list[Any]:
        """Vision tower and resampler only (the gated cross-attention layers run inside the LLM).

        IDEFICS caches the ViT output during generation but runs the resampler on it again at
        every step, so the resampler's time recurs in decode.
        """
        names = ["model.vision_model"]
        if self.model.config.use_resampler:
            names.append("model.perceiver_resampler")
        return [self.model.get_submodule(name) for name in names]

    def llm_backbone_name(self) -> str:
        """The decoder-layer class: the LLM has no module of its own inside ``IdeficsModel``."""
        return type(self.model.get_submodule("model.layers")[0]).__name__

    def visual_tokens_per_image(self) -> int:
        """Image features the cross-attention attends to per image (resampler latents or ViT patches + CLS)."""
        config = self.model.config
        if config.use_resampler:
            return int(config.perceiver_config.resampler_n_latents)
        vision = config.vision_config
        return int((vision.image_size // vision.patch_size) ** 2 + 1)

    @classmethod
    def build_tiny(cls, out_dir: Path, *, seed: int = 0) -> Path:
        """Write the tiny random checkpoint of `mllmbench.adapters.tiny.idefics` to `out_dir`."""
        from mllmbench.adapters.tiny import idefics

        return idefics.build(out_dir, seed=seed)


def interleave(prompt: str, images: list[Image]) -> list[Any]:
    """``"User:<image>Q"`` + ``[img]`` -> ``["User:", img, "Q"]``: the IDEFICS processor's inline form.

    Empty text pieces are dropped (the processor would treat them as turns of their own).

    Raises:
        ConfigError: the prompt has a different number of ``<image>`` markers than images.
    """
    pieces = prompt.split(IMAGE_TOKEN)
    if len(pieces) - 1 != len(images):
        raise ConfigError(
            f"IDEFICS prompt has {len(pieces) - 1} {IMAGE_TOKEN} markers for {len(images)} images: {prompt!r}"
        )
    items: list[Any] = [pieces[0]] if pieces[0] else []
    for image, piece in zip(images, pieces[1:], strict=True):
        items.append(image)
        if piece:
            items.append(piece)
    return items
