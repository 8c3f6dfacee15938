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

Video: a family whose `capabilities` include `Capability.VIDEO` gets each request's videos
(already sampled by the run's frame policy) placed in the chat template as ``{"type": "video"}``
items and passed to the processor as ``videos=`` (one frame list per clip) with each clip's
sampled frame rate (``video_metadata``; Qwen2.5-VL turns it into temporal positions) and
``do_sample_frames=False`` (the frames are already the sample). Video positions count as visual
tokens (``usage.image_tokens`` adds the video-token ids to the image-token ids) and
``usage.video_frames`` is the number of frames the sample sent. A request with videos sent to a
family without the capability is refused, never answered from its text alone.

Audio: a family with `Capability.AUDIO` (Qwen2-Audio) gets each request's waveforms as
``{"type": "audio"}`` chat items and ``processor(audio=, sampling_rate=)``
(`render_audio_prompt`, `audio_processor_inputs`); other families refuse audio the same way.

Every call also returns a `GenerationProfile` per sample (preprocessing, prefill, decode,
vision + connector time and per-token times, see `mllmbench.core.profiling`).
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from mllmbench.adapters.base import Adapter, PreparedBatch
from mllmbench.adapters.checkpoints import (
    DTYPES,
    WEIGHT_SUFFIXES,
    check_device_and_dtype,
    checkpoint_hash,
    resolve_checkpoint,
)
from mllmbench.adapters.counting import count_output_tokens, count_parameters, eos_id_set
from mllmbench.core.errors import ConfigError, MissingResourceError
from mllmbench.core.profiling import GenerateProfiler, weights_bytes
from mllmbench.core.types import (
    AdapterInfo,
    Audio,
    Capability,
    GenerationProfile,
    GenerationSettings,
    Paradigm,
    UnderstandRequest,
    UnderstandResponse,
    Usage,
    Video,
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


def video_kwargs(videos: Sequence[Sequence[Video]] | None) -> dict[str, Any]:
    """Processor keyword arguments for a batch's videos (one list per request, flattened): the
    frame lists, each clip's sampled frame rate as ``video_metadata``, no re-sampling.

    Empty when the batch has no video, so image-only calls are unchanged.
    """
    from mllmbench.core.video import sampled_fps

    flat = [video for sample in videos or () for video in sample]
    if not flat:
        return {}
    return {
        "videos": [list(video.frames) for video in flat],
        "video_metadata": [
            {"fps": sampled_fps(video), "total_num_frames": len(video.frames)} for video in flat
        ],
        "do_sample_frames": False,
    }


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
        self._loader_thread: int | None = None
        """The thread that loaded the processor; other threads get a copy (`processor`)."""
        self._thread_processors = threading.local()

    # --- loaded objects --------------------------------------------------------------------
    @property
    def model(self) -> Any:
        """The loaded transformers model (``RuntimeError`` before `load`)."""
        return self._require_loaded(self._model)

    @property
    def processor(self) -> Any:
        """The loaded processor (``RuntimeError`` before `load`).

        A thread other than the one that loaded it (the engine's preparing worker) gets its own
        deep copy, made on first use: a fast tokenizer refuses use from two threads at once.
        """
        processor = self._require_loaded(self._processor)
        if self._loader_thread in (None, threading.get_ident()):
            return processor
        local = self._thread_processors
        if getattr(local, "source", None) is not processor:
            local.copy, local.source = copy.deepcopy(processor), processor
        return local.copy

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
        self._loader_thread = threading.get_ident()
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
        self._thread_processors = threading.local()
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
        stripped of surrounding whitespace. The same as `prepare` then `understand_prepared`.
        """
        if not batch:
            return []
        if any(request.choices for request in batch):
            from mllmbench.adapters.likelihood import understand_by_likelihood

            return understand_by_likelihood(self, batch)
        return self._generate(self._preprocess(batch), settings)

    def prepare(self, batch: Sequence[UnderstandRequest]) -> PreparedBatch:
        """Chat template and processor on the CPU, ahead of `understand_prepared` (`Adapter.prepare`).

        Safe in a worker thread while another batch generates: that thread uses its own copy of
        the processor (a fast tokenizer refuses concurrent use: "Already borrowed"). Nothing is
        prepared ahead for likelihood requests, nor for a family that overrides `understand`
        (its override must see every batch).
        """
        own_understand = type(self).understand is HFVisionLanguageAdapter.understand
        if not batch or not own_understand or any(request.choices for request in batch):
            return super().prepare(batch)
        return self._preprocess(batch)

    def understand_prepared(
        self, prepared: PreparedBatch, settings: GenerationSettings
    ) -> list[UnderstandResponse]:
        """Generate for a batch made by `prepare` (`understand` when nothing was prepared ahead)."""
        if prepared.inputs is None:
            return self.understand(prepared.requests, settings)
        return self._generate(prepared, settings)

    def _preprocess(self, batch: Sequence[UnderstandRequest]) -> PreparedBatch:
        """Prompts and processor outputs of `batch`, on the CPU, timed as preprocessing."""
        from transformers import BatchFeature

        start = time.perf_counter()
        with_video = any(request.videos for request in batch)
        if with_video and Capability.VIDEO not in self.capabilities:
            raise ConfigError(f"adapter {self.name!r} does not read video; the request has a video")
        with_audio = any(request.audios for request in batch)
        if with_audio and Capability.AUDIO not in self.capabilities:
            raise ConfigError(f"adapter {self.name!r} does not read audio; the request has audio")
        images = [list(request.images) for request in batch]
        if with_audio:
            prompts = [self.render_audio_prompt(r.text, len(r.audios)) for r in batch]
            inputs = self.audio_processor_inputs(prompts, [list(r.audios) for r in batch])
        elif with_video:
            prompts = [self.render_video_prompt(r.text, len(r.images), len(r.videos)) for r in batch]
            inputs = self.video_processor_inputs(prompts, images, [list(r.videos) for r in batch])
        else:
            prompts = [self.render_prompt(request.text, len(request.images)) for request in batch]
            inputs = self.processor_inputs(prompts, images)
        if not isinstance(inputs, BatchFeature):
            inputs = BatchFeature(dict(inputs))
        return PreparedBatch(tuple(batch), inputs, tuple(prompts), time.perf_counter() - start)

    def _generate(self, prepared: PreparedBatch, settings: GenerationSettings) -> list[UnderstandResponse]:
        """Copy the prepared inputs to the device (counted as preprocessing), generate, decode."""
        import torch

        batch, prompts = prepared.requests, prepared.prompts
        copy_start = time.perf_counter()
        inputs = prepared.inputs.to(self.device, dtype=getattr(torch, self.dtype))
        self._synchronize()
        preprocess_seconds = prepared.preprocess_seconds + (time.perf_counter() - copy_start)

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
        if any(request.videos for request in batch):
            usages = [
                dataclasses.replace(u, video_frames=sum(len(v.frames) for v in r.videos))
                for u, r in zip(usages, batch, strict=True)
            ]
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
        return self._render_media_prompt(text, n_images, 0)

    def render_video_prompt(self, text: str, n_images: int, n_videos: int) -> str:
        """The prompt of a request with videos (families with `Capability.VIDEO` only): the chat
        template with ``{"type": "video"}`` items after the images, before the text."""
        return self._render_media_prompt(text, n_images, n_videos)

    def render_audio_prompt(self, text: str, n_audios: int) -> str:
        """The prompt of a request with audio (families with `Capability.AUDIO` only): the chat
        template with ``{"type": "audio"}`` items before the text."""
        content: list[dict[str, str]] = [{"type": "audio", "audio_url": ""} for _ in range(n_audios)]
        content.append({"type": "text", "text": text})
        missing = f"checkpoint {self.model_id!r} has no chat template; adapter {self.name!r} needs one"
        return render_chat(self.processor, [{"role": "user", "content": content}], missing=missing)

    def audio_processor_inputs(self, prompts: list[str], audios: list[list[Audio]]) -> Mapping[str, Any]:
        """Model inputs for a batch with audio: ``processor(text=, audio=<flat waveforms>)``, padded."""
        flat = [audio for sample in audios for audio in sample]
        rates = {audio.sample_rate for audio in flat}
        if len(rates) != 1:
            raise ConfigError(
                f"adapter {self.name!r}: audio of one batch must share a sample rate, got {sorted(rates)}"
            )
        return self.processor(  # type: ignore[no-any-return]
            text=prompts,
            audio=[audio.waveform for audio in flat],
            sampling_rate=rates.pop(),
            return_tensors="pt",
            padding=True,
        )

    def _render_media_prompt(self, text: str, n_images: int, n_videos: int) -> str:
        content: list[dict[str, str]] = [{"type": "image"} for _ in range(n_images)]
        content.extend({"type": "video"} for _ in range(n_videos))
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

    def video_processor_inputs(
        self, prompts: list[str], images: list[list[Image]], videos: list[list[Video]]
    ) -> Mapping[str, Any]:
        """Model inputs for a batch with videos (families with `Capability.VIDEO` only): as
        `processor_inputs`, plus `video_kwargs`."""
        flat = [image for sample in images for image in sample]
        return self.processor(  # type: ignore[no-any-return]
            text=prompts, images=flat or None, return_tensors="pt", padding=True, **video_kwargs(videos)
        )

    def image_token_id(self) -> int | None:
        """The id of the image placeholder token in ``input_ids`` (processor, then model config)."""
        token_id = getattr(self.processor, "image_token_id", None)
        if token_id is None:
            token_id = getattr(self.model.config, "image_token_id", None)
        if token_id is None:
            token_id = getattr(self.model.config, "image_token_index", None)
        return int(token_id) if token_id is not None else None

    def video_token_id(self) -> int | None:
        """The id of the video placeholder token (processor, then model config); None without one."""
        token_id = getattr(self.processor, "video_token_id", None)
        for name in ("video_token_id", "video_token_index"):
            if token_id is None:
                token_id = getattr(self.model.config, name, None)
        return int(token_id) if token_id is not None else None

    def count_image_tokens(self, inputs: Mapping[str, Any]) -> list[int]:
        """Per sample, how many input positions its images and videos became (image- and
        video-token ids in the input; every frame's positions count)."""
        token_id = self.image_token_id()
        if token_id is None:
            raise NotImplementedError(
                f"adapter {self.name!r}: no image token id found; override count_image_tokens"
            )
        ids = inputs["input_ids"]
        counts = ids == token_id
        video_id = self.video_token_id() if Capability.VIDEO in self.capabilities else None
        if video_id is not None and video_id != token_id:
            counts = counts | (ids == video_id)
        return [int(n) for n in counts.sum(dim=1).tolist()]

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
        return eos_id_set(eos)
