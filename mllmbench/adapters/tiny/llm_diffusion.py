"""Tiny LLM-conditioned diffusion: a 2-layer Llama chat LM, the tiny diffusion pipeline, the config.

``llm/`` is a ``LlamaForCausalLM`` (hidden 64) on the offline tiny tokenizer with the
TinyLlama-Chat template; ``diffusion/`` is the tiny Stable Diffusion pipeline of
`mllmbench.adapters.tiny.diffusion`. Same seed, same bytes.
"""

from __future__ import annotations

from pathlib import Path

from mllmbench.adapters.llm_diffusion import CONFIG_FILE, DEFAULT_INSTRUCTION, ConditionerConfig
from mllmbench.adapters.tiny import diffusion
from mllmbench.adapters.tiny.checkpoint import write_json
from mllmbench.adapters.tiny.language_models import build_chat_lm

REWRITE_MAX_NEW_TOKENS = 16


def build(out_dir: Path, *, seed: int = 0) -> Path:
    """Write the chat LM, the diffusion pipeline and ``llm_diffusion.json`` into `out_dir`."""
    out_dir = Path(out_dir)
    diffusion.build(out_dir / "diffusion", seed=seed)
    build_chat_lm(
        out_dir / "llm",
        seed=seed,
        extra_corpus=[
            "<|user|>\n" + DEFAULT_INSTRUCTION.format(prompt="a red circle") + "</s>\n<|assistant|>\n"
            "a detailed photo of a red circle on a white background"
        ],
    )
    pairing = ConditionerConfig("llm", "diffusion", rewrite_max_new_tokens=REWRITE_MAX_NEW_TOKENS)
    write_json(out_dir / CONFIG_FILE, pairing.to_dict())
    return out_dir
