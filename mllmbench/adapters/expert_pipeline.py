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

Video (VideoChat-Text): every sampled frame of a request's video is captioned like an image (in
the same stage-1 call) and becomes a ``frame_line`` (``Frame {index} at {time:.1f} s: {caption}``).
With an ``asr`` checkpoint in ``pipeline.json`` (a Whisper model, `mllmbench.adapters.asr`), the
video's audio track (or the request's first `Audio`) is transcribed in one batched call and
given as ``transcript_line``; a video without an audio track runs vision-only and says so in
the prompt (``no_audio_line``) and in ``usage.speech`` (``no audio track``), as does a pipeline
without a recogniser (``no_asr_line``, ``no speech recogniser``). The recogniser's stage is
``usage.asr`` (its wall time, transcript tokens), recorded under ``stages`` beside ``caption``
and ``answer``; ``usage.video_frames`` counts the captioned frames.

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
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from mllmbench.adapters.asr import WhisperStage
from mllmbench.adapters.base import Adapter
from mllmbench.adapters.expert_config import PIPELINE_FILE, PipelineConfig
from mllmbench.adapters.expert_usage import (
    PipelineResponse,
    PipelineUsage,
    StageUsage,
    pipeline_profile,
    stage_timing,
)
from mllmbench.adapters.hf import resolve_checkpoint
from mllmbench.adapters.two_stage import TextLLMStage, combined_hash, resolve_part
from mllmbench.core.errors import ConfigError
from mllmbench.core.types import (
    AdapterInfo,
    Audio,
    Capability,
    Connector,
    GenerationSettings,
    Paradigm,
    UnderstandRequest,
    UnderstandResponse,
)


