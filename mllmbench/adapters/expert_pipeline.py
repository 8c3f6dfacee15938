"""Expert pipeline: a captioning adapter turns each image into text, a text-only LLM answers.

The checkpoint is a directory holding both models and a ``pipeline.json`` that ties them::

    DIR/pipeline.json     {"captioner": {"adapter": "llava", "model": "captioner"}, "llm": "llm", ...}
    DIR/captioner/        a checkpoint of any registered understanding adapter (here: llava)
    DIR/llm/              an AutoModelForCausalLM + AutoTokenizer with a chat template

``captioner.model`` and ``llm`` name a subdirectory of DIR, an absolute path, or a hub id
(``org/name``), so a real pipeline is a three-line JSON file next to nothing else.

Stage 1 (caption): every image of the batch becomes one request to the captioner adapter
with ``caption_prompt`` (the captioner applies its own chat template and image placement), all
images in one batched call. Stage 2 (answer): each sample's captions are written into
``caption_line`` (``Image {index}: {caption}``), the lines and the suite's text fill
``user_template``, and that user message is rendered with the LLM's chat template; one
left-padded ``generate`` call answers the batch. `UnderstandResponse.prompt` is the exact
stage-2 text, so the captions are visible inside it.

Visual tokens: the LLM never sees pixels; an image reaches it as its caption. ``image_tokens``
(per sample) is the number of stage-2 input positions whose text overlaps a caption, and
``visual_tokens_per_image`` is that count for the caption of a blank probe image, measured at
load. The captioner's own image tokens are in the stage-1 numbers.

Costs: the shared `Usage` fields describe the stage that answers (input, output and image
tokens of the LLM, so the fidelity and contract checks mean what they mean for every other
family), except ``batch_seconds``, which is the wall time of both stages' ``generate`` calls.
Each response is a `PipelineResponse` whose usage is a `PipelineUsage` carrying one
`StageUsage` per stage (``caption``: summed over the sample's images; ``answer``) and the totals
over both stages (``total_input_tokens``, ``total_output_tokens``); ``usage.to_dict()`` includes
them. ``usage.profile`` treats the two stages as one generate call, so the TTFT and E2EL the
runner derives from it run from the start of captioning: preprocess = the captioner's, prefill =
everything before the first answer token (captioning included), decode = the answer's, vision =
the captioner's vision + connector time. ``info.parameters`` has the captioner's groups
(``vision``, ``connector``, ``llm``) plus ``expert_llm``, the text LLM; ``info.weights_bytes``
counts both models.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from mllmbench.adapters.base import Adapter
from mllmbench.adapters.hf import resolve_checkpoint
from mllmbench.adapters.two_stage import ZEPHYR_CHAT_TEMPLATE, TextLLMStage, combined_hash, resolve_part
from mllmbench.core.errors import ConfigError
from mllmbench.core.types import (
    AdapterInfo,
    Capability,
    Connector,
    GenerationProfile,
    GenerationSettings,
    Paradigm,
    UnderstandRequest,
    UnderstandResponse,
    Usage,
)

if TYPE_CHECKING:
    pass

PIPELINE_FILE = "pipeline.json"
"""The file in the checkpoint directory that names the two models and the prompts."""
DEFAULT_CAPTION_PROMPT = "Describe the image."
DEFAULT_CAPTION_LINE = "Image {index}: {caption}"
DEFAULT_USER_TEMPLATE = "{captions}\n{question}"
DEFAULT_CAPTION_MAX_NEW_TOKENS = 32

TINY_CAPTION_MAX_NEW_TOKENS = 12


@dataclass(frozen=True)
class PipelineConfig:
    """The contents of ``pipeline.json``."""

    captioner_adapter: str
    """Registry name of the captioning adapter (``llava``, ``blip2`` ...)."""
    captioner_model: str
    """Its checkpoint: a subdirectory of the pipeline directory, an absolute path or a hub id."""
    llm: str
    """The text LLM checkpoint, resolved like `captioner_model`."""
    caption_prompt: str = DEFAULT_CAPTION_PROMPT
    """The text sent to the captioner with each image (before its chat template)."""
    caption_max_new_tokens: int = DEFAULT_CAPTION_MAX_NEW_TOKENS
    """Caption length limit; the run's ``max_new_tokens`` limits the answer."""
    caption_line: str = DEFAULT_CAPTION_LINE
    """One line per image, with ``{index}`` (1-based) and ``{caption}``."""
    user_template: str = DEFAULT_USER_TEMPLATE
    """The stage-2 user message, with ``{captions}`` (the lines joined by newlines) and ``{question}``."""

    @classmethod
    def read(cls, directory: Path) -> PipelineConfig:
        """Parse and check ``directory/pipeline.json``; `ConfigError` names the file and the key."""
        path = directory / PIPELINE_FILE
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError(
                f"{path} not found: an expert_pipeline checkpoint is a directory with {PIPELINE_FILE} "
                f"naming the captioner and the text LLM (see `mllm-bench tiny expert_pipeline`)"
            ) from exc
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read {path}: {exc}") from exc
        captioner = raw.get("captioner") if isinstance(raw, dict) else None
        if not isinstance(captioner, dict) or not {"adapter", "model"} <= captioner.keys():
            raise ConfigError(f"{path}: 'captioner' must be an object with 'adapter' and 'model'")
        unknown = set(raw) - {f.name for f in dataclasses.fields(cls)} - {"captioner"}
        if unknown:
            raise ConfigError(f"{path}: unknown keys {sorted(unknown)}")
        fields = {k: v for k, v in raw.items() if k != "captioner"}
        try:
            config = cls(captioner_adapter=captioner["adapter"], captioner_model=captioner["model"], **fields)
        except TypeError as exc:
            raise ConfigError(f"{path}: {exc}") from exc
        config._check(path)
        return config

    def _check(self, path: Path) -> None:
        for key in ("captioner_adapter", "captioner_model", "llm", "caption_prompt"):
            if not isinstance(getattr(self, key), str) or not getattr(self, key):
                raise ConfigError(f"{path}: {key} must be a non-empty string")
        if not isinstance(self.caption_max_new_tokens, int) or self.caption_max_new_tokens < 1:
            raise ConfigError(f"{path}: caption_max_new_tokens must be a positive integer")
        for key, fields in (
            ("caption_line", ("{caption}",)),
            ("user_template", ("{captions}", "{question}")),
        ):
            value = getattr(self, key)
            if not isinstance(value, str) or any(f not in value for f in fields):
                raise ConfigError(f"{path}: {key} must be a string containing {' and '.join(fields)}")
            try:
                value.format(index=1, caption="", captions="", question="")
            except (KeyError, IndexError, ValueError) as exc:
                raise ConfigError(f"{path}: {key} {value!r} is not a valid template: {exc!r}") from exc

    def to_dict(self) -> dict[str, Any]:
        """The JSON form `read` accepts."""
        d = dataclasses.asdict(self)
        captioner = {"adapter": d.pop("captioner_adapter"), "model": d.pop("captioner_model")}
        return {"captioner": captioner, **d}


