"""The ``transfusion`` member: Transfusion (Zhou et al. 2024) on the zoo backbone and the ``vae`` latents.

The model is `mllmbench.adapters.reference.transfusion` (a transformers ``LlamaModel`` with the
zoo LLM sizes, linear patch projections, a diffusers timestep embedding, and the trained ``vae``
member's ``AutoencoderKL`` inside it, frozen, with its ``scaling_factor``); its adapter is
``transfusion``. One training step is one batch with two parts (`TransfusionEncoder`):

* the `BATCH_SIZE` conversations every understanding member gets (`mllmbench.zoo.data`), encoded
  by the adapter's own prompt path (``<boi><image><eoi>`` + question; the image enters as clean
  latent patches, timestep 0); next-token loss on the answers;
* `GEN_ROWS` text-to-image rows: ``[prompt][<boi>][64 patches][<eoi>]`` of training scenes from
  `GEN_IMAGE_OFFSET` on (the t2i suite's prompt form, an `UNCONDITIONAL_SHARE` of them empty: the
  unconditional branch of guidance); the patches are the scene's scaled latent noised to a
  level ``s ~ U(0, 1)`` on the straight path ``(1 - s) * latent + s * noise`` (rectified flow,
  timestep ``1000 * s``), and the loss is the mean squared error of the predicted velocity
  ``noise - latent`` (what diffusers' ``FlowMatchEulerDiscreteScheduler`` integrates at sampling
  time). Rectified flow rather than DDPM's noise prediction: its target keeps a strong latent
  signal at high noise, where the layout of a scene is decided.

The step's loss is ``LM loss + DIFFUSION_WEIGHT x flow loss`` (Transfusion's lambda; the paper's
5 with DDPM); the trainer returns that sum, so `mllmbench.zoo.train.batch_loss` takes it as it is.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mllmbench.zoo import backbone as bb
from mllmbench.zoo import data
from mllmbench.zoo.packaging import ImageEncoder
from mllmbench.zoo.token_packaging import GEN_IMAGE_OFFSET, UNCONDITIONAL_SHARE, IncludesTokenizer

if TYPE_CHECKING:
    from mllmbench.zoo.members import Member

log = logging.getLogger(__name__)

GEN_ROWS = 16
"""Text-to-image rows per step, besides the `BATCH_SIZE` conversations."""
DIFFUSION_WEIGHT = 5.0
"""Transfusion's lambda: the weight of the image loss against the text loss."""


@dataclass
class TransfusionLoss:
    """The training loop reads ``loss``; the parts are logged."""

    loss: Any
    lm: float
    flow: float


def _trainer_class() -> Any:
    import torch
    from torch import nn

    class TransfusionTrainer(nn.Module):
        """The Transfusion model with the combined training forward (see the module doc)."""

        def __init__(self, model: Any, seed: int) -> None:
            super().__init__()
            self.model = model
            self.generator = torch.Generator().manual_seed(seed)
            self.calls = 0

        def flow_loss(self, input_ids: Any, attention_mask: Any, pixel_values: Any) -> Any:
            """Velocity MSE of the generation rows at uniform noise levels."""
            model = self.model
            with torch.no_grad():
                latents = model.patchify(model.encode_images(pixel_values))
            noise = torch.randn(latents.shape, generator=self.generator)
            s = torch.rand(latents.shape[0], generator=self.generator)
            noisy = (1 - s[:, None, None]) * latents + s[:, None, None] * noise
            out = model(
                input_ids=input_ids,
                attention_mask=attention_mask,
                image_patches=noisy,
                timesteps=s * 1000,
                logits_to_keep=1,
            )
            return nn.functional.mse_loss(out.patch_output, noise - latents)

        def forward(self, conversations: dict[str, Any], generation: dict[str, Any]) -> TransfusionLoss:
            lm = self.model(**conversations).loss
            flow = self.flow_loss(**generation)
            self.calls += 1
            if self.calls % 10 == 1:
                log.info("transfusion lm %.4f flow %.4f", float(lm.detach()), float(flow.detach()))
            return TransfusionLoss(
                loss=lm + DIFFUSION_WEIGHT * flow, lm=float(lm.detach()), flow=float(flow.detach())
            )

    return TransfusionTrainer


def zoo_tokenizer() -> Any:
    """The zoo tokenizer plus Transfusion's ``<image>``, ``<boi>`` and ``<eoi>``."""
    from mllmbench.adapters.transfusion import BOI_TOKEN, EOI_TOKEN, IMAGE_TOKEN

    return bb.zoo_tokenizer(
        extra_special_tokens={"image_token": IMAGE_TOKEN, "boi_token": BOI_TOKEN, "eoi_token": EOI_TOKEN}
    )