class ExpertPipelineAdapter(Adapter):
    """Captioner adapter (any registered one) -> caption text -> text-only causal LM.

    ``visual_tokens_per_image`` is the number of LLM positions the caption of a blank probe image
    takes (captions vary: per-sample counts are ``usage.image_tokens``). Both stages are batched:
    all images of a batch in one captioner call, all prompts in one left-padded LLM call; if the
    captioner itself runs one sample at a time, `batching` says so.
    """

    name: ClassVar[str] = "expert_pipeline"
    description: ClassVar[str] = "Expert pipeline: a captioning adapter, then a text-only LLM"
    capabilities: ClassVar[Capability] = Capability.UNDERSTAND | Capability.VIDEO | Capability.AUDIO
    connector: ClassVar[Connector] = Connector.EXPERT
    probe_image_size: ClassVar[tuple[int, int]] = (336, 336)

    def __init__(
        self, model: str, *, device: str = "cpu", dtype: str = "float32", trust_remote_code: bool = False
    ) -> None:
        super().__init__(model, device=device, dtype=dtype, trust_remote_code=trust_remote_code)
        self._captioner: Any = None
        self._llm: TextLLMStage | None = None
        self._asr: WhisperStage | None = None
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
        asr = None
        if config.asr is not None:
            asr = WhisperStage(
                resolve_part(local_dir, PIPELINE_FILE, config.asr, "asr"),
                device=self.device,
                dtype=self.dtype,
                max_new_tokens=config.asr_max_new_tokens,
            )
        try:
            captioner.load()
            llm.load()
            if asr is not None:
                asr.load()
            self._captioner, self._llm, self._asr, self._config = captioner, llm, asr, config
            self._info = self._build_info(local_dir)
        except BaseException:
            for part in (captioner, llm, asr):
                if part is not None:
                    part.close()
            self._captioner = self._llm = self._asr = self._config = None
            raise

    def _build_info(self, local_dir: Path) -> AdapterInfo:
        cap, llm = self.captioner.info, self.llm.info
        parameters = {k: v for k, v in cap.parameters.items() if k != "total"}
        parameters["expert_llm"] = llm.parameters["total"]
        parameters["total"] = cap.parameters["total"] + llm.parameters["total"]
        asr_hash: tuple[str | None, ...] = ()
        if self._asr is not None:
            parameters["asr"] = self._asr.parameters
            parameters["total"] += self._asr.parameters
            asr_hash = (self._asr.checkpoint_hash,)
        batching = "batched"
        if cap.batching != "batched":
            batching = f"stage 2 is batched; the {cap.name} captioner is not: {cap.batching}"
        return AdapterInfo(
            name=self.name,
            checkpoint=self.model_id,
            checkpoint_hash=combined_hash(
                local_dir / PIPELINE_FILE, cap.checkpoint_hash, llm.checkpoint_hash, *asr_hash
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
            model_class=f"{cap.model_class} -> {llm.model_class}"
            + (" + WhisperForConditionalGeneration" if self._asr is not None else ""),
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
        for part in (self._captioner, self._llm, self._asr):
            if part is not None:
                part.close()
        self._captioner = self._llm = self._asr = self._config = None
        super().close()

    # --- understanding ---------------------------------------------------------------------
    def understand(
        self, batch: Sequence[UnderstandRequest], settings: GenerationSettings
    ) -> list[UnderstandResponse]:
        """Caption every image and video frame of `batch` in one call, transcribe the videos' audio
        in one call, then answer every sample in one call."""
        if not batch:
            return []
        config = self.config
        visuals = [self._visuals(request) for request in batch]
        caption_requests = [
            UnderstandRequest(f"{request.sample_id}#{name}", (image,), config.caption_prompt)
            for request, items in zip(batch, visuals, strict=True)
            for name, image, _ in items
        ]
        caption_settings = dataclasses.replace(settings, max_new_tokens=config.caption_max_new_tokens)
        caption_start = time.perf_counter()
        captions = self.captioner.understand(caption_requests, caption_settings) if caption_requests else []

        speech = [self._speech_input(request) for request in batch]
        audios = [audio for audio, _ in speech if audio is not None]
        transcripts, asr_seconds = self._asr.transcribe(audios) if self._asr is not None else ([], 0.0)
        by_request = iter(transcripts)

        per_sample: list[list[UnderstandResponse]] = []
        llm_requests, spans, spoken = [], [], []
        remaining = list(captions)
        for request, items, (audio, status) in zip(batch, visuals, speech, strict=True):
            mine, remaining = remaining[: len(items)], remaining[len(items) :]
            per_sample.append(mine)
            transcript = next(by_request) if audio is not None and self._asr is not None else None
            spoken.append((transcript, status))
            user_text, caption_spans = self.user_message(
                [c.text for c in mine],
                request.text,
                frame_times=[t for _, _, t in items if t is not None],
                speech_line=self._speech_line(status, transcript.text if transcript else None),
            )
            llm_requests.append(UnderstandRequest(request.sample_id, (), user_text))
            spans.append((user_text, caption_spans))
        answer_start = time.perf_counter()
        answers = self.llm.understand(llm_requests, settings)

        caption_call = stage_timing(StageUsage.of([c.usage for c in captions[:1]], len(caption_requests)))
        responses: list[UnderstandResponse] = []
        for request, mine, answer, (user_text, caption_spans), (transcript, status) in zip(
            batch, per_sample, answers, spans, spoken, strict=True
        ):
            n_caption = sum(self.llm.caption_token_counts(answer.prompt, user_text, caption_spans))
            stage1 = StageUsage.of([c.usage for c in mine], len(caption_requests), **caption_call)
            stage2 = StageUsage.of([answer.usage], len(batch), image_tokens=n_caption)
            asr = None
            if transcript is not None:
                asr = StageUsage(0, transcript.output_tokens, 0, asr_seconds, len(audios))
            usage = PipelineUsage(
                input_tokens=stage2.input_tokens,
                output_tokens=stage2.output_tokens,
                image_tokens=n_caption,
                batch_seconds=stage1.batch_seconds + stage2.batch_seconds + (asr_seconds if audios else 0.0),
                batch_size=len(batch),
                profile=pipeline_profile(stage1, answer.usage.profile, answer_start - caption_start),
                video_frames=sum(len(v.frames) for v in request.videos),
                caption=stage1,
                answer=stage2,
                asr=asr,
                speech=status,
            )
            responses.append(
                PipelineResponse(
                    text=answer.text,
                    prompt=answer.prompt,
                    usage=usage,
                    captions=tuple(c.text for c in mine),
                    caption_prompts=tuple(c.prompt for c in mine),
                    transcript=transcript.text if transcript is not None else None,
                )
            )
        return responses

    @staticmethod
    def _visuals(request: UnderstandRequest) -> list[tuple[str, Any, float | None]]:
        """What stage 1 captions for one request: (name, image, frame time or None) per image, then
        per sampled frame of each video."""
        items: list[tuple[str, Any, float | None]] = [
            (f"image{k}", image, None) for k, image in enumerate(request.images)
        ]
        for v, video in enumerate(request.videos):
            items.extend(
                (f"video{v}frame{k}", frame, t)
                for k, (frame, t) in enumerate(zip(video.frames, video.timestamps, strict=True))
            )
        return items

    def _speech_input(self, request: UnderstandRequest) -> tuple[Audio | None, str]:
        """The audio to transcribe for a request and the speech status (empty without video or audio)."""
        from mllmbench.core.video import decode_audio, has_audio

        if not request.videos and not request.audios:
            return None, ""
        if self._asr is None:
            return None, "no speech recogniser"
        if request.audios:
            return request.audios[0], "transcribed"
        source = request.videos[0].source
        if not has_audio(source):
            return None, "no audio track"
        return decode_audio(source), "transcribed"

    def _speech_line(self, status: str, transcript: str | None) -> str | None:
        config = self.config
        if status == "transcribed":
            return config.transcript_line.format(transcript=transcript or "")
        if status == "no audio track":
            return config.no_audio_line
        if status == "no speech recogniser":
            return config.no_asr_line
        return None

    def user_message(
        self,
        captions: Sequence[str],
        question: str,
        *,
        frame_times: Sequence[float] = (),
        speech_line: str | None = None,
    ) -> tuple[str, list[tuple[int, int]]]:
        """The stage-2 user message and each caption's (start, end) offsets inside it.

        ``user_template`` filled with the caption lines (images, then one ``frame_line`` per
        video frame, the last ``len(frame_times)`` captions), the speech line and the question; a
        request without images, frames or speech gets the question alone.
        """
        config = self.config
        if not captions and speech_line is None:
            return question, []
        marker = "\0caption\0"
        n_images = len(captions) - len(frame_times)
        lines = [config.caption_line.format(index=i + 1, caption=marker) for i in range(n_images)]
        lines += [
            config.frame_line.format(index=i + 1, time=t, caption=marker) for i, t in enumerate(frame_times)
        ]
        if speech_line is not None:
            lines.append(speech_line.replace("\0", ""))
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
        """Write the tiny random checkpoint of `mllmbench.adapters.tiny.expert_pipeline` to `out_dir`."""
        from mllmbench.adapters.tiny import expert_pipeline

        return expert_pipeline.build(out_dir, seed=seed)


def _sum_or_none(*values: int | None) -> int | None:
    return None if any(v is None for v in values) else sum(v for v in values if v is not None)