@dataclass(frozen=True)
class StageUsage:
    """Token counts and time of one pipeline stage for one sample."""

    input_tokens: int
    output_tokens: int
    image_tokens: int
    """Stage 1: the captioner's image positions; stage 2: the caption positions."""
    batch_seconds: float
    """Wall time of this stage's batched call."""
    batch_size: int
    """Requests in that call (stage 1: images, stage 2: samples)."""
    preprocess_seconds: float | None = None
    """The call's `GenerationProfile` figures (batch-level), when the stage measured them."""
    prefill_seconds: float | None = None
    decode_seconds: float | None = None
    vision_seconds: float | None = None

    @classmethod
    def of(cls, usages: Sequence[Usage], batch_size: int, **changes: Any) -> StageUsage:
        """The sum of one stage's `usages` for one sample (zeros for none), timing from the first."""
        profile = usages[0].profile if usages else None
        timing = {
            key: getattr(profile, key)
            for key in ("preprocess_seconds", "prefill_seconds", "decode_seconds", "vision_seconds")
            if profile is not None
        }
        fields = {
            "input_tokens": sum(u.input_tokens for u in usages),
            "output_tokens": sum(u.output_tokens for u in usages),
            "image_tokens": sum(u.image_tokens for u in usages),
            "batch_seconds": usages[0].batch_seconds if usages else 0.0,
        }
        return cls(batch_size=batch_size, **{**fields, **timing, **changes})

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class PipelineUsage(Usage):
    """`Usage` of the answering stage (``batch_seconds``: both stages) plus both stages' numbers."""

    caption: StageUsage
    answer: StageUsage

    @property
    def total_input_tokens(self) -> int:
        """Prompt tokens over both stages."""
        return self.caption.input_tokens + self.answer.input_tokens

    @property
    def total_output_tokens(self) -> int:
        """Generated tokens over both stages (captions and answer)."""
        return self.caption.output_tokens + self.answer.output_tokens

    def to_dict(self) -> dict[str, Any]:
        """`Usage.to_dict` plus ``stages`` and the totals."""
        return {
            **super().to_dict(),
            "total_input_tokens": self.total_input_tokens,
            "total_output_tokens": self.total_output_tokens,
            "stages": {"caption": self.caption.to_dict(), "answer": self.answer.to_dict()},
        }


