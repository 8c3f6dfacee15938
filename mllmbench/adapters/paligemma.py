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

TINY_IMAGE_SIZE = 32
TINY_PATCH_SIZE = 8
TINY_IMAGE_TOKENS = (TINY_IMAGE_SIZE // TINY_PATCH_SIZE) ** 2
"""Image tokens of the tiny checkpoint: one per SigLIP patch."""
TINY_TEXT_INIT_RANGE = 0.3
"""Weight spread of the tiny Gemma and projector (see `PaliGemmaAdapter.build_tiny`)."""


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
        """Write a tiny random PaliGemma and its processor to `out_dir`.

        A 2-layer SigLIP ViT on 32x32 images with 8x8 patches (16 image tokens), the linear
        projector and a 2-layer Gemma on the offline tiny tokenizer (``<bos>``/``<eos>``/``<pad>``;
        the processor adds PaliGemma's ``<image>``, ``<locXXXX>`` and ``<segXXX>`` tokens). Weights
        come from the default initialisers under ``torch.manual_seed(seed)``, with a wide text
        ``initializer_range`` so that the answer depends on the image.
        """
        import torch
        from transformers import (
            GemmaConfig,
            PaliGemmaConfig,
            PaliGemmaForConditionalGeneration,
            PaliGemmaProcessor,
            SiglipImageProcessor,
            SiglipVisionConfig,
        )

        from mllmbench.adapters.tiny_tokenizer import build_tiny_tokenizer

        tokenizer = build_tiny_tokenizer(
            bos_token="<bos>",
            eos_token="<eos>",
            pad_token="<pad>",
            unk_token="<unk>",
            extra_special_tokens={"image_token": "<image>"},
            add_bos_token=False,
        )
        # PaliGemmaProcessor reads the image token count from the image processor.
        image_processor = SiglipImageProcessor(
            size={"height": TINY_IMAGE_SIZE, "width": TINY_IMAGE_SIZE}, image_seq_length=TINY_IMAGE_TOKENS
        )
        processor = PaliGemmaProcessor(image_processor=image_processor, tokenizer=tokenizer)
        vision_config = SiglipVisionConfig(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            image_size=TINY_IMAGE_SIZE,
            patch_size=TINY_PATCH_SIZE,
            vision_use_head=False,
        )
        text_config = GemmaConfig(
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=1,
            head_dim=16,
            vocab_size=len(tokenizer),
            max_position_embeddings=256,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
            # Gemma scales token embeddings by sqrt(hidden) and ties them to the output head: with
            # the usual 0.02 spread a random tiny model just repeats its last input token whatever
            # the image. A wider spread lets the layers (and so the image) decide the answer.
            initializer_range=TINY_TEXT_INIT_RANGE,
        )
        config = PaliGemmaConfig(
            vision_config=vision_config,
            text_config=text_config,
            image_token_index=processor.image_token_id,
            vocab_size=len(tokenizer),
            projection_dim=text_config.hidden_size,
            hidden_size=text_config.hidden_size,
        )
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = PaliGemmaForConditionalGeneration(config).eval()
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(out_dir)
        processor.save_pretrained(out_dir)
        return out_dir
