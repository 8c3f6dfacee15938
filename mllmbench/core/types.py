"""Shared types of the adapter interface: capabilities, paradigms, requests, responses, usage.

Suites, adapters, the engine and reports all speak these types; they live at the bottom layer so
that a suite can require a `Capability` without importing any adapter.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mllmbench.core.config import DEFAULT_MAX_NEW_TOKENS

if TYPE_CHECKING:
    from PIL.Image import Image


class Capability(enum.Flag):
    """What an adapter can do; suites require one of these."""

    NONE = 0
    UNDERSTAND = enum.auto()
    GENERATE = enum.auto()
    VIDEO = enum.auto()
    """Reads `UnderstandRequest.videos` (sampled frames); a suite needing it requires
    ``UNDERSTAND | VIDEO`` and the run refuses adapters that lack either."""
    AUDIO = enum.auto()
    """Reads `UnderstandRequest.audios` (waveforms)."""


class Connector(enum.StrEnum):
    """How image features reach the language model (the understanding paradigm)."""

    MLP = "mlp"
    """An MLP or linear projector turns patch features into LLM tokens (LLaVA, Qwen2-VL, PaliGemma)."""
    QFORMER = "qformer"
    """Learned queries compress the image to a few tokens (BLIP-2, InstructBLIP)."""
    RESAMPLER = "resampler"
    """A perceiver resampler or pixel shuffle reduces the tokens (Idefics2, Idefics3)."""
    CROSS_ATTENTION = "cross_attention"
    """Cross-attention layers inside the LLM (Flamingo/IDEFICS, Mllama): feature-level fusion."""
    EARLY_FUSION = "early_fusion"
    """Discrete image tokens in the same sequence as text (Chameleon). Janus reads images through an
    MLP aligner (connector `mlp`) and generates VQ tokens (generation `autoregressive_vq`)."""
    EXPERT = "expert"
    """An expert model turns the image into text first (captioner feeding a text LLM)."""
    VISUAL_EXPERT = "visual_expert"
    """Separate visual-expert weights in every LLM layer (CogVLM)."""
    ADAPTION_PROMPT = "adaption_prompt"
    """A projected global image feature added to learned, zero-gated prompts in the top LLM layers;
    no image features in the token sequence (LLaMA-Adapter)."""
    NONE = "none"
    """No image input (a pure text-to-image generator)."""


class GenerationParadigm(enum.StrEnum):
    """How an adapter makes images, if it does."""

    NONE = "none"
    LLM_CONDITIONED_DIFFUSION = "llm_conditioned_diffusion"
    """A text LLM conditions (rewrites the prompt for) a separate diffusion model (DiffusionGPT)."""
    AUTOREGRESSIVE_VQ = "autoregressive_vq"
    """Next-token prediction over discrete VQ codes, one code per step (Janus, Emu3, Chameleon)."""
    NEXT_SCALE = "next_scale"
    """Next-scale prediction: every token of a scale sampled in parallel, one scale per step (VAR)."""
    MASKED_TOKENS = "masked_tokens"
    """Masked VQ-token prediction: all tokens start masked, each step keeps the most confident
    predictions and re-masks the rest (MaskGIT, MUSE/aMUSEd, Show-o)."""
    DIFFUSION = "diffusion"
    """Denoising continuous latents with a UNet or DiT under a text encoder (Stable Diffusion)."""
    DIFFUSION_IN_LLM = "diffusion_in_llm"
    """One transformer reads text tokens and noisy image patches in one sequence and denoises the
    patches itself, with no separate text encoder (Transfusion, OmniGen)."""
    LLM_TOKENS_DIFFUSION_DECODER = "llm_tokens_diffusion_decoder"
    """An LLM emits discrete visual tokens that a diffusion decoder renders to pixels
    (SEED, SEED-X, DreamLLM, GLM-Image)."""


@dataclass(frozen=True)
class Paradigm:
    """Recorded on every result so runs can be grouped and compared by paradigm."""

    family: str
    """Model family, e.g. ``llava``."""
    connector: Connector
    """The understanding paradigm."""
    generation: GenerationParadigm = GenerationParadigm.NONE
    """The generation paradigm."""
    vision_encoder: str = ""
    """Vision tower class or name, e.g. ``CLIPVisionModel``."""
    llm_backbone: str = ""
    """Language model class or name, e.g. ``LlamaForCausalLM``."""

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {
            "family": self.family,
            "connector": str(self.connector),
            "generation": str(self.generation),
            "vision_encoder": self.vision_encoder,
            "llm_backbone": self.llm_backbone,
        }


@dataclass(frozen=True)
class AdapterInfo:
    """What a loaded adapter is: recorded in `run.json` as provenance."""

    name: str
    """Registry name (``llava``)."""
    checkpoint: str
    """Local path or hub id as given by the user."""
    checkpoint_hash: str | None
    """Hash of the weight files when the checkpoint is local, for provenance and caching."""
    dtype: str
    device: str
    capabilities: Capability
    paradigm: Paradigm
    parameters: dict[str, int] = field(default_factory=dict)
    """Parameter counts: ``vision``, ``connector``, ``llm``, ``total``."""
    visual_tokens_per_image: int | None = None
    """How many LLM positions one image takes (what separates a Q-Former from an MLP connector)."""
    model_class: str = ""
    processor_class: str = ""
    chat_template: str | None = None
    """The chat template the adapter applies (the prompt wording belongs to the suite)."""
    batching: str = "batched"
    """``batched`` or a sentence saying why this family runs one sample at a time."""
    weights_bytes: int | None = None
    """Memory of the loaded weights: parameter and buffer bytes, shared storage counted once."""

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {
            "name": self.name,
            "checkpoint": self.checkpoint,
            "checkpoint_hash": self.checkpoint_hash,
            "dtype": self.dtype,
            "device": self.device,
            "capabilities": [c.name.lower() for c in Capability if c in self.capabilities and c.name],
            "paradigm": self.paradigm.to_dict(),
            "parameters": dict(self.parameters),
            "visual_tokens_per_image": self.visual_tokens_per_image,
            "model_class": self.model_class,
            "processor_class": self.processor_class,
            "chat_template": self.chat_template,
            "batching": self.batching,
            "weights_bytes": self.weights_bytes,
        }


@dataclass(frozen=True)
class GenerationSettings:
    """Decoding settings shared by a whole run (greedy by default)."""

    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS
    do_sample: bool = False
    temperature: float = 1.0
    top_k: int | None = None
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {
            "max_new_tokens": self.max_new_tokens,
            "do_sample": self.do_sample,
            "temperature": self.temperature,
            "top_k": self.top_k,
            "seed": self.seed,
        }


@dataclass(frozen=True)
class Video:
    """A decoded video clip: sampled RGB frames with their presentation times."""

    frames: tuple[Image, ...]
    """The sampled frames, in time order (`mllmbench.core.video.decode_video`)."""
    timestamps: tuple[float, ...]
    """Seconds from the start of the stream of each frame (same length as `frames`)."""
    source: str
    """The file the frames came from."""
    fps: float | None = None
    """The stream's average frame rate, when the container says."""


