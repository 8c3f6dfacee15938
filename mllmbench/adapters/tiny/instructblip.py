"""Tiny random InstructBLIP (about 200k parameters) with its two-tokenizer processor.

The BLIP-2 tiny recipe (2-layer ViT on 32x32 images, 2-layer Q-Former with 8 learned queries
starting at zero, vision init 0.02, no dropout) with a 2-layer Llama as the LLM on the offline
tiny tokenizer, and a tiny WordPiece Q-Former tokenizer whose vocabulary sizes the Q-Former's
word embeddings. Here the queries also attend to the instruction, whose normalised embeddings
fill the residual stream before the image cross-attention adds to it; with the default 0.02 init
that image term is about 1% of the stream and no answer changes with the image, so the Q-Former
is initialised with 0.1. Same seed, same bytes.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from mllmbench.adapters.tiny.blip2 import QUERY_TOKENS, blip_vision_config, qformer_config
from mllmbench.adapters.tiny.checkpoint import save, seeded
from mllmbench.adapters.tiny.language_models import llama_config
from mllmbench.adapters.tiny.tokenizer import build_tiny_tokenizer, default_corpus
from mllmbench.adapters.tiny.vision_towers import IMAGE_SIZE

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast

QFORMER_SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[DEC]")
"""BERT's special tokens plus ``[DEC]``, the BOS token InstructBLIP adds to its Q-Former tokenizer."""


def qformer_tokenizer() -> PreTrainedTokenizerFast:
    """A small uncased WordPiece tokenizer in BERT's form (``[CLS] text [SEP]``), built offline.

    It mirrors the real Q-Former tokenizer (``bert-base-uncased`` plus ``[DEC]`` as BOS,
    truncating on the left). The vocabulary is written out rather than trained (the WordPiece
    trainer numbers its tokens differently from run to run): the special tokens, every
    character of the shared tiny corpus alone and as a ``##`` continuation, then every corpus
    word, sorted. Corpus words are single tokens; other words fall apart into characters.
    """
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

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


def build(out_dir: Path, *, seed: int = 0) -> Path:
    """Write the tiny InstructBLIP and its processor (``qformer_tokenizer/`` included) to `out_dir`."""
    from transformers import (
        BlipImageProcessor,
        InstructBlipConfig,
        InstructBlipForConditionalGeneration,
        InstructBlipProcessor,
        InstructBlipQFormerConfig,
        InstructBlipVisionConfig,
    )

    tokenizer = build_tiny_tokenizer(extra_special_tokens=["<image>"])
    q_tokenizer = qformer_tokenizer()
    processor = InstructBlipProcessor(
        image_processor=BlipImageProcessor(size={"height": IMAGE_SIZE, "width": IMAGE_SIZE}),
        tokenizer=tokenizer,
        qformer_tokenizer=q_tokenizer,
        num_query_tokens=QUERY_TOKENS,
    )
    q_config = qformer_config(InstructBlipQFormerConfig, vocab_size=len(q_tokenizer), initializer_range=0.1)
    q_config.pad_token_id = q_tokenizer.pad_token_id
    config = InstructBlipConfig(
        vision_config=blip_vision_config(InstructBlipVisionConfig),
        qformer_config=q_config,
        text_config=llama_config(tokenizer),
        num_query_tokens=QUERY_TOKENS,
        image_token_index=tokenizer.get_vocab()["<image>"],
    )
    with seeded(seed):
        model = InstructBlipForConditionalGeneration(config).eval()
    return save(out_dir, model, processor)
