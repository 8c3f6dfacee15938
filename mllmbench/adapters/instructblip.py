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
    TINY_IMAGE_SIZE,
    TINY_LLM_HIDDEN,
    TINY_QUERY_TOKENS,
    Blip2Adapter,
    tiny_qformer_config,
    tiny_vision_config,
)
from mllmbench.core.types import Capability, Connector

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast

PROMPT_FORMAT = "{text}"
"""InstructBLIP's prompt: the instruction itself, for the LLM and the Q-Former alike."""

QFORMER_SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[DEC]")
"""BERT's special tokens plus ``[DEC]``, the BOS token InstructBLIP adds to its Q-Former tokenizer."""


def build_tiny_qformer_tokenizer() -> PreTrainedTokenizerFast:
    """A small uncased WordPiece tokenizer in BERT's form (``[CLS] text [SEP]``), built offline.

    It mirrors the real Q-Former tokenizer (``bert-base-uncased`` plus ``[DEC]`` as BOS,
    truncating on the left). The vocabulary is written out rather than trained (the WordPiece
    trainer numbers its tokens differently from run to run): the special tokens, every
    character of the shared tiny corpus alone and as a ``##`` continuation, then every corpus
    word, sorted. Corpus words are single tokens; other words fall apart into characters.
    """
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    from mllmbench.adapters.tiny_tokenizer import default_corpus

    normalizer = normalizers.BertNormalizer(lowercase=True)
    pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    words = {
        word
        for line in default_corpus()
        for word, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(line))
    }
    chars = sorted({char for word in words for char in word})
    tokens = [*QFORMER_SPECIAL_TOKENS, *chars, *(f"##{c}" for c in chars), *sorted(words - set(chars))]
    vocab = {token: index for index, token in enumerate(tokens)}

    backend = Tokenizer(models.WordPiece(vocab=vocab, unk_token="[UNK]"))
    backend.normalizer = normalizer
    backend.pre_tokenizer = pre_tokenizer
    backend.decoder = decoders.WordPiece()
    backend.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        pad_token="[PAD]",
        unk_token="[UNK]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        bos_token="[DEC]",
        truncation_side="left",
        model_input_names=["input_ids", "attention_mask"],
        clean_up_tokenization_spaces=False,
    )


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
        """Write a tiny random InstructBLIP (about 200k parameters) and its processor to `out_dir`.

        The BLIP-2 tiny recipe (2-layer ViT on 32x32 images, 2-layer Q-Former with 8 learned
        queries starting at zero, vision init 0.02, no dropout) with a 2-layer Llama as the LLM
        on the offline tiny tokenizer, and a tiny WordPiece Q-Former tokenizer whose vocabulary
        sizes the Q-Former's word embeddings. Here the queries also attend to the instruction,
        whose normalised embeddings fill the residual stream before the image cross-attention
        adds to it; with the default 0.02 init that image term is about 1% of the stream and no
        answer changes with the image, so the Q-Former is initialised with 0.1. Same seed, same
        bytes.
        """
        import torch
        from transformers import (
            BlipImageProcessor,
            InstructBlipConfig,
            InstructBlipForConditionalGeneration,
            InstructBlipProcessor,
            InstructBlipQFormerConfig,
            InstructBlipVisionConfig,
            LlamaConfig,
        )

        from mllmbench.adapters.tiny_tokenizer import build_tiny_tokenizer

        tokenizer = build_tiny_tokenizer(extra_special_tokens=["<image>"])
        qformer_tokenizer = build_tiny_qformer_tokenizer()
        processor = InstructBlipProcessor(
            image_processor=BlipImageProcessor(size={"height": TINY_IMAGE_SIZE, "width": TINY_IMAGE_SIZE}),
            tokenizer=tokenizer,
            qformer_tokenizer=qformer_tokenizer,
            num_query_tokens=TINY_QUERY_TOKENS,
        )
        qformer_config = tiny_qformer_config(
            InstructBlipQFormerConfig, vocab_size=len(qformer_tokenizer), initializer_range=0.1
        )
        qformer_config.pad_token_id = qformer_tokenizer.pad_token_id
        config = InstructBlipConfig(
            vision_config=tiny_vision_config(InstructBlipVisionConfig),
            qformer_config=qformer_config,
            text_config=LlamaConfig(
                hidden_size=TINY_LLM_HIDDEN,
                intermediate_size=2 * TINY_LLM_HIDDEN,
                num_hidden_layers=2,
                num_attention_heads=4,
                num_key_value_heads=2,
                vocab_size=len(tokenizer),
                max_position_embeddings=256,
                bos_token_id=tokenizer.bos_token_id,
                eos_token_id=tokenizer.eos_token_id,
                pad_token_id=tokenizer.pad_token_id,
                initializer_range=0.02,
            ),
            num_query_tokens=TINY_QUERY_TOKENS,
            image_token_index=tokenizer.get_vocab()["<image>"],
        )
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = InstructBlipForConditionalGeneration(config).eval()
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(out_dir)
        processor.save_pretrained(out_dir)
        return out_dir
