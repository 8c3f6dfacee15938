"""InstructBLIP: BLIP-2 whose Q-Former also reads the instruction, so the queries are instruction-aware.

Loads any ``InstructBlipForConditionalGeneration`` checkpoint with a decoder-only LLM
(``Salesforce/instructblip-vicuna-7b`` and the like) with its ``InstructBlipProcessor``, which
holds two tokenizers: the LLM's, and a BERT-style ``qformer_tokenizer`` (saved in the
``qformer_tokenizer/`` subdirectory) that turns the same instruction into
``qformer_input_ids``. The Q-Former's learned queries attend to the instruction tokens and to
the image, and become ``num_query_tokens`` LLM positions in front of the BOS token.

InstructBLIP has no chat template either; it is instruction-tuned on the bare instruction, and
the transformers model card passes the question as the whole prompt. The adapter therefore
sends the suite's text unchanged to both tokenizers (`PROMPT_FORMAT` is ``{text}``).

Batching: the LLM tokenizer pads on the left (the processor then prepends the query tokens,
as for BLIP-2); the Q-Former tokenizer keeps BERT's right padding, so the instruction starts at
position 0 in every row and its padding is masked out of the Q-Former's self-attention.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from mllmbench.adapters.blip2 import (
    Blip2Adapter,
)
from mllmbench.core.types import Capability, Connector

if TYPE_CHECKING:
    pass

PROMPT_FORMAT = "{text}"
"""InstructBLIP's prompt: the instruction itself, for the LLM and the Q-Former alike."""


class InstructBlipAdapter(Blip2Adapter):
    """InstructBLIP: ViT -> instruction-aware Q-Former (learned queries) -> projection -> Vicuna/Llama.

    As for BLIP-2, ``visual_tokens_per_image`` is ``num_query_tokens`` and the connector count
    holds the Q-Former (with its own word embeddings for the instruction), the query tokens and
    the projection. One image per request.
    """

    name: ClassVar[str] = "instructblip"
    description: ClassVar[str] = (
        "InstructBLIP: ViT, instruction-aware Q-Former with learned queries, Vicuna/Llama LLM"
    )
    capabilities: ClassVar[Capability] = Capability.UNDERSTAND
    connector: ClassVar[Connector] = Connector.QFORMER
    model_class_name: ClassVar[str] = "InstructBlipForConditionalGeneration"

    def render_prompt(self, text: str, n_images: int) -> str:
        """The instruction unchanged (the processor places the query tokens itself)."""
        return PROMPT_FORMAT.format(text=text)

    def chat_template_text(self) -> str | None:
        """The fixed prompt format, recorded in place of a chat template."""
        return PROMPT_FORMAT

    @classmethod
    def build_tiny(cls, out_dir: Path, *, seed: int = 0) -> Path:
        """Write the tiny random checkpoint of `mllmbench.adapters.tiny.instructblip` to `out_dir`."""
        from mllmbench.adapters.tiny import instructblip

        return instructblip.build(out_dir, seed=seed)