@dataclass(frozen=True)
class PipelineResponse(UnderstandResponse):
    """A response that also records stage 1: the captions and the captioner's exact prompts."""

    captions: tuple[str, ...]
    """One caption per image of the request, in order."""
    caption_prompts: tuple[str, ...]
    """The exact text given to the captioner's processor for each image."""


class ExpertPipelineAdapter(Adapter):
    """Captioner adapter (any registered one) -> caption text -> text-only causal LM.

    ``visual_tokens_per_image`` is the number of LLM positions the caption of a blank probe image
    takes (captions vary: per-sample counts are ``usage.image_tokens``). Both stages are batched:
    all images of a batch in one captioner call, all prompts in one left-padded LLM call; if the
    captioner itself runs one sample at a time, `batching` says so.
    """

    name: ClassVar[str] = "expert_pipeline"
    description: ClassVar[str] = "Expert pipeline: a captioning adapter, then a text-only LLM"
    capabilities: ClassVar[Capability] = Capability.UNDERSTAND
    connector: ClassVar[Connector] = Connector.EXPERT
    probe_image_size: ClassVar[tuple[int, int]] = (336, 336)

    def __init__(
        self, model: str, *, device: str = "cpu", dtype: str = "float32", trust_remote_code: bool = False
    ) -> None:
        super().__init__(model, device=device, dtype=dtype, trust_remote_code=trust_remote_code)
        self._captioner: Any = None
        self._llm: TextLLMStage | None = None
        self._config: PipelineConfig | None = None

    # --- loaded objects --------------------------------------------------------------------
    @property
    def captioner(self) -> Any:
        """The loaded stage-1 adapter."""
        return self._require_loaded(self._captioner)

    @property
    def llm(self) -> TextLLMStage:
        """The loaded stage-2 text LLM."""
        return self._require_loaded(self._llm)

    @property
    def config(self) -> PipelineConfig:
        """The parsed ``pipeline.json``."""
        return self._require_loaded(self._config)

    @property
    def model(self) -> Any:
        """The text LLM (what answers; `check_fidelity` calls it directly)."""
        return self.llm.model

    @property
    def processor(self) -> Any:
        """The text LLM's tokenizer."""
        return self.llm.tokenizer

    # --- lifecycle -------------------------------------------------------------------------
    def load(self) -> None:
        """Read ``pipeline.json``, load the captioner adapter and the text LLM, record `info`.

        Raises:
            ConfigError: missing directory or ``pipeline.json``, a bad key, an unknown or
                non-understanding captioner adapter, a missing part; the parts' own errors.
        """
        from mllmbench.adapters.registry import load_adapter_class

        local_dir = resolve_checkpoint(self.model_id)
        if local_dir is None:
            raise ConfigError(
                f"expert_pipeline needs a local directory holding {PIPELINE_FILE}; {self.model_id!r} is not one"
            )
        config = PipelineConfig.read(local_dir)
        try:
            captioner_cls = load_adapter_class(config.captioner_adapter)
        except ConfigError as exc:
            raise ConfigError(f"{local_dir / PIPELINE_FILE}: captioner: {exc}") from exc
        if Capability.UNDERSTAND not in captioner_cls.capabilities:
            raise ConfigError(
                f"{local_dir / PIPELINE_FILE}: captioner adapter {config.captioner_adapter!r} cannot understand images"
            )
        options: dict[str, Any] = {
            "device": self.device,
            "dtype": self.dtype,
            "trust_remote_code": self.trust_remote_code,
        }
        captioner = captioner_cls(
            resolve_part(local_dir, PIPELINE_FILE, config.captioner_model, "captioner.model"), **options
        )
        llm = TextLLMStage(resolve_part(local_dir, PIPELINE_FILE, config.llm, "llm"), **options)
        try:
            captioner.load()
            llm.load()
            self._captioner, self._llm, self._config = captioner, llm, config
            self._info = self._build_info(local_dir)
        except BaseException:
            captioner.close()
            llm.close()
            self._captioner = self._llm = self._config = None
            raise

    def _build_info(self, local_dir: Path) -> AdapterInfo:
        cap, llm = self.captioner.info, self.llm.info
        parameters = {k: v for k, v in cap.parameters.items() if k != "total"}
        parameters["expert_llm"] = llm.parameters["total"]
        parameters["total"] = cap.parameters["total"] + llm.parameters["total"]
        batching = "batched"
        if cap.batching != "batched":
            batching = f"stage 2 is batched; the {cap.name} captioner is not: {cap.batching}"
        return AdapterInfo(
            name=self.name,
            checkpoint=self.model_id,
            checkpoint_hash=combined_hash(
                local_dir / PIPELINE_FILE, cap.checkpoint_hash, llm.checkpoint_hash
            ),
            dtype=self.dtype,
            device=self.device,
            capabilities=self.capabilities,
            paradigm=Paradigm(
                family=self.name,
                connector=self.connector,
                generation=self.generation,
                vision_encoder=cap.paradigm.vision_encoder,
                llm_backbone=llm.paradigm.llm_backbone,
            ),
            parameters=parameters,
            visual_tokens_per_image=self._probe_visual_tokens(),
            model_class=f"{cap.model_class} -> {llm.model_class}",
            processor_class=f"{cap.processor_class} -> {llm.processor_class}",
            chat_template=llm.chat_template,
            batching=batching,
            weights_bytes=_sum_or_none(cap.weights_bytes, llm.weights_bytes),
        )

    def _probe_visual_tokens(self) -> int:
        from PIL import Image as PILImage

        size = getattr(self.captioner, "probe_image_size", self.probe_image_size)
        probe = UnderstandRequest("probe", (PILImage.new("RGB", size, (127, 127, 127)),), "?")
        [response] = self.understand([probe], GenerationSettings(max_new_tokens=1))
        return response.usage.image_tokens

    def close(self) -> None:
        """Release both models."""
        for part in (self._captioner, self._llm):
            if part is not None:
                part.close()
        self._captioner = self._llm = self._config = None
        super().close()

    # --- understanding ---------------------------------------------------------------------
    def understand(
        self, batch: Sequence[UnderstandRequest], settings: GenerationSettings
    ) -> list[UnderstandResponse]:
        """Caption every image of `batch` in one call, then answer every sample in one call."""
        if not batch:
            return []
        config = self.config
        caption_requests = [
            UnderstandRequest(f"{request.sample_id}#image{k}", (image,), config.caption_prompt)
            for request in batch
            for k, image in enumerate(request.images)
        ]
        caption_settings = dataclasses.replace(settings, max_new_tokens=config.caption_max_new_tokens)
        caption_start = time.perf_counter()
        captions = self.captioner.understand(caption_requests, caption_settings) if caption_requests else []

        per_sample: list[list[UnderstandResponse]] = []
        llm_requests, spans = [], []
        remaining = list(captions)
        for request in batch:
            mine, remaining = remaining[: len(request.images)], remaining[len(request.images) :]
            per_sample.append(mine)
            user_text, caption_spans = self.user_message([c.text for c in mine], request.text)
            llm_requests.append(UnderstandRequest(request.sample_id, (), user_text))
            spans.append((user_text, caption_spans))
        answer_start = time.perf_counter()
        answers = self.llm.understand(llm_requests, settings)

        caption_call = _timing(StageUsage.of([c.usage for c in captions[:1]], len(caption_requests)))
        responses: list[UnderstandResponse] = []
        for mine, answer, (user_text, caption_spans) in zip(per_sample, answers, spans, strict=True):
            n_caption = sum(self.llm.caption_token_counts(answer.prompt, user_text, caption_spans))
            stage1 = StageUsage.of([c.usage for c in mine], len(caption_requests), **caption_call)
            stage2 = StageUsage.of([answer.usage], len(batch), image_tokens=n_caption)
            usage = PipelineUsage(
                input_tokens=stage2.input_tokens,
                output_tokens=stage2.output_tokens,
                image_tokens=n_caption,
                batch_seconds=stage1.batch_seconds + stage2.batch_seconds,
                batch_size=len(batch),
                profile=_pipeline_profile(stage1, answer.usage.profile, answer_start - caption_start),
                caption=stage1,
                answer=stage2,
            )
            responses.append(
                PipelineResponse(
                    text=answer.text,
                    prompt=answer.prompt,
                    usage=usage,
                    captions=tuple(c.text for c in mine),
                    caption_prompts=tuple(c.prompt for c in mine),
                )
            )
        return responses

    def user_message(self, captions: Sequence[str], question: str) -> tuple[str, list[tuple[int, int]]]:
        """The stage-2 user message and each caption's (start, end) offsets inside it.

        ``user_template`` filled with the caption lines and the question; a request without
        images gets the question alone.
        """
        config = self.config
        if not captions:
            return question, []
        marker = "\0caption\0"
        lines = [config.caption_line.format(index=i + 1, caption=marker) for i in range(len(captions))]
        skeleton = config.user_template.format(captions="\n".join(lines), question=question)
        pieces = skeleton.split(marker)
        text, spans = pieces[0], []
        for caption, piece in zip(captions, pieces[1:], strict=True):
            spans.append((len(text), len(text) + len(caption)))
            text += caption + piece
        return text, spans

    # --- tiny checkpoints ------------------------------------------------------------------
    @classmethod
    def build_tiny(cls, out_dir: Path, *, seed: int = 0) -> Path:
        """Write a tiny pipeline: the tiny LLaVA as captioner, a tiny Llama chat LM, ``pipeline.json``.

        ``captioner/`` is what the registered ``llava`` adapter's `build_tiny` writes; ``llm/`` is
        a 2-layer ``LlamaForCausalLM`` (hidden 64) on the offline tiny tokenizer with the
        TinyLlama-Chat template. Same seed, same bytes.
        """
        import torch
        from transformers import LlamaConfig, LlamaForCausalLM

        from mllmbench.adapters.registry import load_adapter_class
        from mllmbench.adapters.tiny_tokenizer import build_tiny_tokenizer

        out_dir = Path(out_dir)
        load_adapter_class("llava").build_tiny(out_dir / "captioner", seed=seed)
        tokenizer = build_tiny_tokenizer(
            extra_special_tokens=["<|user|>", "<|assistant|>", "<|system|>"],
            extra_corpus=[
                "<|user|>\nImage 1: a red circle\nWhat colour is the circle?</s>\n<|assistant|>\nred"
            ],
        )
        tokenizer.chat_template = ZEPHYR_CHAT_TEMPLATE
        config = LlamaConfig(
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            vocab_size=len(tokenizer),
            max_position_embeddings=512,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
            initializer_range=0.02,
        )
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = LlamaForCausalLM(config).eval()
        model.save_pretrained(out_dir / "llm")
        tokenizer.save_pretrained(out_dir / "llm")
        pipeline = PipelineConfig(
            "llava", "captioner", "llm", caption_max_new_tokens=TINY_CAPTION_MAX_NEW_TOKENS
        )
        (out_dir / PIPELINE_FILE).write_text(
            json.dumps(pipeline.to_dict(), indent=2) + "\n", encoding="utf-8"
        )
        return out_dir


