"""A small byte-level BPE tokenizer trained offline, shared by every family's tiny checkpoint.

Tiny random checkpoints need a tokenizer that exists without the hub. This module trains one
with the `tokenizers` library on a fixed corpus made of the words of Shapes-style questions
and captions (colours, shapes, numbers, yes/no, chat-template roles), so the prompts a test
sends tokenize into a few dozen tokens, and wraps it as a transformers fast tokenizer with the
family's special tokens. Same arguments -> same vocabulary, merges and ids.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast

COLOURS = ("red", "green", "blue", "yellow", "purple", "orange", "white", "black", "gray", "pink")
SHAPES = ("circle", "square", "triangle", "rectangle", "star", "ellipse", "shape", "shapes")
NUMBERS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
POSITIONS = ("left", "right", "top", "bottom", "middle", "center")

_QUESTIONS = (
    "What colour is the {shape}?",
    "What color is the {shape}?",
    "How many {shape}s are there?",
    "Is there a {colour} {shape}?",
    "Is the {shape} on the {position}?",
    "What shape is {colour}?",
    "Describe the image.",
    "Answer with one word.",
    "Answer the question using a single word or phrase.",
)
_CAPTIONS = (
    "A {colour} {shape} on the {position}.",
    "There is a {colour} {shape} in the {position} of the image.",
    "There are {number} shapes: a {colour} {shape} and a small {shape}.",
    "The picture shows {number} {colour} {shape}s on a white background.",
)
_FIXED = (
    "USER: ASSISTANT: User: Assistant: Question: Answer: system user assistant",
    "yes no Yes No yes. no. true false",
    "0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16",
    "a an the of in on at and or is are there this that what which how many big small large",
)


def default_corpus() -> list[str]:
    """The fixed training sentences: Shapes-style questions, answers and captions in chat form."""
    lines = list(_FIXED)
    lines += [" ".join(COLOURS), " ".join(SHAPES), " ".join(NUMBERS), " ".join(POSITIONS)]
    # One pass over colour x shape, with position and number cycling: every word appears many
    # times (so BPE merges it) while the corpus stays small enough to train in milliseconds.
    pairs = itertools.product(COLOURS, SHAPES[:6])
    for i, (colour, shape) in enumerate(pairs):
        fields = {
            "colour": colour,
            "shape": shape,
            "position": POSITIONS[i % len(POSITIONS)],
            "number": NUMBERS[1 + i % 5],
        }
        question = _QUESTIONS[i % len(_QUESTIONS)].format(**fields)
        caption = _CAPTIONS[i % len(_CAPTIONS)].format(**fields)
        answer = ("yes", "no", colour, shape, fields["number"])[i % 5]
        lines.append(f"USER: {question} ASSISTANT: {answer}")
        lines.append(f"User: {question}\nAssistant: {caption}")
        lines.append(f"Question: {question} Answer: {answer}. {caption}")
    return lines


def build_tiny_tokenizer(
    *,
    bos_token: str | None = "<s>",
    eos_token: str | None = "</s>",
    pad_token: str | None = "<pad>",
    unk_token: str | None = "<unk>",
    extra_special_tokens: Sequence[str] | Mapping[str, str] = (),
    added_tokens: Sequence[str] = (),
    add_bos_token: bool = True,
    vocab_size: int = 500,
    extra_corpus: Sequence[str] = (),
) -> PreTrainedTokenizerFast:
    """Train a byte-level BPE tokenizer offline and wrap it for transformers.

    Args:
        bos_token, eos_token, pad_token: The family's BOS, EOS and padding tokens (``None``: none).
        unk_token: Unknown token (byte-level BPE never needs it; kept for processors that read it).
        extra_special_tokens: The family's other special tokens (skipped when decoding). A mapping
            such as ``{"image_token": "<image>"}`` also makes each one a tokenizer attribute
            (``tokenizer.image_token``), which some processors read.
        added_tokens: Tokens that must be single ids but stay visible when decoding.
        add_bos_token: Prepend the BOS token to every encoded text, as Llama-style tokenizers do.
        vocab_size: Target vocabulary size of the trainer, special tokens included (the 256 byte
            symbols are always present).
        extra_corpus: More training sentences, appended to `default_corpus`.

    Returns:
        A `PreTrainedTokenizerFast` whose special tokens have the lowest ids, in the order
        unk, bos, eos, pad, then the extra special tokens.
    """
    from transformers import PreTrainedTokenizerFast

    extras = list(
        extra_special_tokens.values() if isinstance(extra_special_tokens, Mapping) else extra_special_tokens
    )
    named = [t for t in (unk_token, bos_token, eos_token, pad_token) if t is not None]
    specials = list(dict.fromkeys(named + extras))

    backend = _train_bpe(specials, vocab_size, default_corpus() + list(extra_corpus))

    special_kwargs = {
        "bos_token": bos_token,
        "eos_token": eos_token,
        "pad_token": pad_token,
        "unk_token": unk_token,
    }
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        **{k: v for k, v in special_kwargs.items() if v is not None},
        extra_special_tokens=dict(extra_special_tokens)
        if isinstance(extra_special_tokens, Mapping)
        else list(extra_special_tokens),
        add_bos_token=add_bos_token and bos_token is not None,
        add_eos_token=False,
        model_input_names=["input_ids", "attention_mask"],
        clean_up_tokenization_spaces=False,
    )
    if added_tokens:
        tokenizer.add_tokens(list(added_tokens))
    return tokenizer


def _train_bpe(specials: list[str], vocab_size: int, corpus: list[str]) -> Any:
    """A byte-level BPE `tokenizers.Tokenizer` trained on `corpus`, `specials` first in the vocabulary."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(corpus, trainer=trainer)
    return backend
