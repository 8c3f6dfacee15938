"""Tiny random Qwen2-Audio with its real processor.

A 1-layer Whisper-style audio encoder (width 16, 16 mel bins, a 2-second window: 100 encoder
positions, 50 audio tokens after pooling), the linear projector and a 2-layer Qwen2 LM on the
offline tiny tokenizer (ChatML tokens, ``<|im_end|>`` EOS, ``<|endoftext|>`` pad, no BOS), with
``Qwen2AudioProcessor`` over ``WhisperFeatureExtractor(feature_size=16, chunk_length=2)`` and the
processor's ChatML template. The encoder is initialised with ``init_std`` 0.3 (at 0.02 a random
model writes the same tokens for every sound). Seeded, saved with ``save_pretrained``.
"""

from __future__ import annotations

from pathlib import Path

from mllmbench.adapters.tiny.checkpoint import save, seeded
from mllmbench.adapters.tiny.language_models import HIDDEN
from mllmbench.adapters.tiny.tokenizer import build_tiny_tokenizer

SPECIAL_TOKENS = {
    "audio_token": "<|AUDIO|>",
    "audio_bos_token": "<|audio_bos|>",
    "audio_eos_token": "<|audio_eos|>",
    "im_start_token": "<|im_start|>",
}
MEL_BINS = 16
CHUNK_SECONDS = 2


def build(out_dir: Path, *, seed: int = 0) -> Path:
    """Write the tiny Qwen2-Audio and its processor to `out_dir`."""
    from transformers import (
        GenerationConfig,
        Qwen2AudioConfig,
        Qwen2AudioForConditionalGeneration,
        Qwen2AudioProcessor,
        WhisperFeatureExtractor,
    )

    tokenizer = build_tiny_tokenizer(
        bos_token=None,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token=None,
        extra_special_tokens=SPECIAL_TOKENS,
        add_bos_token=False,
        extra_corpus=(
            "system\nYou are a helpful assistant.\nuser\nAudio 1: \nTranscribe.\nassistant\nhello",
        ),
    )
    processor = Qwen2AudioProcessor(
        feature_extractor=WhisperFeatureExtractor(feature_size=MEL_BINS, chunk_length=CHUNK_SECONDS),
        tokenizer=tokenizer,
    )
    processor.chat_template = processor.default_chat_template
    frames = CHUNK_SECONDS * 100  # 10 ms hop
    audio_token_id: int = tokenizer.convert_tokens_to_ids(SPECIAL_TOKENS["audio_token"])  # type: ignore[assignment]
    config = Qwen2AudioConfig(
        audio_config={
            "d_model": 16,
            "encoder_layers": 1,
            "encoder_attention_heads": 2,
            "encoder_ffn_dim": 32,
            "num_mel_bins": MEL_BINS,
            "max_source_positions": frames // 2,
            "init_std": 0.3,
        },
        text_config={
            "model_type": "qwen2",
            "vocab_size": len(tokenizer),
            "hidden_size": HIDDEN,
            "intermediate_size": 2 * HIDDEN,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "max_position_embeddings": 512,
            "eos_token_id": tokenizer.eos_token_id,
            "pad_token_id": tokenizer.pad_token_id,
        },
        audio_token_index=audio_token_id,
    )
    with seeded(seed):
        model = Qwen2AudioForConditionalGeneration(config).eval()
    model.generation_config = GenerationConfig(
        eos_token_id=[tokenizer.eos_token_id, tokenizer.pad_token_id], pad_token_id=tokenizer.pad_token_id
    )
    return save(out_dir, model, processor)
