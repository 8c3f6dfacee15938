"""Tiny random aMUSEd (MaskGIT-style masked image tokens), saved as a diffusers ``AmusedPipeline``.

A ``UVit2DModel`` (width 32, one transformer layer, down/upsampling res blocks) predicts the 32
codes of a ``VQModel`` (two blocks, scale factor 2: a 16x16 token grid, 32x32 RGB images) from
a 2-layer ``CLIPTextModelWithProjection`` (pooled embedding and penultimate hidden states) and
the micro-conditioning vector; ``AmusedScheduler`` unmasks the grid on a cosine schedule. The
sizes follow diffusers' own dummy Amused test, scaled to the project's 32x32 images, with the
offline byte-level CLIP tokenizer of the diffusion recipe. Same seed, same bytes.

Traps: ``vocab_size`` is the codebook plus the mask token, whose id (the last) the scheduler
must know; ``micro_cond_embed_dim`` must be 5 x ``micro_cond_encode_dim`` (the pipeline sends
five micro-conditions); the VQ decoder looks codes up in its codebook
(``lookup_from_codebook=True``) because the pipeline hands it token ids.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mllmbench.adapters.tiny.checkpoint import save, seeded
from mllmbench.adapters.tiny.diffusion import clip_tokenizer

IMAGE_SIZE = 32
"""Side of the tiny checkpoint's images (a 16x16 token grid, VQ scale factor 2)."""
GRID = IMAGE_SIZE // 2
"""Side of the token grid: every image is GRID x GRID VQ codes."""
CODEBOOK = 32
"""Codes of the tiny VQ codebook (the transformer's output classes)."""
MASK_TOKEN_ID = CODEBOOK
"""The mask token: one past the codebook, the last id of the transformer's vocabulary."""
HIDDEN = 32
MICRO_COND_ENCODE_DIM = 4


def _networks(tokenizer: Any) -> tuple[Any, Any, Any]:
    """The transformer, VQ model and text encoder, built in this order (the order fixes the draws)."""
    from diffusers import UVit2DModel, VQModel
    from transformers import CLIPTextConfig, CLIPTextModelWithProjection

    transformer = UVit2DModel(
        hidden_size=HIDDEN,
        use_bias=False,
        hidden_dropout=0.0,
        cond_embed_dim=HIDDEN,
        micro_cond_encode_dim=MICRO_COND_ENCODE_DIM,
        micro_cond_embed_dim=5 * MICRO_COND_ENCODE_DIM,
        encoder_hidden_size=HIDDEN,
        vocab_size=CODEBOOK + 1,
        codebook_size=CODEBOOK,
        in_channels=HIDDEN,
        block_out_channels=HIDDEN,
        num_res_blocks=1,
        downsample=True,
        upsample=True,
        block_num_heads=2,
        num_hidden_layers=1,
        num_attention_heads=2,
        attention_dropout=0.0,
        intermediate_size=64,
        sample_size=GRID,
    )
    vqvae = VQModel(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
        block_out_channels=(16, 32),
        layers_per_block=1,
        latent_channels=8,
        sample_size=IMAGE_SIZE,
        num_vq_embeddings=CODEBOOK,
        norm_num_groups=8,
        mid_block_add_attention=False,
        lookup_from_codebook=True,
    )
    text_encoder = CLIPTextModelWithProjection(
        CLIPTextConfig(
            vocab_size=len(tokenizer),
            hidden_size=HIDDEN,
            intermediate_size=64,
            projection_dim=HIDDEN,
            num_hidden_layers=2,
            num_attention_heads=2,
            max_position_embeddings=tokenizer.model_max_length,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )
    )
    return transformer, vqvae, text_encoder


def build(out_dir: Path, *, seed: int = 0) -> Path:
    """Write the tiny Amused pipeline to `out_dir`."""
    from diffusers import AmusedPipeline, AmusedScheduler

    tokenizer = clip_tokenizer()
    with seeded(seed):
        transformer, vqvae, text_encoder = _networks(tokenizer)
    pipe: Any = AmusedPipeline(
        vqvae=vqvae.eval(),
        tokenizer=tokenizer,
        text_encoder=text_encoder.eval(),
        transformer=transformer.eval(),
        scheduler=AmusedScheduler(mask_token_id=MASK_TOKEN_ID),
    )
    return save(out_dir, pipe)
