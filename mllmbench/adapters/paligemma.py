"""PaliGemma: SigLIP patch features through a linear projector into a Gemma prefix-LM.

Loads any ``PaliGemmaForConditionalGeneration`` checkpoint (``google/paligemma-3b-mix-224``,
``google/paligemma2-3b-mix-224`` and the like) with its ``PaliGemmaProcessor``.

PaliGemma has no chat template. Its input is a *prefix*: ``<image>`` tokens, ``<bos>``, the task
text and a ``\\n`` separator; the answer (the *suffix*) follows. The checkpoints were trained on
task prompts such as ``answer en {question}`` or ``caption en``, but that wording belongs to the
task, and in this harness the task's wording belongs to the suite. So the adapter passes the
suite's text **as is**: the recorded prompt is ``"<image>" * n_images + text``, and the
processor itself inserts ``<bos>`` after the last ``<image>``, appends the ``\\n`` and expands
each ``<image>`` into ``image_seq_length`` positions, exactly as when PaliGemma is called
directly. A suite that wants PaliGemma's task prefixes writes them into its prompt text.
Newlines inside the suite's text are kept too, although PaliGemma uses ``\\n`` as the
prefix/suffix separator: the whole prompt stays in the bidirectional prefix either way
(``token_type_ids`` are 0 up to and including the final separator).

The image and the prompt attend to each other bidirectionally (the processor's
``token_type_ids`` mark the prefix; ``generate`` extends them for the generated tokens). Every
image becomes a fixed number of tokens, ``(image_size / patch_size)^2`` (256 for a 224 px
checkpoint). Batching works with left padding.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from mllmbench.adapters.hf import HFVisionLanguageAdapter
from mllmbench.core.types import Capability, Connector

if TYPE_CHECKING:
    from PIL.Image import Image


class PaliGemmaAdapter(HFVisionLanguageAdapter):
    """PaliGemma (1 and 2): SigLIP ViT -> linear projector -> Gemma / Gemma 2 prefix-LM.

    Connector: ``mlp`` (a single linear layer). Visual tokens per image: the processor's
    ``image_seq_length``, the same for every image (the image is resized to the tower's size).
    Prompt: ``"<image>" * n_images + text``, no chat template (``AdapterInfo.chat_template`` is
    ``None``); see the module docstring.
    """

    name: ClassVar[str] = "paligemma"
    description: ClassVar[str] = "PaliGemma: SigLIP vision tower, linear projector, Gemma prefix-LM"
    capabilities: ClassVar[Capability] = Capability.UNDERSTAND
    connector: ClassVar[Connector] = Connector.MLP
    model_class_name: ClassVar[str] = "PaliGemmaForConditionalGeneration"
    param_groups: ClassVar[dict[str, tuple[str, ...]]] = {
        "vision": ("model.vision_tower",),
        "connector": ("model.multi_modal_projector",),
        "llm": ("model.language_model", "lm_head"),
    }

    def render_prompt(self, text: str, n_images: int) -> str:
        """The prefix PaliGemma's processor expects: one ``<image>`` per image, then `text` as is."""
        return self.processor.image_token * n_images + text  # type: ignore[no-any-return]

    def processor_inputs(self, prompts: list[str], images: list[list[Image]]) -> Mapping[str, Any]:
        """The processor's outputs without ``labels``: those are training targets, not model inputs.

        (``generate`` ignores them, but every forward would compute a loss over them.)
        """
        inputs = dict(super().processor_inputs(prompts, images))
        inputs.pop("labels", None)
        return inputs

    def chat_template_text(self) -> str | None:
        """``None``: PaliGemma applies no chat template (the prompt is the raw prefix)."""
        return None

    def visual_tokens_per_image(self) -> int | None:
        """The processor's ``image_seq_length``: every image becomes that many tokens."""
        return int(self.processor.image_seq_length)

    @classmethod
    def build_tiny(cls, out_dir: Path, *, seed: int = 0) -> Path:
        """Write the tiny random checkpoint of `mllmbench.adapters.tiny.paligemma` to `out_dir`."""
        from mllmbench.adapters.tiny import paligemma

        return paligemma.build(out_dir, seed=seed)
