"""Tiny random Stable Diffusion pipeline (about 0.5M parameters), saved with ``save_pretrained``.

A 2-block UNet2DConditionModel (channels 16/32, one cross-attention block) over a 4x16x16
latent, a 2-block AutoencoderKL (scale factor 2, so 32x32 RGB images), a 2-layer CLIPTextModel
with an offline byte-level CLIPTokenizer (77 positions) and the Stable Diffusion DDIM scheduler.
Same seed, same bytes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mllmbench.adapters.tiny.checkpoint import save, seeded

IMAGE_SIZE = 32
"""Side of the tiny checkpoint's images (a 16x16 latent, VAE scale factor 2)."""
DEFAULT_STEPS = 50
"""The Stable Diffusion pipeline's default step count, which the tiny checkpoint keeps."""


def clip_tokenizer(max_length: int = 77) -> Any:
    """A ``CLIPTokenizer`` over the 256 byte symbols (with ``</w>`` forms) and no merges, offline.

    Every character is one token; BOS and EOS get the two highest ids, as in OpenAI's vocabulary.
    """
    from tokenizers import pre_tokenizers
    from transformers import CLIPTokenizer

    from mllmbench.core.clip_tokens import CLIP_BOS, CLIP_EOS

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {c: i for i, c in enumerate(alphabet)}
    vocab.update({c + "</w>": len(alphabet) + i for i, c in enumerate(alphabet)})
    vocab[CLIP_BOS] = len(vocab)
    vocab[CLIP_EOS] = len(vocab)
    return CLIPTokenizer(vocab=vocab, merges=[], model_max_length=max_length)


def _networks(tokenizer: Any) -> tuple[Any, Any, Any]:
    """The UNet, VAE and text encoder, built in this order (the order fixes the random draws)."""
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    unet = UNet2DConditionModel(
        sample_size=IMAGE_SIZE // 2,
        in_channels=4,
        out_channels=4,
        block_out_channels=(16, 32),
        layers_per_block=1,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32,
        attention_head_dim=8,
        norm_num_groups=8,
    )
    vae = AutoencoderKL(
        sample_size=IMAGE_SIZE,
        in_channels=3,
        out_channels=3,
        block_out_channels=(16, 32),
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
        latent_channels=4,
        norm_num_groups=8,
    )
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=len(tokenizer),
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            max_position_embeddings=tokenizer.model_max_length,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )
    )
    return unet, vae, text_encoder


def build(out_dir: Path, *, seed: int = 0) -> Path:
    """Write the tiny Stable Diffusion pipeline to `out_dir`."""
    from diffusers import DDIMScheduler, StableDiffusionPipeline

    tokenizer = clip_tokenizer()
    with seeded(seed):
        unet, vae, text_encoder = _networks(tokenizer)
    scheduler = DDIMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
    )
    pipe: Any = StableDiffusionPipeline(
        vae=vae.eval(),
        text_encoder=text_encoder.eval(),
        tokenizer=tokenizer,
        unet=unet.eval(),
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    return save(out_dir, pipe)
