"""Tiny random OmniGen (one transformer denoising image patches among text tokens), saved as a
diffusers ``OmniGenPipeline``.

An ``OmniGenTransformer2DModel`` (Phi-3-style, width 32, 2 layers, 2 heads) reads the tokenized
instruction and the noisy VAE latent patches in one sequence and predicts the flow; an
``AutoencoderKL`` with four blocks (scale factor 8: OmniGen's processor hard-codes 16 pixels per
output token, i.e. VAE factor 8 x patch 2) and ``FlowMatchEulerDiscreteScheduler``. No separate
text encoder: the transformer embeds the token ids itself. Tokenizer: the offline tiny one with
OmniGen's instruction markers as special tokens.

Traps: ``rope_scaling`` needs ``short_factor`` and ``long_factor`` lists of head_dim / 2 entries;
``pos_embed_max_size`` must cover the pipeline's default 1024x1024 output (64 x 64 patches); the
pipeline needs torchvision (without it ``OmniGenPipeline(...)`` raises ``NameError``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mllmbench.adapters.tiny.checkpoint import save, seeded
from mllmbench.adapters.tiny.tokenizer import build_tiny_tokenizer

HIDDEN = 32
HEADS = 2
INSTRUCTION_TOKENS = ("<|user|>", "<|end|>", "<|assistant|>", "<|diffusion|>")
"""The markers of OmniGen's instruction template (``OmniGenMultiModalProcessor.add_prefix_instruction``)."""


def _networks(tokenizer: Any) -> tuple[Any, Any]:
    """The transformer and the VAE, built in this order (the order fixes the random draws)."""
    from diffusers import AutoencoderKL, OmniGenTransformer2DModel

    half_head = HIDDEN // HEADS // 2
    transformer = OmniGenTransformer2DModel(
        in_channels=4,
        patch_size=2,
        hidden_size=HIDDEN,
        num_attention_heads=HEADS,
        num_key_value_heads=HEADS,
        intermediate_size=2 * HIDDEN,
        num_layers=2,
        pad_token_id=tokenizer.pad_token_id,
        vocab_size=len(tokenizer),
        max_position_embeddings=8192,
        original_max_position_embeddings=8192,
        rope_scaling={"short_factor": [1.0] * half_head, "long_factor": [1.0] * half_head},
        pos_embed_max_size=64,
        time_step_dim=HIDDEN,
    )
    vae = AutoencoderKL(
        sample_size=32,
        in_channels=3,
        out_channels=3,
        block_out_channels=(8, 16, 16, 32),
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        latent_channels=4,
        norm_num_groups=8,
    )
    return transformer, vae


def build(out_dir: Path, *, seed: int = 0) -> Path:
    """Write the tiny OmniGen pipeline to `out_dir`."""
    from diffusers import FlowMatchEulerDiscreteScheduler, OmniGenPipeline

    tokenizer = build_tiny_tokenizer(extra_special_tokens=list(INSTRUCTION_TOKENS))
    with seeded(seed):
        transformer, vae = _networks(tokenizer)
    pipe: Any = OmniGenPipeline(
        transformer=transformer.eval(),
        scheduler=FlowMatchEulerDiscreteScheduler(),
        vae=vae.eval(),
        tokenizer=tokenizer,
    )
    return save(out_dir, pipe)