def build_transfusion(seed: int) -> tuple[Any, Any]:
    """A fresh Transfusion model (its VAE random until `TransfusionPackaging.attach` loads the
    ``vae`` member) inside its training wrapper, and its processor."""
    from transformers import LlamaConfig

    from mllmbench.adapters.reference.transfusion import (
        TransfusionForConditionalGeneration,
        TransfusionProcessor,
    )
    from mllmbench.zoo.latent_diffusion import VAE_CONFIG

    tokenizer = zoo_tokenizer()
    model = TransfusionForConditionalGeneration.from_parts(
        tokenizer,
        LlamaConfig(**bb.lm_dims(tokenizer)),
        {**VAE_CONFIG, "scaling_factor": 1.0},
        image_size=bb.IMAGE_SIZE,
        seed=seed,
    )
    processor = TransfusionProcessor(tokenizer, bb.IMAGE_SIZE, model.config.image_seq_length)
    return _trainer_class()(model, seed), processor


@dataclass(frozen=True)
class TransfusionEncoder(ImageEncoder):
    """Conversations (`ImageEncoder` with the ``transfusion`` adapter) and generation rows of one step."""

    end: str

    def generation_rows(self, seed: int, image_ids: range, unconditional: list[bool]) -> dict[str, Any]:
        """Right-padded ``input_ids``/``attention_mask`` of ``[prompt]<boi>[patches]<eoi>`` and the
        scenes' ``pixel_values``."""
        from mllmbench.suites import shapes_captions, shapes_render

        adapter = self.adapter
        processor = adapter.processor
        prompts = [
            "" if empty else shapes_captions.t2i_prompt(shapes_render.sample_scene(seed, image_id))
            for image_id, empty in zip(image_ids, unconditional, strict=True)
        ]
        texts = [processor.expand(adapter.generation_prompt(p)) for p in prompts]
        tokens = self.tokenizer(texts, return_tensors="pt", padding=True)
        return {
            "input_ids": tokens["input_ids"],
            "attention_mask": tokens["attention_mask"],
            "pixel_values": processor.pixels([data.scene_image(seed, i) for i in image_ids]),
        }

    def batch(self, step: int) -> dict[str, Any]:
        """``conversations`` (`BATCH_SIZE` of them) and ``generation`` (`GEN_ROWS` rows)."""
        from mllmbench.zoo.members import BATCH_SIZE

        first = step * BATCH_SIZE + 1
        items = [self.example(data.TRAIN_SEED, i, self.end) for i in range(first, first + BATCH_SIZE)]
        rng = random.Random(f"zoo-transfusion-{step}")
        gen_first = GEN_IMAGE_OFFSET + step * GEN_ROWS + 1
        return {
            "conversations": data.collate(items, int(self.tokenizer.pad_token_id)),
            "generation": self.generation_rows(
                data.TRAIN_SEED,
                range(gen_first, gen_first + GEN_ROWS),
                [rng.random() < UNCONDITIONAL_SHARE for _ in range(GEN_ROWS)],
            ),
        }


@dataclass(frozen=True)
class TransfusionPackaging(IncludesTokenizer):
    """A Transfusion model on the latents of the ``vae`` member, the VAE saved inside it."""

    tokenizer_member: str = "vae"

    def attach(self, model: Any, parts: Any) -> None:
        """Load the trained ``AutoencoderKL`` (fp32) into the model, record its scaling factor in
        the model config, and freeze it."""
        import torch
        from diffusers import AutoencoderKL

        trained = AutoencoderKL.from_pretrained(parts["vq"], torch_dtype=torch.float32)
        inner = model.model
        inner.vae.load_state_dict(trained.state_dict())
        inner.vae.register_to_config(scaling_factor=trained.config.scaling_factor)
        inner.config.vae_config = {**inner.config.vae_config, "scaling_factor": trained.config.scaling_factor}
        inner.vae.eval()
        inner.vae.requires_grad_(False)

    def recipe(self, parts: Any) -> dict[str, Any]:
        """Sequence layout, objective, loss weight, generation rows and the VAE's identity."""
        from mllmbench.zoo.packaging import part_identity

        return {
            "packaging": {
                "layout": "transfusion (mllmbench.adapters.reference.transfusion, VAE inside)",
                "sequence": "[prompt]<boi>[64 latent patches 2x2x4]<eoi>; understanding <boi>[clean patches]<eoi>[question]",
                "objective": "rectified flow: x_s = (1-s) latent + s noise, s ~ U(0,1), MSE on noise - latent",
                "diffusion_weight": DIFFUSION_WEIGHT,
                "generation_rows_per_step": GEN_ROWS,
                "generation_prompt": "mllmbench.suites.shapes_captions.t2i_prompt of training-seed scenes "
                f"{GEN_IMAGE_OFFSET + 1}..",
                "unconditional_share": UNCONDITIONAL_SHARE,
                "vae": part_identity(self.tokenizer_member, parts["vq"]),
            }
        }

    def encoder(self, spec: Member, model: Any, processor: Any) -> TransfusionEncoder:
        """A `TransfusionEncoder` around the member's adapter, bound to the inner model."""
        from mllmbench.zoo.packaging import bind_adapter

        adapter = bind_adapter(spec.adapter, f"zoo:{spec.name}", model.model, processor)
        end = spec.end_token if spec.end_token is not None else adapter.tokenizer.eos_token
        return TransfusionEncoder(adapter, end)

    def save(self, out: Path, model: Any, processor: Any) -> None:
        """`save_fp16` of the Transfusion model (VAE included) and its tokenizer."""
        from mllmbench.zoo.packaging import save_fp16

        save_fp16(out, model.model, processor)
