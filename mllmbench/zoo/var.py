"""The ``var_vq`` and ``var`` members: VAR's next-scale prediction (Tian et al. 2024).

Both are models of `mllmbench.adapters.reference.var` (see its module doc for the design):

* ``var_vq`` (kind ``tokenizer``): a `VARTokenizer`, VAR's multi-scale residual quantizer with one
  shared codebook over a diffusers ``VQModel``, the scales `SCALES` (1, 2, 3, 4, 6, 8) of the
  8x8 latent. It starts from the trained ``vqgan`` member (its encoder, decoder and codebook are
  loaded into the fresh tokenizer, `MultiScaleTokenizer.attach`; the ``phi`` convolutions start
  fresh) and is fine-tuned, all of it, on training-seed Shapes images (`VQ_BATCH_SIZE` a step):
  shape-weighted MSE reconstruction (`mllmbench.zoo.vq_tokenizer.weighted_mse`) plus VAR's
  codebook/commitment loss (beta 0.25) through the straight-through ``f_hat``.
* ``var`` (kind ``generate``): a `VARForTextToImage` whose tokenizer is the trained ``var_vq``
  (loaded and frozen, `NextScale.attach`) and whose Llama transformer (the zoo's width, layers
  and heads) learns next-scale prediction from scratch: the same prompts and images as the other
  generating members (`mllmbench.zoo.maskgit.PromptEncoder`: ``t2i_prompt`` of training-seed
  scenes, an `UNCONDITIONAL_SHARE` of them empty, `PROMPT_TOKENS` tokens padded on the right),
  cross-entropy over the tokens of all scales with teacher forcing. The checkpoint is one
  ``save_pretrained`` directory (the tokenizer's weights inside) plus the zoo tokenizer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mllmbench.zoo import backbone as bb
from mllmbench.zoo.maskgit import PROMPT_TOKENS, PromptEncoder
from mllmbench.zoo.token_packaging import (
    GEN_IMAGE_OFFSET,
    UNCONDITIONAL_SHARE,
    VQ_BATCH_SIZE,
    IncludesTokenizer,
    PixelEncoder,
)

if TYPE_CHECKING:
    from mllmbench.zoo.members import Member

SCALES = (1, 2, 3, 4, 6, 8)
"""Token-map sides of the next-scale sequence (130 tokens; the last is the vqgan's 8x8 grid)."""
PHI_RATIO = 0.5
"""VAR's blend of the residual refiner ``phi`` (``quant_resi``)."""
BETA = 0.25
"""Commitment weight of the quantizer loss (VAR's and the vqgan's)."""


def tokenizer_config() -> Any:
    """The `VARTokenizerConfig` of ``var_vq``: the vqgan's ``VQModel`` keywords and `SCALES`."""
    from mllmbench.adapters.reference.var import VARTokenizerConfig
    from mllmbench.zoo.vqgan import VQGAN_CONFIG

    return VARTokenizerConfig(
        vq_config=dict(VQGAN_CONFIG), scales=list(SCALES), phi_ratio=PHI_RATIO, beta=BETA
    )


def var_config(tokenizer: Any) -> Any:
    """The `VARConfig` of ``var``: the zoo Llama sizes over the zoo tokenizer, `tokenizer_config`'s fields."""
    from transformers import LlamaConfig

    from mllmbench.adapters.reference.var import VARConfig
    from mllmbench.zoo.vqgan import VQGAN_CONFIG

    return VARConfig(
        text_config=LlamaConfig(**bb.lm_dims(tokenizer)),
        vq_config=dict(VQGAN_CONFIG),
        scales=list(SCALES),
        phi_ratio=PHI_RATIO,
        beta=BETA,
        prompt_length=PROMPT_TOKENS,
    )


def _tokenizer_trainer_class() -> Any:
    import torch
    from torch import nn

    from mllmbench.zoo.vq_tokenizer import VQOutput, weighted_mse

    class VARVQTrainer(nn.Module):
        """A `VARTokenizer` with its training forward (see the module doc)."""

        def __init__(self, tokenizer: Any) -> None:
            super().__init__()
            self.tokenizer = tokenizer

        def forward(self, pixel_values: Any) -> VQOutput:
            decoded, quantized = self.tokenizer(pixel_values)
            reconstruction = weighted_mse(decoded, pixel_values)
            return VQOutput(
                loss=reconstruction + quantized.vq_loss,
                reconstruction=reconstruction.detach(),
                codes=quantized.codes[-1],
                codes_used=int(torch.unique(torch.cat([c.flatten() for c in quantized.codes])).numel()),
            )

    return VARVQTrainer


def build_var_vq(seed: int) -> tuple[Any, Any]:
    """A fresh `VARTokenizer` (the vqgan's weights are loaded by `MultiScaleTokenizer.attach`) in
    its training wrapper, and the vqgan's image processor."""
    from mllmbench.adapters.reference.var import VARTokenizer
    from mllmbench.adapters.tiny.checkpoint import seeded
    from mllmbench.zoo.vqgan import image_processor

    with seeded(seed):
        trainer = _tokenizer_trainer_class()(VARTokenizer(tokenizer_config()))
    return trainer, image_processor()


def build_var(seed: int) -> tuple[Any, Any]:
    """A fresh `VARForTextToImage` (its tokenizer is loaded by `NextScale.attach`) and the zoo
    tokenizer with room for a whole prompt."""
    from mllmbench.adapters.reference.var import VARForTextToImage
    from mllmbench.adapters.tiny.checkpoint import seeded
    from mllmbench.zoo.maskgit import text_tokenizer

    tokenizer = text_tokenizer()
    with seeded(seed):
        model = VARForTextToImage(var_config(tokenizer))
    return model, tokenizer


@dataclass(frozen=True)
class VARPromptEncoder(PromptEncoder):
    """`PromptEncoder`'s prompts and pixels, plus ``prompt_mask`` (the non-pad prompt tokens)."""

    def batch(self, step: int) -> dict[str, Any]:
        """`PromptEncoder.batch` with the prompt's attention mask."""
        inputs = super().batch(step)
        inputs["prompt_mask"] = (inputs["prompt_ids"] != self.tokenizer.pad_token_id).long()
        return inputs


@dataclass(frozen=True)
class MultiScaleTokenizer(IncludesTokenizer):
    """``var_vq``: VAR's multi-scale tokenizer fine-tuned from the ``vqgan`` member (module doc)."""

    tokenizer_member: str = "vqgan"

    def attach(self, model: Any, parts: Mapping[str, Path]) -> None:
        """Load the trained ``VQModel`` (encoder, decoder, codebook) into the fresh tokenizer; all
        of it stays trainable."""
        import torch
        from diffusers import VQModel

        trained = VQModel.from_pretrained(parts["vq"], torch_dtype=torch.float32)
        model.tokenizer.vqvae.vq.load_state_dict(trained.state_dict())

    def recipe(self, parts: Mapping[str, Path]) -> dict[str, Any]:
        """Tokenizer config, loss, batch and the vqgan's identity."""
        from mllmbench.zoo.packaging import part_identity
        from mllmbench.zoo.vq_tokenizer import FOREGROUND_WEIGHT

        return {
            "batch_size": VQ_BATCH_SIZE,
            "packaging": {
                "layout": "var_tokenizer",
                "class": "mllmbench.adapters.reference.var.VARTokenizer",
                "config": tokenizer_config().to_dict(),
                "loss": f"mse (shape pixels x{1 + FOREGROUND_WEIGHT:g}) + VAR multi-scale VQ loss "
                f"(beta {BETA}), straight-through f_hat",
                "init": "encoder, decoder and codebook of the vqgan member; phi convs fresh",
                "vq": part_identity(self.tokenizer_member, parts["vq"]),
            },
        }

    @property
    def positions(self) -> int:
        """Tokens per image: every scale's (130)."""
        return sum(s * s for s in SCALES)

    def load_model(self, directory: Path) -> Any:
        """The saved `VARTokenizer`."""
        from mllmbench.adapters.reference.var import VARTokenizer

        return VARTokenizer.from_pretrained(directory)

    def encoder(self, spec: Member, model: Any, processor: Any) -> PixelEncoder:
        """Training-seed pixels as the vqgan prepares them."""
        from mllmbench.zoo.vqgan import scene_pixels

        return PixelEncoder(lambda seed, ids: scene_pixels(processor, seed, list(ids)))

    def save(self, out: Path, model: Any, processor: Any) -> None:
        """The fp16 `VARTokenizer` (``AutoModel.from_pretrained`` loads it)."""
        import torch

        out.mkdir(parents=True, exist_ok=True)
        model.tokenizer.eval().to(torch.float16).save_pretrained(out)


@dataclass(frozen=True)
class NextScale(IncludesTokenizer):
    """``var``: next-scale prediction over the trained ``var_vq`` tokenizer (module doc)."""

    tokenizer_member: str = "var_vq"

    def attach(self, model: Any, parts: Mapping[str, Path]) -> None:
        """Load the trained multi-scale tokenizer into the model (fp32) and freeze it."""
        import torch

        from mllmbench.adapters.reference.var import VARTokenizer

        trained = VARTokenizer.from_pretrained(parts["vq"], dtype=torch.float32)
        model.vqvae.load_state_dict(trained.vqvae.state_dict())
        model.vqvae.eval()
        model.vqvae.requires_grad_(False)

    def recipe(self, parts: Mapping[str, Path]) -> dict[str, Any]:
        """Scales, prompts and the tokenizer's identity."""
        from mllmbench.zoo.packaging import part_identity

        return {
            "packaging": {
                "layout": "mllmbench.adapters.reference.var.VARForTextToImage",
                "scales": list(SCALES),
                "loss": "cross-entropy over every scale's tokens, teacher forcing (VAR)",
                "prompt_tokens": PROMPT_TOKENS,
                "generation_prompt": "mllmbench.suites.shapes_captions.t2i_prompt of training-seed scenes "
                f"{GEN_IMAGE_OFFSET + 1}..",
                "unconditional_share": UNCONDITIONAL_SHARE,
                "vq": part_identity(self.tokenizer_member, parts["vq"]),
            }
        }

    def encoder(self, spec: Member, model: Any, processor: Any) -> VARPromptEncoder:
        """A `VARPromptEncoder` over the zoo tokenizer."""
        return VARPromptEncoder(processor)

    def save(self, out: Path, model: Any, processor: Any) -> None:
        """`save_fp16` of the whole model (tokenizer weights included) and the zoo tokenizer."""
        from mllmbench.zoo.packaging import save_fp16

        save_fp16(out, model, processor)
