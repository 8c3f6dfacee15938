"""The shared base of every transformers-based understanding adapter.

`HFVisionLanguageAdapter` does everything that does not depend on the family: resolving the
checkpoint (local directory or hub id), loading the model class and `AutoProcessor`, batched
greedy generation with left padding, decoding only the new tokens, per-sample token counts,
parameter counts per component, the checkpoint hash and the `AdapterInfo`.

A family is one small subclass that sets the class variables and overrides the hooks it needs:

* ``model_class_name``: the transformers class, e.g. ``"LlavaForConditionalGeneration"``;
* ``param_groups``: submodule names of the ``vision``, ``connector`` and ``llm`` parts;
* `render_prompt`: the task text -> the prompt string (default: the processor's chat template);
* `processor_inputs`: prompts + images -> model inputs (default: ``processor(text=, images=)``);
* `count_image_tokens`: how many input positions each sample's images became (default: the
  number of image-token ids in ``input_ids``);
* `image_token_id`, `vision_encoder_name`, `llm_backbone_name`, `chat_template_text`,
  `new_token_rows`, `decode`, `generation_kwargs` for the rarer differences;
* `timed_modules`: the modules whose forward time counts as vision + connector time
  (default: the ``vision`` and ``connector`` groups of ``param_groups``).

Every call also returns a `GenerationProfile` per sample (preprocessing, prefill, decode,
vision + connector time and per-token times, see `mllmbench.core.profiling`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from mllmbench.adapters.base import Adapter
from mllmbench.adapters.checkpoints import (
    DTYPES,
    WEIGHT_SUFFIXES,
    check_device_and_dtype,
    checkpoint_hash,
    resolve_checkpoint,
)
from mllmbench.adapters.counting import count_output_tokens, count_parameters
from mllmbench.core.errors import ConfigError, MissingResourceError
from mllmbench.core.profiling import GenerateProfiler, weights_bytes
from mllmbench.core.types import (
    AdapterInfo,
    Capability,
    GenerationProfile,
    GenerationSettings,
    Paradigm,
    UnderstandRequest,
    UnderstandResponse,
    Usage,
)

if TYPE_CHECKING:
    import torch
    from PIL.Image import Image

log = logging.getLogger(__name__)

__all__ = [
    "DTYPES",
    "WEIGHT_SUFFIXES",
    "HFVisionLanguageAdapter",
    "checkpoint_hash",
    "count_output_tokens",
    "count_parameters",
    "resolve_checkpoint",
]
"""`HFVisionLanguageAdapter`, and the checkpoint and counting helpers that live in
`mllmbench.adapters.checkpoints` and `mllmbench.adapters.counting` (re-exported: adapters outside
this package import them from here)."""


def render_chat(owner: Any, messages: list[dict[str, Any]], *, missing: str) -> str:
    """The one chat-template path: `messages` through ``owner.apply_chat_template`` (a processor
    or a tokenizer), ending with the assistant prompt, as text. `ConfigError(missing)` when
    `owner` has no chat template."""
    if not getattr(owner, "chat_template", None):
        raise ConfigError(missing)
    return str(owner.apply_chat_template(messages, add_generation_prompt=True, tokenize=False))


class HFVisionLanguageAdapter(Adapter):
    """Images + text -> text through a transformers model and its processor, batched and greedy.

    Subclasses set `model_class_name` and `param_groups` (and the `Adapter` class variables
    ``name``, ``connector``, ``description``) and override hooks only where the family differs.
    """

    capabilities: ClassVar[Capability] = Capability.UNDERSTAND
    model_class_name: ClassVar[str] = ""
    """Name of the model class in the ``transformers`` namespace."""
    processor_class_name: ClassVar[str] = "AutoProcessor"
    """Name of the processor class in the ``transformers`` namespace."""
    param_groups: ClassVar[Mapping[str, tuple[str, ...]]] = {}
    """``{"vision": (...), "connector": (...), "llm": (...)}``: dotted submodule names of the model."""
    batching: ClassVar[str] = "batched"
    """``batched``, or a sentence saying why this family runs one sample at a time."""
    probe_image_size: ClassVar[tuple[int, int]] = (336, 336)
    """(width, height) of the blank image used to measure ``visual_tokens_per_image`` at load."""

    def __init__(
        self,
        model: str,
        *,
        device: str = "cpu",
        dtype: str = "float32",
        trust_remote_code: bool = False,
    ) -> None:
        super().__init__(model, device=device, dtype=dtype, trust_remote_code=trust_remote_code)
        self._model: Any = None
        self._processor: Any = None

    # --- loaded objects --------------------------------------------------------------------
    @property
    def model(self) -> Any:
        """The loaded transformers model (``RuntimeError`` before `load`)."""
        return self._require_loaded(self._model)

    @property
    def processor(self) -> Any:
        """The loaded processor (``RuntimeError`` before `load`)."""
        return self._require_loaded(self._processor)

    @property
    def tokenizer(self) -> Any:
        """The processor's tokenizer (the processor itself if it is a tokenizer)."""
        return getattr(self.processor, "tokenizer", self.processor)

    # --- lifecycle -------------------------------------------------------------------------
    def load(self) -> None:
        """Load the model and processor, then record `info`.

        Raises:
            ConfigError: bad device or dtype name, missing local path, CUDA unavailable.
            MissingResourceError: a hub id that is not in the local cache (no downloads here).
        """
        local_dir = resolve_checkpoint(self.model_id)
        check_device_and_dtype(self.device, self.dtype)
        self._model, self._processor = self._from_pretrained(local_dir)
        self.tokenizer.padding_side = "left"
        try:
            self._info = self._build_info(local_dir)
        except BaseException:
            self._model = self._processor = None
            raise
        log.info("loaded %s from %s on %s (%s)", self.name, self.model_id, self.device, self.dtype)

    def _from_pretrained(self, local_dir: Path | None) -> tuple[Any, Any]:
        """The model (eval mode, on the device, in the dtype) and the processor."""
        import torch
        import transformers

        source = str(local_dir) if local_dir is not None else self.model_id
        remote = {"trust_remote_code": True} if self.trust_remote_code else {}
        model_kwargs: dict[str, Any] = {
            "dtype": getattr(torch, self.dtype),
            "device_map": self.device,
            **remote,
        }
        if local_dir is not None and any(local_dir.glob("*.safetensors")):
            model_kwargs["use_safetensors"] = True
        try:
            model_cls = getattr(transformers, self.model_class_name)
            processor_cls = getattr(transformers, self.processor_class_name)
        except AttributeError as exc:
            raise ConfigError(
                f"adapter {self.name!r} needs transformers.{self.model_class_name} and "
                f"transformers.{self.processor_class_name}; transformers {transformers.__version__} "
                f"lacks one: upgrade it"
            ) from exc
        try:
            model = model_cls.from_pretrained(source, **model_kwargs).eval()
            processor = processor_cls.from_pretrained(source, **remote)
        except OSError as exc:
            if local_dir is None:
                raise MissingResourceError(
                    f"model {self.model_id!r} is not a local directory and is not in the Hugging Face "
                    f"cache; download it elsewhere and pass its directory ({exc})"
                ) from exc
            raise ConfigError(f"cannot load checkpoint {source!r}: {exc}") from exc
        return model, processor

    def _build_info(self, local_dir: Path | None) -> AdapterInfo:
        """Provenance of the freshly loaded model (runs the family hooks once)."""
        return AdapterInfo(
            name=self.name,
            checkpoint=self.model_id,
            checkpoint_hash=checkpoint_hash(local_dir) if local_dir is not None else None,
            dtype=self.dtype,
            device=self.device,
            capabilities=self.capabilities,
            paradigm=Paradigm(
                family=self.name,
                connector=self.connector,
                generation=self.generation,
                vision_encoder=self.vision_encoder_name(),
                llm_backbone=self.llm_backbone_name(),
            ),
            parameters=count_parameters(self.model, self.param_groups),
            visual_tokens_per_image=self.visual_tokens_per_image(),
            model_class=type(self.model).__name__,
            processor_class=type(self.processor).__name__,
            chat_template=self.chat_template_text(),
            batching=self.batching,
            weights_bytes=weights_bytes(self.model),
        )

    def close(self) -> None:
        """Drop the model and processor (and the CUDA cache when on a GPU)."""
        self._model = None
        self._processor = None
        super().close()
        if self.device.startswith("cuda"):
            import torch

            torch.cuda.empty_cache()

    # --- understanding ---------------------------------------------------------------------
    def understand(
        self, batch: Sequence[UnderstandRequest], settings: GenerationSettings
    ) -> list[UnderstandResponse]:
        """Answer `batch` with one left-padded ``generate`` call; one response per request, in order.

        The generated text is decoded from the new tokens only, special tokens skipped, and
        stripped of surrounding whitespace.
        """
        if not batch:
            return []
        if any(request.choices for request in batch):
            from mllmbench.adapters.likelihood import understand_by_likelihood

            return understand_by_likelihood(self, batch)
        import torch
        from transformers import BatchFeature

        preprocess_start = time.perf_counter()
        prompts = [self.render_prompt(request.text, len(request.images)) for request in batch]
        inputs = self.processor_inputs(prompts, [list(request.images) for request in batch])
        if not isinstance(inputs, BatchFeature):
            inputs = BatchFeature(dict(inputs))
        inputs = inputs.to(self.device, dtype=getattr(torch, self.dtype))
        self._synchronize()
        preprocess_seconds = time.perf_counter() - preprocess_start

        torch.manual_seed(settings.seed)
        profiler = GenerateProfiler(self.device, self.timed_modules())
        generate_kwargs = profiler.add_to(self.generation_kwargs(settings))
        self._synchronize()
        start = time.perf_counter()
        with torch.inference_mode(), profiler:
            sequences = self.model.generate(**inputs, **generate_kwargs)
        self._synchronize()
        seconds = time.perf_counter() - start

        eos_ids = self._eos_token_ids()
        rows = [list(map(int, row)) for row in self.new_token_rows(sequences, inputs)]
        lengths = [count_output_tokens(row, eos_ids) for row in rows]
        texts = self.decode([row[:n] for row, n in zip(rows, lengths, strict=True)])
        usages = self._usages(inputs, lengths, seconds, preprocess_seconds, profiler.times())
        return [
            UnderstandResponse(text=text, prompt=prompt, usage=usage)
            for text, prompt, usage in zip(texts, prompts, usages, strict=True)
        ]

    def _usages(
        self, inputs: Any, lengths: list[int], seconds: float, preprocess_seconds: float, times: Any
    ) -> list[Usage]:
        """Per sample: token counts (input, output, image) and the batch's profile."""
        image_tokens = self.count_image_tokens(inputs)
        input_tokens = self._count_input_tokens(inputs)
        return [
            Usage(
                input_tokens=n_in,
                output_tokens=n_out,
                image_tokens=n_img,
                batch_seconds=seconds,
                batch_size=len(lengths),
                profile=GenerationProfile(
                    preprocess_seconds=preprocess_seconds,
                    prefill_seconds=times.prefill_seconds,
                    decode_seconds=times.decode_seconds,
                    vision_seconds=times.vision_seconds,
                    token_seconds=times.step_seconds[:n_out],
                    clock=times.clock,
                ),
            )
            for n_in, n_out, n_img in zip(input_tokens, lengths, image_tokens, strict=True)
        ]

    # --- family hooks ----------------------------------------------------------------------
    def render_prompt(self, text: str, n_images: int) -> str:
        """The prompt string for one request: the processor's chat template, images first.

        Override for checkpoints without a chat template (BLIP-2 style ``Question: … Answer:``).
        """
        content: list[dict[str, str]] = [{"type": "image"} for _ in range(n_images)]
        content.append({"type": "text", "text": text})
        missing = (
            f"checkpoint {self.model_id!r} has no chat template on its processor; "
            f"adapter {self.name!r} needs one to build prompts"
        )
        return render_chat(self.processor, [{"role": "user", "content": content}], missing=missing)

    def processor_inputs(self, prompts: list[str], images: list[list[Image]]) -> Mapping[str, Any]:
        """Model inputs for a batch: ``processor(text=prompts, images=<flat list>)``, padded."""
        flat = [image for sample in images for image in sample]
        return self.processor(text=prompts, images=flat or None, return_tensors="pt", padding=True)  # type: ignore[no-any-return]

    def image_token_id(self) -> int | None:
        """The id of the image placeholder token in ``input_ids`` (processor, then model config)."""
        token_id = getattr(self.processor, "image_token_id", None)
        if token_id is None:
            token_id = getattr(self.model.config, "image_token_id", None)
        if token_id is None:
            token_id = getattr(self.model.config, "image_token_index", None)
        return int(token_id) if token_id is not None else None

    def count_image_tokens(self, inputs: Mapping[str, Any]) -> list[int]:
        """Per sample, how many input positions its images became (image-token ids in the input)."""
        token_id = self.image_token_id()
        if token_id is None:
            raise NotImplementedError(
                f"adapter {self.name!r}: no image token id found; override count_image_tokens"
            )
        return [int(n) for n in (inputs["input_ids"] == token_id).sum(dim=1).tolist()]

    def visual_tokens_per_image(self) -> int | None:
        """Image tokens of one blank `probe_image_size` image (families with fixed counts may override)."""
        from PIL import Image as PILImage

        probe = PILImage.new("RGB", self.probe_image_size, (127, 127, 127))
        inputs = self.processor_inputs([self.render_prompt("?", 1)], [[probe]])
        return self.count_image_tokens(inputs)[0]

    def timed_modules(self) -> list[Any]:
        """The modules whose forward time is the vision + connector time: the ``vision`` and
        ``connector`` submodules of `param_groups`."""
        names = [*self.param_groups.get("vision", ()), *self.param_groups.get("connector", ())]
        return [self.model.get_submodule(name) for name in names]

    def vision_encoder_name(self) -> str:
        """Class name of the first ``vision`` submodule."""
        return self._submodule_class("vision")

    def llm_backbone_name(self) -> str:
        """Class name of the first ``llm`` submodule."""
        return self._submodule_class("llm")

    def chat_template_text(self) -> str | None:
        """The template recorded in `AdapterInfo.chat_template` (the processor's, by default)."""
        template = getattr(self.processor, "chat_template", None)
        return template if isinstance(template, str) else None

    def generation_kwargs(self, settings: GenerationSettings) -> dict[str, Any]:
        """Keyword arguments for ``model.generate`` besides the processor outputs."""
        kwargs: dict[str, Any] = {"max_new_tokens": settings.max_new_tokens, "do_sample": settings.do_sample}
        if settings.do_sample:
            kwargs["temperature"] = settings.temperature
            if settings.top_k is not None:
                kwargs["top_k"] = settings.top_k
        if self.model.generation_config.pad_token_id is None:
            pad = self.tokenizer.pad_token_id
            kwargs["pad_token_id"] = pad if pad is not None else self.tokenizer.eos_token_id
        return kwargs

    def new_token_rows(self, sequences: torch.Tensor, inputs: Mapping[str, Any]) -> torch.Tensor:
        """The generated part of ``generate``'s output (decoder-only: everything after the prompt)."""
        return sequences[:, inputs["input_ids"].shape[1] :]

    def decode(self, rows: list[list[int]]) -> list[str]:
        """Token rows -> text, special tokens skipped, surrounding whitespace stripped."""
        texts = self.processor.batch_decode(rows, skip_special_tokens=True)
        return [str(text).strip() for text in texts]

    # --- helpers ---------------------------------------------------------------------------
    def _submodule_class(self, group: str) -> str:
        names = self.param_groups.get(group, ())
        return type(self.model.get_submodule(names[0])).__name__ if names else ""

    def _count_input_tokens(self, inputs: Mapping[str, Any]) -> list[int]:
        mask = inputs.get("attention_mask")
        if mask is None:
            mask = inputs["input_ids"] != self.tokenizer.pad_token_id
        return [int(n) for n in mask.sum(dim=1).tolist()]

    def _eos_token_ids(self) -> set[int]:
        eos = self.model.generation_config.eos_token_id
        if eos is None:
            eos = self.tokenizer.eos_token_id
        if eos is None:
            return set()
        return {int(e) for e in eos} if isinstance(eos, (list, tuple)) else {int(eos)}

    def _synchronize(self) -> None:
        if self.device.startswith("cuda"):
            import torch

            torch.cuda.synchronize(self.device)
