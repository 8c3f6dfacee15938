"""Tiny SEED-style checkpoint: the tiny Emu3 emits codes, a tiny code encoder + UNet render them.

``llm/`` is the tiny Emu3 of `mllmbench.adapters.tiny.emu3` (a 32-code codebook); ``vae/`` is
the tiny Stable Diffusion autoencoder (`mllmbench.adapters.tiny.diffusion`); ``decoder/unet`` a
2-block ``UNet2DModel`` over the latent plus the 32 code-feature channels, ``decoder/token_encoder``
a 1-layer ``CLIPTextModel`` (width 32) over the 32 codes plus the null code (with the 8-dim
codebook vectors, 4 + 32 + 8 UNet input channels).
Same seed, same bytes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mllmbench.adapters.llm_token_decoder import (
    CONFIG_FILE,
    SCHEDULER_DIR,
    TOKEN_ENCODER_DIR,
    UNET_DIR,
    TokenDecoderConfig,
    code_encoder_config,
)
from mllmbench.adapters.tiny import diffusion, emu3
from mllmbench.adapters.tiny.checkpoint import seeded, write_json

DECODER_STEPS = 4
WIDTH = 32
CODE_DIM = 8
"""The tiny Emu3's codebook vector size."""


def build(out_dir: Path, *, seed: int = 0) -> Path:
    """Write ``llm/``, ``vae/``, ``decoder/`` and ``token_decoder.json`` into `out_dir`."""
    import torch
    from diffusers import DDIMScheduler, UNet2DModel
    from transformers import CLIPTextModel

    out_dir = Path(out_dir)
    emu3.build(out_dir / "llm", seed=seed)
    with seeded(seed):
        _, vae, _ = diffusion._networks(diffusion.clip_tokenizer())  # noqa: SLF001 - the same autoencoder
        grid = emu3.IMAGE_SIZE // 8
        encoder: Any = CLIPTextModel(code_encoder_config(emu3.CODEBOOK, grid * grid, WIDTH, 1, 2))
        unet: Any = UNet2DModel(
            sample_size=diffusion.IMAGE_SIZE // 2,
            in_channels=4 + WIDTH + CODE_DIM,
            out_channels=4,
            block_out_channels=(16, 32),
            layers_per_block=1,
            down_block_types=("DownBlock2D", "AttnDownBlock2D"),
            up_block_types=("AttnUpBlock2D", "UpBlock2D"),
            attention_head_dim=8,
            norm_num_groups=8,
        )
    for module in (unet, vae, encoder):
        module.eval().to(torch.float32)
    vae.save_pretrained(out_dir / "vae")
    unet.save_pretrained(out_dir / "decoder" / UNET_DIR)
    encoder.save_pretrained(out_dir / "decoder" / TOKEN_ENCODER_DIR)
    scheduler: Any = DDIMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
    )
    scheduler.save_pretrained(out_dir / "decoder" / SCHEDULER_DIR)
    config = TokenDecoderConfig(llm="llm", vae="vae", decoder_steps=DECODER_STEPS)
    write_json(out_dir / CONFIG_FILE, config.to_dict())
    return out_dir