@dataclass(frozen=True)
class Audio:
    """A decoded mono waveform (float32 samples in [-1, 1]) and its sample rate."""

    waveform: Any
    """A 1-D ``numpy.ndarray`` of float32 samples."""
    sample_rate: int
    """Samples per second."""
    source: str
    """The file (or video) the audio came from."""


@dataclass(frozen=True)
class UnderstandRequest:
    """One sample for an understanding adapter: images and the task's question text."""

    sample_id: str
    images: tuple[Image, ...]
    """Decoded RGB images (the runner opens and validates the files)."""
    text: str
    """The task's prompt wording, before any chat template."""
    choices: tuple[str, ...] = ()
    """Likelihood mode (multiple choice): when set, the adapter ranks these continuations of the
    prompt by log-likelihood and answers with the best one's letter (A, B, ...) instead of
    generating (`mllmbench.adapters.likelihood`)."""
    videos: tuple[Video, ...] = ()
    """Decoded video clips, sampled by the run's frame policy (adapters without video support
    reject a request that has any)."""
    audios: tuple[Audio, ...] = ()
    """Decoded audio tracks."""


@dataclass(frozen=True)
class GenerationProfile:
    """Where one batched generate call spent its time (METRICS.md §5), and this sample's token times.

    The ``*_seconds`` fields other than `token_seconds` belong to the whole batch and are the
    same for every sample in it.
    """

    preprocess_seconds: float
    """Chat template, processor (image resize/normalise, tokenise) and copy to the device."""
    prefill_seconds: float
    """Generate start to the batch's first token: vision encoder, connector and LLM prefill."""
    decode_seconds: float
    """The batch's first token to the end of generate."""
    vision_seconds: float | None
    """Time inside the vision encoder and connector modules (inside `prefill_seconds` for
    families that encode images in the first forward); None when not measured."""
    token_seconds: tuple[float, ...]
    """When each of this sample's output tokens was appended, in seconds since generate start."""
    clock: str = "perf_counter"
    """``perf_counter`` (host clock) or ``cuda_events`` (device stream timestamps)."""


@dataclass(frozen=True)
class Usage:
    """Token counts and time for one sample; shared with the efficiency suite."""

    input_tokens: int
    """Prompt length after image-token expansion."""
    output_tokens: int
    """Generated tokens, up to and including EOS if it was produced."""
    image_tokens: int
    """How many input positions the images became."""
    batch_seconds: float
    """Wall time of the batched generate call this sample was part of."""
    batch_size: int
    profile: GenerationProfile | None = field(default=None, kw_only=True)
    """Timing breakdown of the call, when the adapter measures one (not part of `to_dict`)."""
    video_frames: int = field(default=0, kw_only=True)
    """Video frames this sample sent (its videos' sampled frames; their positions are in
    `image_tokens`); in `to_dict` only when non-zero, so image-only records are unchanged."""

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        d: dict[str, Any] = {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "image_tokens": self.image_tokens,
            "batch_seconds": self.batch_seconds,
            "batch_size": self.batch_size,
        }
        if self.video_frames:
            d["video_frames"] = self.video_frames
        return d


