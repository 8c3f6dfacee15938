"""The ``show_o`` member: Show-o (`mllmbench.adapters.reference.show_o`) trained in both directions.

One Llama decoder of the zoo's sizes (`mllmbench.zoo.backbone`) over the zoo tokenizer (plus
Show-o's markers), the 256 codes of the trained ``vqgan`` member and ``[MASK]``; the ``vqgan``
``VQModel`` is loaded into the model (``vqvae``, frozen, as Show-o freezes its tokenizer) and
saved inside the member's checkpoint, so the directory is self-contained.

A training step (`ShowOEncoder.batch`) is two micro-batches, as for the unified ``early_fusion``
member (`mllmbench.zoo.token_packaging.UnifiedTokens`), and the loss is the token mean over both
(`mllmbench.zoo.train.batch_loss`):

* `BATCH_SIZE` conversations, exactly as every understanding member gets them
  (`mllmbench.zoo.data.encode` with the ``show_o`` adapter's `render_prompt` and processor, so
  training equals the evaluation prompt); next-token loss on the answers;
* `GEN_ROWS` text-to-image rows ``<|t2i|> prompt <|soi|> codes <|eoi|>`` of training-seed scenes
  from `GEN_IMAGE_OFFSET` on (prompt: `mllmbench.suites.shapes_captions.t2i_prompt`, empty for an
  `UNCONDITIONAL_SHARE` of rows: the unconditional branch of classifier-free guidance), with a
  MaskGIT mask: ``round(cos(pi/2 * u) * 64)`` codes (at least one, ``u ~ U(0, 1)``) replaced by
  ``[MASK]``, cross-entropy on the masked codes only.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mllmbench.zoo import backbone as bb
from mllmbench.zoo import data
from mllmbench.zoo.packaging import ImageEncoder
from mllmbench.zoo.token_packaging import GEN_IMAGE_OFFSET, GEN_ROWS, UNCONDITIONAL_SHARE, IncludesTokenizer

if TYPE_CHECKING:
    from mllmbench.zoo.members import Member


def build_show_o(seed: int) -> tuple[Any, Any]:
    """A fresh Show-o (zoo width, layers and heads; a placeholder ``VQModel`` that
    `ShowOTokens.attach` fills with the trained ``vqgan``) and its processor."""
    from mllmbench.adapters.reference.show_o import (
        SPECIAL_TOKENS,
        ShowOForConditionalGeneration,
        ShowOProcessor,
        build_config,
    )
    from mllmbench.adapters.tiny.checkpoint import seeded
    from mllmbench.zoo.vqgan import VQGAN_CONFIG

    tokenizer = bb.zoo_tokenizer(extra_special_tokens=SPECIAL_TOKENS)
    config = build_config(tokenizer, bb.lm_dims(tokenizer), VQGAN_CONFIG, bb.IMAGE_SIZE)
    processor = ShowOProcessor(tokenizer, image_size=bb.IMAGE_SIZE, image_seq_length=config.image_seq_length)
    with seeded(seed):
        model = ShowOForConditionalGeneration(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model, processor


def masked_row(model: Any, prompt_ids: list[int], codes: list[int], rng: random.Random) -> data.Encoded:
    """One t2i training row: a MaskGIT cosine-rate mask over `codes`, labels on the masked codes."""
    from mllmbench.adapters.reference.show_o import cosine_mask_count

    cfg = model.config
    n = len(codes)
    masked = set(rng.sample(range(n), cosine_mask_count(rng.random(), n)))
    image = [cfg.mask_token_id if i in masked else cfg.image_code_offset + c for i, c in enumerate(codes)]
    ids = model.t2i_sequence(prompt_ids, image)
    start = 2 + len(prompt_ids)  # <|t2i|> prompt <|soi|>
    labels = [data.IGNORE] * len(ids)
    for i, c in enumerate(codes):
        if i in masked:
            labels[start + i] = cfg.image_code_offset + c
    return data.Encoded(ids, labels, {}, 0)


@dataclass(frozen=True)
class ShowOEncoder(ImageEncoder):
    """Conversations (as `ImageEncoder` encodes them, with the ``show_o`` adapter) and the t2i rows."""

    end: str

    def generation_rows(self, step: int) -> dict[str, Any]:
        """The right-padded t2i micro-batch of `step` (see the module doc)."""
        from mllmbench.suites import shapes_captions, shapes_render

        model, processor, tokenizer = self.adapter.model, self.adapter.processor, self.tokenizer
        rng = random.Random(f"zoo-show-o-{step}")
        first = GEN_IMAGE_OFFSET + step * GEN_ROWS + 1
        ids = list(range(first, first + GEN_ROWS))
        pixels = processor.pixels([data.scene_image(data.TRAIN_SEED, i) for i in ids])
        grids = model.get_image_codes(pixels).tolist()
        items = []
        for image_id, grid in zip(ids, grids, strict=True):
            empty = rng.random() < UNCONDITIONAL_SHARE
            scene = shapes_render.sample_scene(data.TRAIN_SEED, image_id)
            prompt = "" if empty else shapes_captions.t2i_prompt(scene)
            prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
            items.append(masked_row(model, list(prompt_ids), [int(c) for c in grid], rng))
        return data.collate(items, int(tokenizer.pad_token_id))

    def batch(self, step: int) -> list[dict[str, Any]]:
        """`BATCH_SIZE` conversations and `GEN_ROWS` t2i rows, each micro-batch padded on its own."""
        from mllmbench.zoo.members import BATCH_SIZE

        first = step * BATCH_SIZE + 1
        items = [self.example(data.TRAIN_SEED, i, self.end) for i in range(first, first + BATCH_SIZE)]
        return [data.collate(items, int(self.tokenizer.pad_token_id)), self.generation_rows(step)]


@dataclass(frozen=True)
class ShowOTokens(IncludesTokenizer):
    """Show-o over the codes of the ``vqgan`` member, which it includes as its ``vqvae``."""

    tokenizer_member: str = "vqgan"

    def attach(self, model: Any, parts: Mapping[str, Path]) -> None:
        """Load the trained ``VQModel`` into ``model.vqvae`` (fp32) and freeze it."""
        import torch
        from diffusers import VQModel

        trained = VQModel.from_pretrained(parts["vq"], torch_dtype=torch.float32)
        model.vqvae.load_state_dict(trained.state_dict())
        model.vqvae.eval()
        model.vqvae.requires_grad_(False)

    def recipe(self, parts: Mapping[str, Path]) -> dict[str, Any]:
        """Layout, the two micro-batches, masking, prompts, and the tokenizer's identity."""
        from mllmbench.zoo.packaging import part_identity

        return {
            "packaging": {
                "layout": "show_o (mllmbench.adapters.reference.show_o, VQModel inside as vqvae)",
                "generation_rows_per_step": GEN_ROWS,
                "generation_prompt": "mllmbench.suites.shapes_captions.t2i_prompt of training-seed scenes "
                f"{GEN_IMAGE_OFFSET + 1}..",
                "unconditional_share": UNCONDITIONAL_SHARE,
                "masking": "round(cos(pi/2 * u) * 64), at least one, u ~ U(0,1); CE on masked codes",
                "attention": "omni: causal text, bidirectional within an image",
                "vq": part_identity(self.tokenizer_member, parts["vq"]),
            }
        }

    def encoder(self, spec: Member, model: Any, processor: Any) -> ShowOEncoder:
        """A `ShowOEncoder` around the member's adapter."""
        from mllmbench.zoo.packaging import bind_adapter

        adapter = bind_adapter(spec.adapter, f"zoo:{spec.name}", model, processor)
        end = spec.end_token if spec.end_token is not None else adapter.tokenizer.eos_token
        return ShowOEncoder(adapter, end)

    def save(self, out: Path, model: Any, processor: Any) -> None:
        """`save_fp16` of the whole model (VQ model included) and its processor."""
        from mllmbench.zoo.packaging import save_fp16

        save_fp16(out, model, processor)