def _timing(stage: StageUsage) -> dict[str, Any]:
    """The batch-level time fields of `stage` (shared by every sample of the call)."""
    keys = ("batch_seconds", "preprocess_seconds", "prefill_seconds", "decode_seconds", "vision_seconds")
    return {key: getattr(stage, key) for key in keys}


def _pipeline_profile(
    caption: StageUsage, answer: GenerationProfile | None, seconds_between_calls: float
) -> GenerationProfile | None:
    """Both stages as one generate call, so TTFT and E2EL run from the captioner's start.

    preprocess = the captioner's preprocessing; prefill = caption generation, stage-2
    preprocessing and prefill (everything before the first answer token); decode = the
    answer's decode; vision = the captioner's vision + connector time; token times are shifted
    by the time from the caption ``generate`` start to the answer ``generate`` start.
    """
    if answer is None:
        return None
    caption_preprocess = caption.preprocess_seconds or 0.0
    shift = seconds_between_calls - caption_preprocess + answer.preprocess_seconds
    return GenerationProfile(
        preprocess_seconds=caption_preprocess,
        prefill_seconds=shift + answer.prefill_seconds,
        decode_seconds=answer.decode_seconds,
        vision_seconds=caption.vision_seconds,
        token_seconds=tuple(shift + t for t in answer.token_seconds),
        clock=answer.clock,
    )


def _sum_or_none(*values: int | None) -> int | None:
    return None if any(v is None for v in values) else sum(v for v in values if v is not None)
