"""Packaging of the token-based zoo members: the VQ tokenizers, and a unified member built on one.

* `VQTokenizer` (members ``vq`` and ``vqgan``): the trained model is the ``Emu3VQVAE`` of
  `mllmbench.zoo.vq_tokenizer` or the diffusers ``VQModel`` of `mllmbench.zoo.vqgan`; a training
  step is a batch of `VQ_BATCH_SIZE` Shapes images of the training seed (`PixelEncoder`), and the
  directory is the fp16 tokenizer (with its image processor where it has a saved form). It has no
  adapter of its own: the members that include it run it.
* `IncludesTokenizer`: the base of every member built on a trained tokenizer (role ``vq``; given
  with ``zoo train --vq DIR``, else the shipped one), whose weights become part of the member.
* `UnifiedTokens` (member ``early_fusion``, also ``zoo:ar_vq``): one ``Emu3ForConditionalGeneration``
  whose ``vqmodel`` is the trained ``vq`` member (loaded into the fresh model and frozen, as Emu3
  freezes its tokenizer) and whose decoder learns both directions at once (`UnifiedEncoder`): the
  image's conversation, exactly as every understanding member gets it (the adapter's prompt path,
  `mllmbench.zoo.data.encode`), and `GEN_ROWS` text-to-image rows per step: the prompt of a
  training scene (`mllmbench.suites.shapes_captions.t2i_prompt`, the t2i suite's prompt form) as
  ``Emu3Processor(return_for_image_generation=True)`` writes it, followed by the scene image's
  code grid (one end-of-line token per row), end of frame, end of image and EOS, as the Emu3
  adapter samples them; the loss is on those image tokens. A `UNCONDITIONAL_SHARE` of the
  generation rows have an empty prompt, which is the unconditional branch classifier-free
  guidance runs at sampling time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mllmbench.zoo import data
from mllmbench.zoo.packaging import ImageEncoder, SelfContained, part_identity

if TYPE_CHECKING:
    from mllmbench.zoo.members import Member

VQ_BATCH_SIZE = 16
"""Images per step of the VQ tokenizer (a convolutional autoencoder at 64x64: 0.9 s a step)."""
GEN_ROWS = 16
"""Text-to-image rows added to each step's `BATCH_SIZE` conversations by `UnifiedEncoder`."""
UNCONDITIONAL_SHARE = 0.1
GEN_IMAGE_OFFSET = 500_000
"""Generation rows use training-seed images from here on (never the conversations' images)."""


def prompt_recipe() -> dict[str, Any]:
    """Recipe entries of the members trained on text-to-image prompts (`mllmbench.zoo.maskgit`'s
    text encoder and prompt length, the prompt source, the unconditional share)."""
    from mllmbench.zoo.maskgit import PROMPT_TOKENS, TEXT_LAYERS

    return {
        "text_encoder_layers": TEXT_LAYERS,
        "prompt_tokens": PROMPT_TOKENS,
        "generation_prompt": "mllmbench.suites.shapes_captions.t2i_prompt of training-seed scenes "
        f"{GEN_IMAGE_OFFSET + 1}..",
        "unconditional_share": UNCONDITIONAL_SHARE,
    }


@dataclass(frozen=True)
class PixelEncoder:
    """Training batches of a VQ tokenizer: Shapes images of the training seed as pixels."""

    pixels: Callable[[int, Sequence[int]], Any]
    """(seed, image ids) -> (b, 3, 64, 64) pixel tensor, prepared as the tokenizer's users prepare it."""
    batch_size: int = VQ_BATCH_SIZE

    def batch(self, step: int) -> dict[str, Any]:
        """``pixel_values`` of images ``step * batch + 1 ..`` of the training seed."""
        first = step * self.batch_size + 1
        return {"pixel_values": self.pixels(data.TRAIN_SEED, range(first, first + self.batch_size))}


