"""A text-only causal LM that never sees the image: the language-prior ("blind") baseline.

Loads any ``AutoModelForCausalLM`` checkpoint with a tokenizer that has a chat template. Each
request's images are dropped before the prompt is built: the prompt is the chat template applied
to the suite's text alone, so a VQA score measures what the LLM answers from the question and
its training prior. No image token is ever fed (``image_tokens`` 0, ``visual_tokens_per_image``
0, connector ``none``). The zoo's ``blind`` member is this adapter on the zoo LLM trained on the
same Shapes conversations as the visual members, with the images withheld.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from mllmbench.adapters.hf import HFVisionLanguageAdapter
from mllmbench.core.types import Capability, Connector

if TYPE_CHECKING:
    from PIL.Image import Image


class TextLLMAdapter(HFVisionLanguageAdapter):
    """Causal LM + tokenizer; images are accepted and ignored (never encoded, never tokenized)."""

    name: ClassVar[str] = "text_llm"
    description: ClassVar[str] = "Text-only LLM that ignores the image (the blind baseline)"
    capabilities: ClassVar[Capability] = Capability.UNDERSTAND
    connector: ClassVar[Connector] = Connector.NONE
    model_class_name: ClassVar[str] = "AutoModelForCausalLM"
    processor_class_name: ClassVar[str] = "AutoTokenizer"
    param_groups: ClassVar[dict[str, tuple[str, ...]]] = {"llm": ("model", "lm_head")}

    def render_prompt(self, text: str, n_images: int) -> str:
        """The chat template applied to the text alone (the images are not mentioned)."""
        return super().render_prompt(text, 0)

    def processor_inputs(self, prompts: list[str], images: list[list[Image]]) -> Mapping[str, Any]:
        """The tokenized prompts, padded; `images` are ignored."""
        return self.processor(text=prompts, return_tensors="pt", padding=True)  # type: ignore[no-any-return]

    def count_image_tokens(self, inputs: Mapping[str, Any]) -> list[int]:
        """Zero per sample: no image reaches the model."""
        return [0] * int(inputs["input_ids"].shape[0])

    def visual_tokens_per_image(self) -> int:
        """Zero: the image is never encoded."""
        return 0

    def vision_encoder_name(self) -> str:
        """No vision encoder."""
        return ""

    def timed_modules(self) -> list[Any]:
        """No vision or connector modules to time."""
        return []

    def llm_backbone_name(self) -> str:
        """The causal LM's class (``LlamaForCausalLM``)."""
        return type(self.model).__name__

    @classmethod
    def build_tiny(cls, out_dir: Path, *, seed: int = 0) -> Path:
        """Write a tiny random Llama with the llava-1.5 chat template and its tokenizer to `out_dir`."""
        from transformers import LlamaForCausalLM

        from mllmbench.adapters.tiny.chat_templates import LLAVA_15_CHAT_TEMPLATE
        from mllmbench.adapters.tiny.checkpoint import save, seeded
        from mllmbench.adapters.tiny.language_models import llama_config
        from mllmbench.adapters.tiny.tokenizer import build_tiny_tokenizer

        tokenizer = build_tiny_tokenizer()
        tokenizer.chat_template = LLAVA_15_CHAT_TEMPLATE
        with seeded(seed):
            model = LlamaForCausalLM(llama_config(tokenizer)).eval()
        return save(out_dir, model, tokenizer)
