"""The ``maskgit`` member: MaskGIT/MUSE masked image-token prediction as a diffusers ``AmusedPipeline``.

Parts, all real library classes: a ``CLIPTextModelWithProjection`` over the zoo tokenizer (pooled
embedding and penultimate hidden states, what ``AmusedPipeline`` feeds the transformer), a
``UVit2DModel`` with the zoo's transformer sizes over the 8x8 code grid, the trained ``vqgan``
member (diffusers ``VQModel``, frozen) and ``AmusedScheduler``. The text encoder is trained with
the transformer from scratch (the zoo has no pretrained CLIP); it pools at the first padding
token (``eos_token_id`` = the pad id), since the zoo tokenizer writes no end token and the
pipeline always pads prompts to ``model_max_length``.

Training (MaskGIT, Chang et al. 2022): each image's codes are masked at a rate drawn from the
cosine schedule the sampler unmasks with (``cos(pi/2 * u)``, ``u ~ U(0, 1)``, at least one
token); the loss is cross-entropy on the masked positions. Prompts are the training scenes'
`mllmbench.suites.shapes_captions.t2i_prompt`, an `UNCONDITIONAL_SHARE` of them empty (the
pipeline's unconditional branch for classifier-free guidance); the micro-conditioning vector is
the pipeline's default for a 64x64 image (size, crop (0, 0), aesthetic score 6).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mllmbench.zoo import backbone as bb
from mllmbench.zoo import data
from mllmbench.zoo.token_packaging import GEN_IMAGE_OFFSET, UNCONDITIONAL_SHARE, IncludesTokenizer

if TYPE_CHECKING:
    from mllmbench.zoo.members import Member

PROMPT_TOKENS = 64
"""``model_max_length`` of the text tokenizer: the longest training prompt is under 50 zoo tokens."""
TEXT_LAYERS = 1
TRANSFORMER_LAYERS = 3
"""Transformer layers of the UVit2D (3, not the LLM's 4, and a 1-layer text encoder: with UVit2D's
convolutional blocks the fp16 pipeline must stay under the 5 MB a member may ship)."""
MICRO_CONDS = (bb.IMAGE_SIZE, bb.IMAGE_SIZE, 0, 0, 6)
"""``AmusedPipeline``'s default micro-conditioning for a 64x64 image."""


def text_tokenizer() -> Any:
    """The zoo tokenizer with room for a whole Shapes prompt."""
    tokenizer = bb.zoo_tokenizer()
    tokenizer.model_max_length = PROMPT_TOKENS
    return tokenizer


def clip_text_config(tokenizer: Any) -> Any:
    """The ``CLIPTextConfig`` of the zoo's text encoders (``maskgit``, ``diffusion``): the zoo
    width, `TEXT_LAYERS` deep, pooling at the first pad token."""
    from transformers import CLIPTextConfig

    return CLIPTextConfig(
        vocab_size=len(tokenizer),
        hidden_size=bb.LLM_WIDTH,
        intermediate_size=2 * bb.LLM_WIDTH,
        projection_dim=bb.LLM_WIDTH,
        num_hidden_layers=TEXT_LAYERS,
        num_attention_heads=bb.HEADS,
        max_position_embeddings=PROMPT_TOKENS,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.pad_token_id,
        pad_token_id=tokenizer.pad_token_id,
        attention_dropout=0.0,
        initializer_range=bb.INIT_RANGE,
    )


def text_encoder(tokenizer: Any) -> Any:
    """A fresh ``CLIPTextModelWithProjection`` (pooled embedding and hidden states, as aMUSEd reads)."""
    from transformers import CLIPTextModelWithProjection

    return CLIPTextModelWithProjection(clip_text_config(tokenizer))


def transformer() -> Any:
    """A fresh ``UVit2DModel``: the zoo LLM's width and heads, `TRANSFORMER_LAYERS` deep, over the 8x8 grid."""
    from diffusers import UVit2DModel

    from mllmbench.zoo.vq_tokenizer import GRID
    from mllmbench.zoo.vqgan import CODEBOOK_SIZE

    return UVit2DModel(
        hidden_size=bb.LLM_WIDTH,
        use_bias=False,
        hidden_dropout=0.0,
        cond_embed_dim=bb.LLM_WIDTH,
        micro_cond_encode_dim=16,
        micro_cond_embed_dim=5 * 16,
        encoder_hidden_size=bb.LLM_WIDTH,
        vocab_size=CODEBOOK_SIZE + 1,
        codebook_size=CODEBOOK_SIZE,
        in_channels=bb.LLM_WIDTH,
        block_out_channels=bb.LLM_WIDTH,
        num_res_blocks=1,
        downsample=False,
        upsample=False,
        block_num_heads=bb.HEADS,
        num_hidden_layers=TRANSFORMER_LAYERS,
        num_attention_heads=bb.HEADS,
        attention_dropout=0.0,
        intermediate_size=2 * bb.LLM_WIDTH,
        sample_size=GRID,
    )


@dataclass
class MaskgitOutput:
    """The training loop reads ``loss``."""

    loss: Any


