"""OmniGen: one transformer reads the instruction's tokens and the noisy image patches in one
sequence and denoises the patches itself (diffusers ``OmniGenPipeline``).

Loads any ``OmniGenPipeline`` checkpoint (``Shitao/OmniGen-v1-diffusers`` or a
``save_pretrained`` directory) with ``DiffusionPipeline.from_pretrained``, since
``AutoPipelineForText2Image`` does not map OmniGen. There is no separate text encoder: the
Phi-3-style transformer embeds the token ids of the instruction
(``<|user|>\\nGenerate an image according to the following instructions\\n{prompt}<|end|>\\n
<|assistant|>\\n<|diffusion|>``, the pipeline's own template, recorded as the prompt) and attends
from the VAE latent patches to them, with flow matching (``FlowMatchEulerDiscreteScheduler``).
The generation paradigm is ``diffusion_in_llm`` (the Transfusion family; OmniGen generates only,
it does not answer questions). Text-to-image only: no input images.

Knobs, seeds and cost as in `mllmbench.adapters.diffusion`, but one prompt per pipeline call (see
`OmniGenAdapter.one_prompt_per_call`; measured on the tiny checkpoint): steps default 50, guidance 2.5, size 1024x1024 (the
pipeline's defaults); ``nfe`` = steps x 2 (the pipeline runs the unconditional row at every step
even at guidance 1, and the counter records that), ``sequential_calls`` = transformer calls (one
per step). ``input_tokens`` counts the instruction as the pipeline tokenizes it.
"""

from __future__ import annotations

import dataclasses
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


class OmniGenAdapter(DiffusionAdapter):
    """OmniGen: instruction tokens and latent patches in one transformer -> VAE decoder.

    Parameters: ``denoiser`` (the transformer, token embeddings included), ``vae`` and
    ``total``; ``text_encoder`` is 0 (there is none).
    """

    name: ClassVar[str] = "omnigen"
    description: ClassVar[str] = (
        "OmniGen: one transformer denoises image patches among the prompt's tokens (diffusion in the LLM)"
    )
    capabilities: ClassVar[Capability] = Capability.GENERATE
    connector: ClassVar[Connector] = Connector.NONE
    generation: ClassVar[GenerationParadigm] = GenerationParadigm.DIFFUSION_IN_LLM
    pipeline_loader: ClassVar[str] = "DiffusionPipeline"
    pipeline_class_name: ClassVar[str | None] = "OmniGenPipeline"
    one_prompt_per_call: ClassVar[str | None] = (
        "one prompt per pipeline call: the pipeline pads a batch's instructions to one length, "
        "which changed an image by up to 6 RGB levels against the same prompt drawn alone"
    )

    def generate_images(
        self, batch: Sequence[GenerateRequest], settings: ImageGenerationSettings
    ) -> list[GenerateResponse]:
        """`DiffusionAdapter.generate_images`, with the instruction the transformer read as the prompt."""
        responses = super().generate_images(batch, settings)
        return [
            dataclasses.replace(response, prompt=self.instruction(request.text))
            for request, response in zip(batch, responses, strict=True)
        ]

    def instruction(self, text: str) -> str:
        """The pipeline's instruction template around `text`."""
        return str(self.pipe.multimodal_processor.add_prefix_instruction(text))

    def count_prompt_tokens(self, prompts: Sequence[str]) -> list[int]:
        """Tokens of each instruction as the pipeline's processor tokenizes it."""
        processor = self.pipe.multimodal_processor
        return [len(processor.process_multi_modal_prompt(text, None)["input_ids"]) for text in prompts]

    @classmethod
    def build_tiny(cls, out_dir: Path, *, seed: int = 0) -> Path:
        """Write the tiny random checkpoint of `mllmbench.adapters.tiny.omnigen` to `out_dir`."""
        from mllmbench.adapters.tiny import omnigen

        return omnigen.build(out_dir, seed=seed)
