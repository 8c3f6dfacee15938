"""Tiny random Whisper (the ASR expert of VideoChat-Text) with its real processor.

``WhisperForConditionalGeneration`` from a `WhisperConfig` of width 16 with one encoder and one
decoder layer (80 mel bins, the full 30 s window: 1500 encoder positions), a byte-level
``WhisperTokenizer`` (256 byte symbols, no merges) with the English-only special tokens, and
``WhisperFeatureExtractor`` at 16 kHz. The generation config is the English-only checkpoints'
(decoder start ``<|startoftranscript|>``, ``<|notimestamps|>``, no language or task tokens).
Weights come from the default initialisers under ``torch.manual_seed(seed)``.
"""

from __future__ import annotations

from pathlib import Path

from mllmbench.adapters.tiny.checkpoint import save, seeded

SPECIAL_TOKENS = ("<|endoftext|>", "<|startoftranscript|>", "<|en|>", "<|transcribe|>", "<|notimestamps|>")
"""Whisper's special tokens of an English-only checkpoint, added after the 256 byte symbols."""
MAX_NEW_TOKENS = 16
"""The tiny checkpoint's generation length limit (a random model never stops by itself)."""


def build_processor() -> object:
    """`WhisperProcessor`: the 80-bin feature extractor and the byte-level tokenizer."""
    from transformers import WhisperFeatureExtractor, WhisperProcessor, WhisperTokenizer
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    vocab = {symbol: i for i, symbol in enumerate(bytes_to_unicode().values())}
    tokenizer = WhisperTokenizer(vocab=vocab, merges=[])
    tokenizer.add_special_tokens({"additional_special_tokens": list(SPECIAL_TOKENS[1:])})
    return WhisperProcessor(feature_extractor=WhisperFeatureExtractor(feature_size=80), tokenizer=tokenizer)


def build(out_dir: Path, *, seed: int = 0) -> Path:
    """Write the tiny Whisper model and its processor to `out_dir`."""
    from transformers import GenerationConfig, WhisperConfig, WhisperForConditionalGeneration

    processor = build_processor()
    tokenizer = processor.tokenizer  # type: ignore[attr-defined]
    ids = {token: int(tokenizer.convert_tokens_to_ids(token)) for token in SPECIAL_TOKENS}
    eot, sot = ids["<|endoftext|>"], ids["<|startoftranscript|>"]
    config = WhisperConfig(
        vocab_size=len(tokenizer),
        num_mel_bins=80,
        d_model=16,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        max_source_positions=1500,
        max_target_positions=64,
        decoder_start_token_id=sot,
        bos_token_id=eot,
        eos_token_id=eot,
        pad_token_id=eot,
        # At the default 0.02 a width-16 model writes the same tokens for every input; at 0.3
        # the transcript depends on the audio (what the pipeline tests need to see).
        init_std=0.3,
    )
    with seeded(seed):
        model = WhisperForConditionalGeneration(config).eval()
    model.generation_config = GenerationConfig(
        decoder_start_token_id=sot,
        bos_token_id=eot,
        eos_token_id=eot,
        pad_token_id=eot,
        no_timestamps_token_id=ids["<|notimestamps|>"],
        is_multilingual=False,
        forced_decoder_ids=None,
        begin_suppress_tokens=[eot],
        max_new_tokens=MAX_NEW_TOKENS,
    )
    return save(out_dir, model, processor)