def _trainer_class() -> Any:
    import torch
    from torch import nn

    from mllmbench.zoo.vqgan import CODEBOOK_SIZE

    class MaskgitTrainer(nn.Module):
        """Text encoder + UVit2D + frozen VQModel with the MaskGIT training forward."""

        def __init__(self, transformer: Any, text_encoder: Any, vq: Any, seed: int) -> None:
            super().__init__()
            self.transformer, self.text_encoder, self.vq = transformer, text_encoder, vq
            self.generator = torch.Generator().manual_seed(seed)

        def forward(self, prompt_ids: Any, pixel_values: Any) -> MaskgitOutput:
            from mllmbench.zoo.vqgan import encode_codes

            codes = encode_codes(self.vq, pixel_values)
            b, h, w = codes.shape
            rate = torch.cos(0.5 * math.pi * torch.rand(b, generator=self.generator))
            n_masked = (rate * h * w).round().clamp(min=1).long()
            order = torch.rand(b, h * w, generator=self.generator).argsort(dim=1).argsort(dim=1)
            masked = (order < n_masked[:, None]).view(b, h, w)
            inputs = codes.masked_fill(masked, CODEBOOK_SIZE)
            text = self.text_encoder(prompt_ids, output_hidden_states=True, return_dict=True)
            micro = torch.tensor(MICRO_CONDS, dtype=text.text_embeds.dtype).expand(b, -1)
            logits = self.transformer(
                inputs,
                encoder_hidden_states=text.hidden_states[-2],
                pooled_text_emb=text.text_embeds,
                micro_conds=micro,
            )
            loss = nn.functional.cross_entropy(logits.permute(0, 2, 3, 1)[masked], codes[masked])
            return MaskgitOutput(loss=loss)

    return MaskgitTrainer


def build_maskgit(seed: int) -> tuple[Any, Any]:
    """Fresh text encoder and transformer, a VQModel placeholder (the trained ``vqgan`` is loaded
    into it by `MaskedTokens.attach`), inside the training wrapper; and the tokenizer."""
    from diffusers import VQModel

    from mllmbench.adapters.tiny.checkpoint import seeded
    from mllmbench.zoo.vqgan import VQGAN_CONFIG

    tokenizer = text_tokenizer()
    with seeded(seed):
        model = _trainer_class()(transformer(), text_encoder(tokenizer), VQModel(**VQGAN_CONFIG), seed)
    return model, tokenizer


@dataclass(frozen=True)
class PromptEncoder:
    """Training batches of a text-to-image member: tokenized prompts and the scenes' pixels."""

    tokenizer: Any
    batch_size: int = 32

    def batch(self, step: int) -> dict[str, Any]:
        """Prompts (a share empty) and pixels of training-seed scenes ``GEN_IMAGE_OFFSET + ..``."""
        import random

        from mllmbench.suites import shapes_captions, shapes_render
        from mllmbench.zoo import vqgan

        rng = random.Random(f"zoo-t2i-{step}")
        first = GEN_IMAGE_OFFSET + step * self.batch_size + 1
        ids = range(first, first + self.batch_size)
        prompts = [
            ""
            if rng.random() < UNCONDITIONAL_SHARE
            else shapes_captions.t2i_prompt(shapes_render.sample_scene(data.TRAIN_SEED, i))
            for i in ids
        ]
        tokens = self.tokenizer(
            prompts, padding="max_length", truncation=True, max_length=PROMPT_TOKENS, return_tensors="pt"
        )
        return {
            "prompt_ids": tokens["input_ids"],
            "pixel_values": vqgan.scene_pixels(vqgan.image_processor(), data.TRAIN_SEED, list(ids)),
        }


@dataclass(frozen=True)
class MaskedTokens(IncludesTokenizer):
    """An ``AmusedPipeline`` trained on the codes of the ``vqgan`` member (see the module doc)."""

    tokenizer_member: str = "vqgan"

    def attach(self, model: Any, parts: Any) -> None:
        """Load the trained ``VQModel`` into the wrapper (fp32) and freeze it."""
        import torch
        from diffusers import VQModel

        trained = VQModel.from_pretrained(parts["vq"], torch_dtype=torch.float32)
        model.vq.load_state_dict(trained.state_dict())
        model.vq.eval()
        model.vq.requires_grad_(False)

    def recipe(self, parts: Any) -> dict[str, Any]:
        """Masking, prompts, conditioning, and the tokenizer's identity."""
        from mllmbench.zoo.packaging import part_identity
        from mllmbench.zoo.token_packaging import prompt_recipe

        return {
            "packaging": {
                "layout": "diffusers AmusedPipeline",
                "masking": "cos(pi/2 * u), u ~ U(0,1), at least one token; CE on masked codes",
                "transformer_layers": TRANSFORMER_LAYERS,
                **prompt_recipe(),
                "micro_conds": list(MICRO_CONDS),
                "vq": part_identity(self.tokenizer_member, parts["vq"]),
            }
        }

    def encoder(self, spec: Member, model: Any, processor: Any) -> PromptEncoder:
        """A `PromptEncoder` over the text tokenizer."""
        return PromptEncoder(processor)

    def save(self, out: Path, model: Any, processor: Any) -> None:
        """The fp16 ``AmusedPipeline`` (``DiffusionPipeline.from_pretrained`` loads it)."""
        import torch
        from diffusers import AmusedPipeline, AmusedScheduler

        from mllmbench.zoo.vqgan import CODEBOOK_SIZE

        out.mkdir(parents=True, exist_ok=True)
        model.eval().to(torch.float16)
        pipe: Any = AmusedPipeline(
            vqvae=model.vq,
            tokenizer=processor,
            text_encoder=model.text_encoder,
            transformer=model.transformer,
            scheduler=AmusedScheduler(mask_token_id=CODEBOOK_SIZE),
        )
        pipe.save_pretrained(out)