@dataclass(frozen=True)
class UnderstandResponse:
    """What an adapter returns for one `UnderstandRequest`."""

    text: str
    """Generated text, decoded with special tokens skipped."""
    prompt: str
    """The exact text given to the processor, after the chat template."""
    usage: Usage


def derive_seed(run_seed: int, *parts: str) -> int:
    """A per-request seed from the run seed and names (suite, sample id), in ``[0, 2**31)``.

    blake2b, not ``hash()`` (salted per process): the same inputs give the same seed on every
    machine, so one sample's image does not depend on which other samples share its batch.
    """
    import hashlib

    key = "\0".join([str(int(run_seed)), *parts]).encode("utf-8")
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big") % 2**31


@dataclass(frozen=True)
class ImageGenerationSettings:
    """Knobs of a text-to-image run; ``None`` means the checkpoint's own default.

    The adapter resolves every ``None`` and reports the values it used in
    `GenerateResponse.settings`, which the runner records on each sample line.
    """

    seed: int = 0
    """The run seed; each `GenerateRequest` carries its own seed derived from it."""
    num_inference_steps: int | None = None
    """Denoising steps (diffusion); ignored by autoregressive generators (one step per token)."""
    guidance_scale: float | None = None
    """Classifier-free guidance scale; 1 or less turns guidance off where the family allows it."""
    temperature: float | None = None
    """Sampling temperature of autoregressive image-token generation."""
    top_k: int | None = None
    """Top-k filter of autoregressive image-token sampling (None: no filter)."""
    width: int | None = None
    height: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {
            "seed": self.seed,
            "num_inference_steps": self.num_inference_steps,
            "guidance_scale": self.guidance_scale,
            "temperature": self.temperature,
            "top_k": self.top_k,
            "width": self.width,
            "height": self.height,
        }


@dataclass(frozen=True)
class GenerateRequest:
    """One text-to-image item: the suite's prompt and the seed its images are drawn with."""

    sample_id: str
    text: str
    """The suite's prompt wording, before any chat template."""
    seed: int
    """Same seed and settings, same image, whatever else shares the batch."""


@dataclass(frozen=True)
class GenerateUsage:
    """Cost of one request's images (the efficiency figures of a generation run)."""

    batch_seconds: float
    """Wall time of the call that drew this request's images (all stages)."""
    batch_size: int
    """Requests drawn in that call."""
    steps: int
    """Denoising steps (diffusion) or decoding steps (autoregressive: one per image token)."""
    nfe: int
    """Forward passes of the generator network per image, as counted: steps x `guidance_multiplier`."""
    guidance_multiplier: int
    """2 when every step also runs the unconditional branch (classifier-free guidance), else 1."""
    sequential_calls: int
    """Forward calls of the generator network(s) that ran one after another to draw this image
    (the latency floor no parallel hardware removes): one per denoising step for diffusion and
    masked tokens (the guided and unguided halves share a call), one per image token for
    autoregressive VQ, and the stages' sum for a pipeline of two generators (an LLM's
    rewrite or token calls, then the decoder's steps). Counted, not derived from the settings."""
    input_tokens: int
    """Prompt tokens the generator (or, with an LLM conditioner, the LLM) read."""
    image_tokens: int = 0
    """Discrete image tokens generated per image (autoregressive VQ); 0 for diffusion."""
    output_tokens: int = 0
    """Text tokens generated on the way (an LLM conditioner's rewritten prompt)."""
    stage_seconds: dict[str, float] = field(default_factory=dict)
    """Batch-level time of each stage (``rewrite``, ``draw``, ``decode`` ...)."""

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {
            "batch_seconds": self.batch_seconds,
            "batch_size": self.batch_size,
            "steps": self.steps,
            "nfe": self.nfe,
            "guidance_multiplier": self.guidance_multiplier,
            "sequential_calls": self.sequential_calls,
            "input_tokens": self.input_tokens,
            "image_tokens": self.image_tokens,
            "output_tokens": self.output_tokens,
            "stage_seconds": dict(self.stage_seconds),
        }


@dataclass(frozen=True)
class GenerateResponse:
    """What an adapter returns for one `GenerateRequest`."""

    images: tuple[Image, ...]
    """RGB images, one per image asked for (one per prompt unless the suite asks for more)."""
    prompt: str
    """The exact text the (first) model was given, after any chat template."""
    settings: dict[str, Any]
    """The knobs actually used (steps, guidance_scale, temperature, top_k, width, height, seed,
    scheduler ...), every default resolved."""
    usage: GenerateUsage
    rewritten_prompt: str | None = None
    """What an LLM conditioner turned the prompt into (the text the image model drew), else None."""