@dataclass(frozen=True)
class VQTokenizer(SelfContained):
    """A VQ tokenizer of the zoo, trained as a VQ-VAE: the ``Emu3VQVAE`` (`mllmbench.zoo.vq_tokenizer`,
    ``family="emu3"``) or the diffusers ``VQModel`` (`mllmbench.zoo.vqgan`, ``family="diffusers"``)."""

    family: str = "emu3"

    def recipe(self, parts: Mapping[str, Path]) -> dict[str, Any]:
        """The VQ config, its loss and batch (replacing the conversation batch size)."""
        from mllmbench.zoo import vq_tokenizer as vt

        if self.family == "diffusers":
            from mllmbench.zoo.vqgan import VQGAN_CONFIG

            layout = {
                "layout": "vq_tokenizer",
                "class": "diffusers.VQModel",
                "vq_config": VQGAN_CONFIG,
                "loss": "mse + VectorQuantizer loss (legacy, beta 0.25)",
            }
        else:
            layout = {
                "layout": "vq_tokenizer",
                "class": "Emu3VQVAE",
                "vq_config": vt.VQ_CONFIG,
                "loss": f"mse (shape pixels x{1 + vt.FOREGROUND_WEIGHT:g}) + codebook + {vt.COMMITMENT} * commitment",
            }
        return {
            "batch_size": VQ_BATCH_SIZE,
            "packaging": {
                **layout,
                "dead_code_restart_every": vt.RESTART_EVERY,
                "image_size": vt.GRID * vt.DOWNSAMPLE,
            },
        }

    @property
    def positions(self) -> int:
        """Codes per image."""
        from mllmbench.zoo.vq_tokenizer import GRID

        return GRID * GRID

    def load_model(self, directory: Path) -> Any:
        """The saved tokenizer, with its own class."""
        if self.family == "diffusers":
            from diffusers import VQModel

            return VQModel.from_pretrained(directory)
        from transformers import Emu3VQVAE

        return Emu3VQVAE.from_pretrained(directory)

    def encoder(self, spec: Member, model: Any, processor: Any) -> PixelEncoder:
        """A `PixelEncoder` with the tokenizer's image processor."""
        if self.family == "diffusers":
            from mllmbench.zoo.vqgan import scene_pixels

            return PixelEncoder(lambda seed, ids: scene_pixels(processor, seed, list(ids)))
        from mllmbench.zoo.vq_tokenizer import pixel_batch

        return PixelEncoder(lambda seed, ids: pixel_batch(processor, seed, ids))

    def save(self, out: Path, model: Any, processor: Any) -> None:
        """The trained tokenizer (fp16), with its image processor where it has a saved form (Emu3's)."""
        import torch

        from mllmbench.zoo.packaging import save_fp16

        if self.family == "diffusers":
            out.mkdir(parents=True, exist_ok=True)
            model.vq.eval().to(torch.float16).save_pretrained(out)
            return
        save_fp16(out, model.vq, processor)


@dataclass(frozen=True)
class UnifiedEncoder(ImageEncoder):
    """Conversations (as `ImageEncoder` encodes them, with the member's ``emu3`` adapter) and
    text-to-image rows of one step for a unified Emu3 member."""

    end: str

    def generation_rows(self, seed: int, image_ids: range, unconditional: list[bool]) -> dict[str, Any]:
        """The right-padded batch of text-to-image rows of `image_ids` (see the module doc)."""
        import torch

        from mllmbench.adapters.emu3 import EOF_TOKEN, IMAGE_END_TOKEN
        from mllmbench.suites import shapes_captions, shapes_render
        from mllmbench.zoo.vq_tokenizer import DOWNSAMPLE, GRID

        processor, tokenizer = self.adapter.processor, self.tokenizer
        side = GRID * DOWNSAMPLE
        pixels = processor.image_processor(
            [data.scene_image(seed, image_id) for image_id in image_ids], return_tensors="pt"
        )
        with torch.no_grad():
            codes = self.adapter.model.model.get_image_tokens(pixels["pixel_values"], pixels["image_sizes"])
        grids = codes.view(len(image_ids), -1).tolist()
        tail = [
            tokenizer.convert_tokens_to_ids(EOF_TOKEN),
            tokenizer.convert_tokens_to_ids(IMAGE_END_TOKEN),
            tokenizer.eos_token_id,
        ]
        items = []
        for image_id, grid, empty in zip(image_ids, grids, unconditional, strict=True):
            scene = shapes_render.sample_scene(seed, image_id)
            prompt = "" if empty else shapes_captions.t2i_prompt(scene)
            prefix = processor(
                text=[prompt], return_for_image_generation=True, ratio="1:1", image_area=side * side
            )["input_ids"][0]
            target = [int(t) for t in grid] + tail
            items.append(data.Encoded(list(prefix) + target, [data.IGNORE] * len(prefix) + target, {}, 0))
        return data.collate(items, int(tokenizer.pad_token_id))

    def batch(self, step: int) -> list[dict[str, Any]]:
        """Two micro-batches (each padded to its own length): `BATCH_SIZE` conversations and
        `GEN_ROWS` generation rows; the loss is the token mean over both."""
        import random

        from mllmbench.zoo.members import BATCH_SIZE

        first = step * BATCH_SIZE + 1
        items = [self.example(data.TRAIN_SEED, i, self.end) for i in range(first, first + BATCH_SIZE)]
        rng = random.Random(f"zoo-unified-{step}")
        gen_first = GEN_IMAGE_OFFSET + step * GEN_ROWS + 1
        return [
            data.collate(items, int(self.tokenizer.pad_token_id)),
            self.generation_rows(
                data.TRAIN_SEED,
                range(gen_first, gen_first + GEN_ROWS),
                [rng.random() < UNCONDITIONAL_SHARE for _ in range(GEN_ROWS)],
            ),
        ]


