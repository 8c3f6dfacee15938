"""aMUSEd (MUSE-style MaskGIT): masked image-token prediction with a diffusers ``AmusedPipeline``.

Loads any ``AmusedPipeline`` checkpoint (``amused/amused-256``, ``amused/amused-512`` or a
``save_pretrained`` directory) with ``DiffusionPipeline.from_pretrained``, since
``AutoPipelineForText2Image`` does not map Amused. A CLIP text encoder gives a pooled embedding
and its penultimate hidden states; a ``UVit2DModel`` predicts, for every position of a grid of
VQ codes, a distribution over the codebook; ``AmusedScheduler`` starts from an all-masked grid,
samples every masked position at each step, keeps the most confident and re-masks the rest on a
cosine schedule; the ``VQModel`` decodes the final codes to pixels. The generation paradigm is
therefore ``masked_tokens``: a fixed number of parallel steps, not one step per token.

Knobs: ``num_inference_steps`` (default 12) and ``guidance_scale`` (default 10; the guided and
unguided halves run in one transformer call per step) from the pipeline's signature, width and
height (multiples of the VQ scale factor; default the transformer's grid). The re-masking
temperature schedule and the masking schedule are recorded as ``remask_temperature`` and
``masking_schedule``; ``temperature`` and ``top_k`` do not apply (the codes are sampled from the
full softmax) and are recorded as None.

Seeds and batching: the pipeline passes one ``torch.Generator`` to the scheduler, which samples
the whole batch's codes from it, so a batch would make an image depend on its batch-mates; the
adapter therefore draws one prompt per pipeline call, with a CPU generator seeded from the
request's seed (same seed, same image).

Cost per image: ``steps`` = transformer calls = ``sequential_calls``; ``nfe`` = steps x 2 with
guidance; ``image_tokens`` = the code grid (16 x 16 for amused-256).
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

from mllmbench.adapters.diffusion import DiffusionAdapter
from mllmbench.core.types import (
    Capability,
    Connector,
    GenerateRequest,
    GenerateResponse,
    GenerationParadigm,
    ImageGenerationSettings,
)


class AmusedAdapter(DiffusionAdapter):
    """aMUSEd: CLIP text encoder -> UVit2D masked-token transformer over VQ codes -> VQ decoder.

    Parameters: ``text_encoder``, ``denoiser`` (the UVit2D transformer), ``vae`` (the VQ model)
    and ``total``.
    """

    name: ClassVar[str] = "amused"
    description: ClassVar[str] = (
        "aMUSEd (MaskGIT/MUSE): parallel masked VQ-token prediction with a UVit transformer"
    )
    capabilities: ClassVar[Capability] = Capability.GENERATE
    connector: ClassVar[Connector] = Connector.NONE
    generation: ClassVar[GenerationParadigm] = GenerationParadigm.MASKED_TOKENS
    pipeline_loader: ClassVar[str] = "DiffusionPipeline"
    pipeline_class_name: ClassVar[str | None] = "AmusedPipeline"
    one_prompt_per_call: ClassVar[str | None] = (
        "one prompt per pipeline call: AmusedScheduler samples the whole batch's codes from one "
        "generator, so a batch would make an image depend on its batch-mates"
    )

    def generate_images(
        self, batch: Sequence[GenerateRequest], settings: ImageGenerationSettings
    ) -> list[GenerateResponse]:
        """`DiffusionAdapter.generate_images`, one prompt per call, plus the code grid and the
        masking schedule in each response."""
        responses = super().generate_images(batch, settings)
        extra = {
            "masking_schedule": str(self.pipe.scheduler.config.masking_schedule),
            "remask_temperature": self.remask_temperature(),
        }
        return [
            dataclasses.replace(
                response,
                settings={**response.settings, **extra},
                usage=dataclasses.replace(
                    response.usage, image_tokens=self.code_grid_tokens(*response.images[0].size)
                ),
            )
            for response in responses
        ]

    def remask_temperature(self) -> list[float]:
        """The (start, end) re-masking temperature the pipeline uses by default."""
        default = inspect.signature(self.pipe.__call__).parameters["temperature"].default
        values = default if isinstance(default, tuple | list) else (default, 0.01)
        return [float(v) for v in values]

    def code_grid_tokens(self, width: int, height: int) -> int:
        """VQ codes of one `width` x `height` image: the grid the transformer unmasks."""
        factor = int(self.pipe.vae_scale_factor)
        return (width // factor) * (height // factor)

    @classmethod
    def build_tiny(cls, out_dir: Path, *, seed: int = 0) -> Path:
        """Write the tiny random checkpoint of `mllmbench.adapters.tiny.amused` to `out_dir`."""
        from mllmbench.adapters.tiny import amused

        return amused.build(out_dir, seed=seed)
