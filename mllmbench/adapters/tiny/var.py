"""Tiny random VAR (next-scale prediction, `mllmbench.adapters.reference.var`).

A ``VQModel`` with four 8-channel blocks (scale factor 8: 32x32 images, a 4x4 latent grid) and a
32-entry codebook of 4-dim codes, scales (1, 2, 4) (21 tokens an image), a 2-layer tiny Llama
(`mllmbench.adapters.tiny.language_models`) over the offline tiny tokenizer, prompts of 16
tokens. The codebook is redrawn from N(0, 1) (the ``VectorQuantizer``'s own init, uniform in
+-1/32, is so small that every code would decode to the same pixels). Same seed, same bytes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mllmbench.adapters.tiny.checkpoint import save, seeded

IMAGE_SIZE = 32
SCALES = (1, 2, 4)
CODEBOOK = 32
PROMPT_TOKENS = 16

VQ_CONFIG: dict[str, Any] = {
    "in_channels": 3,
    "out_channels": 3,
    "down_block_types": ["DownEncoderBlock2D"] * 4,
    "up_block_types": ["UpDecoderBlock2D"] * 4,
    "block_out_channels": [8, 8, 8, 8],
    "layers_per_block": 1,
    "latent_channels": 4,
    "vq_embed_dim": 4,
    "num_vq_embeddings": CODEBOOK,
    "norm_num_groups": 4,
    "sample_size": IMAGE_SIZE,
    "mid_block_add_attention": False,
    "lookup_from_codebook": True,
    "force_upcast": True,
}
"""`diffusers.VQModel` keywords of the tiny tokenizer."""


def build_model(tokenizer: Any, seed: int) -> Any:
    """The tiny `VARForTextToImage` (eval mode), initialised under `seed`."""
    import torch

    from mllmbench.adapters.reference.var import VARConfig, VARForTextToImage
    from mllmbench.adapters.tiny.language_models import llama_config

    config = VARConfig(
        text_config=llama_config(tokenizer),
        vq_config=dict(VQ_CONFIG),
        scales=list(SCALES),
        prompt_length=PROMPT_TOKENS,
    )
    with seeded(seed):
        model = VARForTextToImage(config)
        with torch.no_grad():
            model.vqvae.codebook.weight.normal_()
    return model.eval()


def build(out_dir: Path, *, seed: int = 0) -> Path:
    """Write the tiny VAR model and its prompt tokenizer to `out_dir`."""
    from mllmbench.adapters.tiny.tokenizer import build_tiny_tokenizer

    tokenizer = build_tiny_tokenizer()
    return save(out_dir, build_model(tokenizer, seed), tokenizer)