@dataclass(frozen=True)
class IncludesTokenizer:
    """Base of the packagings built on a trained tokenizer member (role ``vq``): its directory is
    the one given (``zoo train --vq DIR``) or the shipped one; its weights become part of the
    member's own checkpoint (``attach``), so nothing is copied."""

    tokenizer_member: str = "vq"

    @property
    def parts(self) -> dict[str, str]:
        """``vq`` -> the tokenizer member."""
        return {"vq": self.tokenizer_member}

    def resolve_parts(self, owner: str, given: Mapping[str, Path] | None = None) -> dict[str, Path]:
        """The tokenizer's directory (given, else the shipped one)."""
        from mllmbench.zoo.packaging import _resolve_parts

        return _resolve_parts(owner, self.parts, given)

    def stage(self, out: Path, parts: Mapping[str, Path]) -> dict[str, Path]:
        """Nothing to copy."""
        return dict(parts)


@dataclass(frozen=True)
class UnifiedTokens(IncludesTokenizer):
    """An Emu3 decoder over text and the codes of the trained ``vq`` member, both directions."""

    def attach(self, model: Any, parts: Mapping[str, Path]) -> None:
        """Load the trained tokenizer into ``model.model.vqmodel`` (fp32) and freeze it."""
        import torch
        from transformers import Emu3VQVAE

        trained = Emu3VQVAE.from_pretrained(parts["vq"], dtype=torch.float32)
        vq = model.model.vqmodel
        vq.load_state_dict(trained.state_dict())
        vq.eval()
        vq.requires_grad_(False)

    def recipe(self, parts: Mapping[str, Path]) -> dict[str, Any]:
        """The generation rows and the tokenizer's identity."""
        return {
            "packaging": {
                "layout": "unified_emu3",
                "generation_rows_per_step": GEN_ROWS,
                "generation_prompt": "mllmbench.suites.shapes_captions.t2i_prompt of training-seed scenes "
                f"{GEN_IMAGE_OFFSET + 1}..",
                "unconditional_share": UNCONDITIONAL_SHARE,
                "vq": part_identity(self.tokenizer_member, parts["vq"]),
            }
        }

    def encoder(self, spec: Member, model: Any, processor: Any) -> UnifiedEncoder:
        """A `UnifiedEncoder` around the member's adapter."""
        from mllmbench.zoo.packaging import bind_adapter

        adapter = bind_adapter(spec.adapter, f"zoo:{spec.name}", model, processor)
        end = spec.end_token if spec.end_token is not None else adapter.tokenizer.eos_token
        return UnifiedEncoder(adapter, end)

    def save(self, out: Path, model: Any, processor: Any) -> None:
        """`save_fp16` of the whole Emu3 model (tokenizer included) and its processor."""
        from mllmbench.zoo.packaging import save_fp16

        save_fp16(out, model, processor)
