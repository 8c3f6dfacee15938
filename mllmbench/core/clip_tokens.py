"""Special tokens of OpenAI's CLIP vocabulary, shared by the tiny CLIP tokenizers."""

from __future__ import annotations

CLIP_BOS = "<|startoftext|>"
CLIP_EOS = "<|endoftext|>"
