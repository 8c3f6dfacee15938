"""BLIP-2: a frozen ViT, a Q-Former whose learned queries compress the image, and an OPT LLM.

Loads any ``Blip2ForConditionalGeneration`` checkpoint with a decoder-only LLM
(``Salesforce/blip2-opt-2.7b`` and the like) with its ``Blip2Processor``. The Q-Former turns
the image into ``num_query_tokens`` vectors (32 in the real checkpoints) whatever the image
size; a linear layer projects them into the LLM, where they take the place of as many
``<image>`` tokens that the processor puts *before* the BOS token.

BLIP-2 has no chat template. Its zero-shot VQA prompt for the OPT models (BLIP-2 paper and the
transformers model card) is ``Question: {question} Answer:``; the adapter applies that format
to the suite's text verbatim (`PROMPT_FORMAT`), so the suite's own instruction sentence (for
example "Answer the question using a single word or phrase.") stays inside the question and the
prompt wording keeps belonging to the suite. A caption request becomes
``Question: Provide a one-sentence caption for the provided image. Answer:`` in the same way.

Batching: the processor pads the text on the left and then prepends the image tokens, so a
padded row is ``<image>…<image> <pad>… </s> text``; OPT derives its positions from the
attention mask, so the pads in the middle change nothing and batches equal single requests.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from mllmbench.adapters.counting import eos_id_set
from mllmbench.adapters.hf import HFVisionLanguageAdapter
from mllmbench.core.errors import ConfigError, InputError
from mllmbench.core.types import (
    AdapterInfo,
    Capability,
    Connector,
    GenerationSettings,
    UnderstandRequest,
    UnderstandResponse,
)

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)

PROMPT_FORMAT = "Question: {text} Answer:"
"""BLIP-2's zero-shot VQA prompt (OPT models); ``{text}`` is the suite's text, unchanged."""


def move_query_tokens_to_connector(info: AdapterInfo, n_query_parameters: int) -> AdapterInfo:
    """`info` with the learned query tokens counted in ``connector`` instead of ``other``.

    The query tokens are a bare ``nn.Parameter`` of the model, not a submodule, so
    `HFVisionLanguageAdapter`'s per-submodule count leaves them in ``other``.
    """
    params = dict(info.parameters)
    params["connector"] = params.get("connector", 0) + n_query_parameters
    params["other"] = params.get("other", 0) - n_query_parameters
    if params["other"] == 0:
        del params["other"]
    return dataclasses.replace(info, parameters=params)


def check_checkpoint(model: Any, processor: Any, checkpoint: str, family: str) -> None:
    """Refuse what the adapter cannot run faithfully; complete what an older checkpoint lacks.

    * An encoder-decoder LLM (the FlanT5 checkpoints) is refused with `ConfigError`: its
      ``generate`` returns decoder tokens only and its relative positions see the padding
      between the query tokens and the text, so neither the decoding nor batching here fits it.
    * Current transformers puts ``num_query_tokens`` ``<image>`` tokens in front of each prompt
      and the model overwrites exactly those positions; without them the model would silently
      answer from the text alone. Checkpoints saved before that convention lack
      ``num_query_tokens`` in the processor config (taken from the model config, with a
      warning) or ``image_token_index`` in the model config (`ConfigError`: the id of the
      ``<image>`` token is not known).
    """
    if not getattr(model.config, "use_decoder_only_language_model", True):
        raise ConfigError(
            f"checkpoint {checkpoint!r} has an encoder-decoder LLM "
            f"({type(model.language_model).__name__}); adapter {family!r} supports decoder-only "
            f"LLMs (OPT, Vicuna/Llama) only"
        )
    if getattr(model.config, "image_token_index", None) is None:
        raise ConfigError(
            f"checkpoint {checkpoint!r}: config.json has no image_token_index, so transformers "
            f"cannot place the query tokens; re-save it with a current transformers or add the id "
            f"of the <image> token as image_token_index"
        )
    if getattr(processor, "num_query_tokens", None) is None:
        log.warning(
            "checkpoint %r: processor config has no num_query_tokens; using the model's %d",
            checkpoint,
            model.config.num_query_tokens,
        )
        processor.num_query_tokens = model.config.num_query_tokens


def require_one_image(batch: Sequence[UnderstandRequest], family: str) -> None:
    """Raise `InputError` naming the first request that does not hold exactly one image.

    The BLIP processors put one block of query tokens in front of each prompt, so a prompt
    can carry exactly one image.
    """
    for request in batch:
        if len(request.images) != 1:
            raise InputError(
                f"sample {request.sample_id!r}: {family} takes exactly one image per prompt, "
                f"got {len(request.images)}"
            )


class Blip2Adapter(HFVisionLanguageAdapter):
    """BLIP-2: ViT -> Q-Former (learned queries) -> linear projection -> OPT.

    ``visual_tokens_per_image`` is ``num_query_tokens``, independent of the image size. The
    connector parameter count holds the Q-Former, the learned query tokens and the projection.
    One image per request (`InputError` otherwise).
    """

    name: ClassVar[str] = "blip2"
    description: ClassVar[str] = "BLIP-2: ViT, Q-Former with learned queries, OPT LLM"
    capabilities: ClassVar[Capability] = Capability.UNDERSTAND
    connector: ClassVar[Connector] = Connector.QFORMER
    model_class_name: ClassVar[str] = "Blip2ForConditionalGeneration"
    param_groups: ClassVar[dict[str, tuple[str, ...]]] = {
        "vision": ("vision_model",),
        "connector": ("qformer", "language_projection"),
        "llm": ("language_model",),
    }

    # --- understanding ---------------------------------------------------------------------
    def understand(
        self, batch: Sequence[UnderstandRequest], settings: GenerationSettings
    ) -> list[UnderstandResponse]:
        """Check that every request has one image, then answer the batch in one call."""
        require_one_image(batch, self.name)
        return super().understand(batch, settings)

    def render_prompt(self, text: str, n_images: int) -> str:
        """``Question: {text} Answer:`` (the processor places the image tokens itself)."""
        return PROMPT_FORMAT.format(text=text)

    def chat_template_text(self) -> str | None:
        """The fixed prompt format, recorded in place of a chat template."""
        return PROMPT_FORMAT

    def _from_pretrained(self, local_dir: Path | None) -> tuple[Any, Any]:
        model, processor = super()._from_pretrained(local_dir)
        check_checkpoint(model, processor, self.model_id, self.name)
        return model, processor

    def _build_info(self, local_dir: Path | None) -> AdapterInfo:
        info = super()._build_info(local_dir)
        return move_query_tokens_to_connector(info, self.model.query_tokens.numel())

    def _eos_token_ids(self) -> set[int]:
        # ``generate`` delegates to the language model, so its generation config decides
        # where generation stops.
        eos = self.model.language_model.generation_config.eos_token_id
        if eos is None:
            return super()._eos_token_ids()
        return eos_id_set(eos)

    # --- tiny checkpoints ------------------------------------------------------------------
    @classmethod
    def build_tiny(cls, out_dir: Path, *, seed: int = 0) -> Path:
        """Write the tiny random checkpoint of `mllmbench.adapters.tiny.blip2` to `out_dir`."""
        from mllmbench.adapters.tiny import blip2

        return blip2.build(out_dir, seed=seed)
