"""LLM-conditioned diffusion: a text LLM rewrites the prompt, a diffusers pipeline draws it.

The checkpoint is a directory holding both models and a ``llm_diffusion.json`` that ties them::

    DIR/llm_diffusion.json  {"llm": "llm", "diffusion": "diffusion", "instruction": "...{prompt}...", ...}
    DIR/llm/                an AutoModelForCausalLM + AutoTokenizer with a chat template
    DIR/diffusion/          a diffusers text-to-image pipeline (``model_index.json``)

``llm`` and ``diffusion`` name a subdirectory of DIR, an absolute path, or a hub id already in
the local cache (``org/name``), so a real pairing is a short JSON file.

Stage 1 (rewrite): each prompt fills ``instruction`` (``{prompt}``), which is rendered with the
LLM's chat template; one left-padded greedy ``generate`` call rewrites the batch. The stripped
answer (surrounding quotes removed) is the prompt the image model draws; an empty answer falls
back to the original prompt, and the sample's settings say so (``rewrite_fallback``). Stage 2
(draw): the `DiffusionAdapter` machinery draws every rewritten prompt in one pipeline call, each
with its own seed.

Costs: ``usage.stage_seconds`` has ``rewrite`` (the LLM call, preprocessing included) and
``draw`` (the pipeline call); ``batch_seconds`` is their sum. ``input_tokens`` and
``output_tokens`` are the LLM's; ``steps``, ``nfe`` and ``guidance_multiplier`` the pipeline's;
``sequential_calls`` the LLM's forward calls (prefill plus one per decoded token of the batch)
plus the denoiser's steps, since the draw waits for the rewrite.
`GenerateResponse.prompt` is the LLM's exact prompt and ``rewritten_prompt`` what was drawn.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from mllmbench.adapters.base import Adapter
from mllmbench.adapters.counting import ForwardCounter
from mllmbench.adapters.diffusion import DiffusionAdapter
from mllmbench.adapters.hf import resolve_checkpoint
from mllmbench.adapters.two_stage import TextLLMStage, combined_hash, read_part_config, resolve_part
from mllmbench.core.errors import ConfigError
from mllmbench.core.types import (
    AdapterInfo,
    Capability,
    Connector,
    GenerateRequest,
    GenerateResponse,
    GenerateUsage,
    GenerationParadigm,
    GenerationSettings,
    ImageGenerationSettings,
    Paradigm,
    UnderstandRequest,
)

CONFIG_FILE = "llm_diffusion.json"
"""The file in the checkpoint directory that names the two models and the instruction."""
DEFAULT_INSTRUCTION = (
    "Rewrite this image description as a detailed prompt for a text-to-image model. "
    "Answer with the prompt only.\nDescription: {prompt}"
)
DEFAULT_REWRITE_MAX_NEW_TOKENS = 64


@dataclass(frozen=True)
class ConditionerConfig:
    """The contents of ``llm_diffusion.json``."""

    llm: str
    """The text LLM: a subdirectory of the checkpoint directory, an absolute path or a hub id."""
    diffusion: str
    """The diffusers text-to-image pipeline, resolved like `llm`."""
    instruction: str = DEFAULT_INSTRUCTION
    """The user message sent to the LLM, with ``{prompt}`` (the suite's prompt)."""
    rewrite_max_new_tokens: int = DEFAULT_REWRITE_MAX_NEW_TOKENS
    """Length limit of the rewritten prompt (greedy decoding)."""

    @classmethod
    def read(cls, directory: Path) -> ConditionerConfig:
        """Parse and check ``directory/llm_diffusion.json``; `ConfigError` names the file and the key."""
        path = directory / CONFIG_FILE
        raw = read_part_config(
            path,
            f"an llm_diffusion checkpoint is a directory with {CONFIG_FILE} naming the text LLM and "
            "the diffusion pipeline (see `mllm-bench tiny llm_diffusion`)",
            allowed={f.name for f in dataclasses.fields(cls)},
        )
        try:
            config = cls(**raw)
        except TypeError as exc:
            raise ConfigError(f"{path}: {exc}") from exc
        for key in ("llm", "diffusion", "instruction"):
            if not isinstance(getattr(config, key), str) or not getattr(config, key):
                raise ConfigError(f"{path}: {key} must be a non-empty string")
        if "{prompt}" not in config.instruction:
            raise ConfigError(f"{path}: instruction must contain {{prompt}}")
        try:
            config.instruction.format(prompt="")
        except (KeyError, IndexError, ValueError) as exc:
            raise ConfigError(f"{path}: instruction is not a valid template: {exc!r}") from exc
        n = config.rewrite_max_new_tokens
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ConfigError(f"{path}: rewrite_max_new_tokens must be a positive integer")
        return config

    def to_dict(self) -> dict[str, Any]:
        """The JSON form `read` accepts."""
        return dataclasses.asdict(self)


def clean_rewrite(text: str) -> str:
    """The rewritten prompt: stripped, one pair of surrounding quotes removed."""
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        text = text[1:-1].strip()
    return text


class LLMDiffusionAdapter(Adapter):
    """Text LLM (prompt rewriter) -> diffusers text-to-image pipeline.

    Parameters: ``llm`` (the rewriter) plus the pipeline's ``text_encoder``, ``denoiser`` and
    ``vae``, and ``total``. Batching: both stages batched.
    """

    name: ClassVar[str] = "llm_diffusion"
    description: ClassVar[str] = (
        "LLM-conditioned diffusion: a text LLM rewrites the prompt, a diffusers pipeline draws it"
    )
    capabilities: ClassVar[Capability] = Capability.GENERATE
    connector: ClassVar[Connector] = Connector.NONE
    generation: ClassVar[GenerationParadigm] = GenerationParadigm.LLM_CONDITIONED_DIFFUSION

    def __init__(
        self, model: str, *, device: str = "cpu", dtype: str = "float32", trust_remote_code: bool = False
    ) -> None:
        super().__init__(model, device=device, dtype=dtype, trust_remote_code=trust_remote_code)
        self._llm: TextLLMStage | None = None
        self._diffusion: DiffusionAdapter | None = None
        self._config: ConditionerConfig | None = None

    @property
    def llm(self) -> TextLLMStage:
        """The loaded stage-1 text LLM."""
        return self._require_loaded(self._llm)

    @property
    def diffusion(self) -> DiffusionAdapter:
        """The loaded stage-2 diffusion adapter."""
        return self._require_loaded(self._diffusion)

    @property
    def config(self) -> ConditionerConfig:
        """The parsed ``llm_diffusion.json``."""
        return self._require_loaded(self._config)

    # --- lifecycle -------------------------------------------------------------------------
    def load(self) -> None:
        """Read ``llm_diffusion.json``, load the LLM and the pipeline, record `info`."""
        local_dir = resolve_checkpoint(self.model_id)
        if local_dir is None:
            raise ConfigError(
                f"llm_diffusion needs a local directory holding {CONFIG_FILE}; {self.model_id!r} is not one"
            )
        config = ConditionerConfig.read(local_dir)
        options: dict[str, Any] = {
            "device": self.device,
            "dtype": self.dtype,
            "trust_remote_code": self.trust_remote_code,
        }
        llm = TextLLMStage(resolve_part(local_dir, CONFIG_FILE, config.llm, "llm"), **options)
        diffusion = DiffusionAdapter(
            resolve_part(local_dir, CONFIG_FILE, config.diffusion, "diffusion"), **options
        )
        try:
            llm.load()
            diffusion.load()
            self._llm, self._diffusion, self._config = llm, diffusion, config
            self._info = self._build_info(local_dir)
        except BaseException:
            llm.close()
            diffusion.close()
            self._llm = self._diffusion = self._config = None
            raise

    def _build_info(self, local_dir: Path) -> AdapterInfo:
        llm, draw = self.llm.info, self.diffusion.info
        parameters = {"llm": llm.parameters["total"]}
        parameters.update({k: v for k, v in draw.parameters.items() if k != "total"})
        parameters["total"] = llm.parameters["total"] + draw.parameters["total"]
        return AdapterInfo(
            name=self.name,
            checkpoint=self.model_id,
            checkpoint_hash=combined_hash(local_dir / CONFIG_FILE, llm.checkpoint_hash, draw.checkpoint_hash),
            dtype=self.dtype,
            device=self.device,
            capabilities=self.capabilities,
            paradigm=Paradigm(
                family=self.name,
                connector=self.connector,
                generation=self.generation,
                vision_encoder=draw.paradigm.vision_encoder,
                llm_backbone=llm.paradigm.llm_backbone,
            ),
            parameters=parameters,
            visual_tokens_per_image=None,
            model_class=f"{llm.model_class} -> {draw.model_class}",
            processor_class=f"{llm.processor_class} -> {draw.processor_class}",
            chat_template=llm.chat_template,
            batching="batched",
            weights_bytes=None
            if llm.weights_bytes is None or draw.weights_bytes is None
            else llm.weights_bytes + draw.weights_bytes,
        )

    def close(self) -> None:
        """Release both models."""
        for part in (self._llm, self._diffusion):
            if part is not None:
                part.close()
        self._llm = self._diffusion = self._config = None
        super().close()

    # --- generation ------------------------------------------------------------------------
    def rewrite(
        self, batch: Sequence[GenerateRequest], seed: int
    ) -> tuple[list[tuple[str, str, int, int]], float, int]:
        """Stage 1: per request (LLM prompt, rewritten prompt, input tokens, output tokens); seconds;
        the LLM's sequential forward calls (prefill and one per decoded token of the batch)."""
        config = self.config
        requests = [
            UnderstandRequest(r.sample_id, (), config.instruction.format(prompt=r.text)) for r in batch
        ]
        start = time.perf_counter()
        with ForwardCounter(self.llm.model) as counter:
            answers = self.llm.understand(
                requests, GenerationSettings(max_new_tokens=config.rewrite_max_new_tokens, seed=seed)
            )
        seconds = time.perf_counter() - start
        rows = [
            (a.prompt, clean_rewrite(a.text), a.usage.input_tokens, a.usage.output_tokens) for a in answers
        ]
        return rows, seconds, counter.calls

    def generate_images(
        self, batch: Sequence[GenerateRequest], settings: ImageGenerationSettings
    ) -> list[GenerateResponse]:
        """Rewrite every prompt in one LLM call, then draw them all in one pipeline call."""
        if not batch:
            return []
        rows, rewrite_seconds, rewrite_calls = self.rewrite(batch, settings.seed)
        drawn = [rewritten or request.text for request, (_, rewritten, _, _) in zip(batch, rows, strict=True)]
        result = self.diffusion.draw(drawn, [r.seed for r in batch], settings)
        total = rewrite_seconds + result.seconds
        responses = []
        for request, (llm_prompt, rewritten, n_in, n_out), images, prompt in zip(
            batch, rows, result.images, drawn, strict=True
        ):
            responses.append(
                GenerateResponse(
                    images=tuple(images),
                    prompt=llm_prompt,
                    settings={
                        **result.settings,
                        "seed": request.seed,
                        "rewrite_max_new_tokens": self.config.rewrite_max_new_tokens,
                        "rewrite_decoding": "greedy",
                        "rewrite_fallback": not rewritten,
                    },
                    usage=GenerateUsage(
                        batch_seconds=total,
                        batch_size=len(batch),
                        steps=result.steps,
                        nfe=result.nfe,
                        guidance_multiplier=result.guidance_multiplier,
                        sequential_calls=rewrite_calls + result.sequential_calls,
                        input_tokens=n_in,
                        output_tokens=n_out,
                        stage_seconds={"rewrite": rewrite_seconds, "draw": result.seconds},
                    ),
                    rewritten_prompt=prompt,
                )
            )
        return responses

    # --- tiny checkpoints ------------------------------------------------------------------
    @classmethod
    def build_tiny(cls, out_dir: Path, *, seed: int = 0) -> Path:
        """Write the tiny random checkpoint of `mllmbench.adapters.tiny.llm_diffusion` to `out_dir`."""
        from mllmbench.adapters.tiny import llm_diffusion

        return llm_diffusion.build(out_dir, seed=seed)
