"""Tiny expert pipeline (VideoChat-Text): the tiny LLaVA as captioner, a tiny Whisper as speech
recogniser, a tiny Llama chat LM, ``pipeline.json``.

``captioner/`` is what the registered ``llava`` adapter's `build_tiny` writes; ``asr/`` is
`mllmbench.adapters.tiny.whisper`; ``llm/`` is a 2-layer ``LlamaForCausalLM`` (hidden 64) on the
offline tiny tokenizer with the TinyLlama-Chat template. Same seed, same bytes.
"""

from __future__ import annotations

from pathlib import Path

from mllmbench.adapters.expert_config import PIPELINE_FILE, PipelineConfig
from mllmbench.adapters.tiny import whisper
from mllmbench.adapters.tiny.checkpoint import write_json
from mllmbench.adapters.tiny.language_models import build_chat_lm

CAPTION_MAX_NEW_TOKENS = 12


def build(out_dir: Path, *, seed: int = 0) -> Path:
    """Write the captioner, the speech recogniser, the chat LM and ``pipeline.json`` into `out_dir`."""
    from mllmbench.adapters.registry import load_adapter_class

    out_dir = Path(out_dir)
    load_adapter_class("llava").build_tiny(out_dir / "captioner", seed=seed)
    build_chat_lm(
        out_dir / "llm",
        seed=seed,
        extra_corpus=["<|user|>\nImage 1: a red circle\nWhat colour is the circle?</s>\n<|assistant|>\nred"],
    )
    whisper.build(out_dir / "asr", seed=seed)
    pipeline = PipelineConfig(
        "llava",
        "captioner",
        "llm",
        caption_max_new_tokens=CAPTION_MAX_NEW_TOKENS,
        asr="asr",
        asr_max_new_tokens=whisper.MAX_NEW_TOKENS,
    )
    write_json(out_dir / PIPELINE_FILE, pipeline.to_dict())
    return out_dir
