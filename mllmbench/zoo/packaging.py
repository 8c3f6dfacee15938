"""How a zoo member is packaged on disk and how its training examples are encoded.

`mllmbench.zoo.train` builds, trains and saves every member the same way; a member's
`Member.packaging` decides the parts that differ between a one-model member and a pipeline:

* `Checkpoint` (every member but ``expert``): the member's adapter, bound to the in-memory model,
  encodes each image's conversation with the image (`mllmbench.zoo.data.encode`); the directory
  is the model's fp16 ``save_pretrained`` output plus its processor.
* `ExpertPipeline` (``expert``, the VideoChat-Text design): the trained model is the text LLM of
  an ``expert_pipeline`` checkpoint (`mllmbench.adapters.expert_pipeline`): ``DIR/pipeline.json``,
  ``DIR/llm/`` (the trained LLM and its tokenizer, fp16) and ``DIR/captioner/`` (a copy of a
  trained zoo captioner's checkpoint files). In training the image is replaced by a caption: the
  first user turn is the stage-2 text the adapter builds at evaluation (its own `user_message`:
  ``caption_line`` holding the caption, then the question), rendered and tokenized by the
  adapter's own text-LLM stage, so the first turn is token for token what the LLM reads at
  evaluation when the captioner writes that caption (`encode_with_caption`). The caption is one
  of the image's reference captions (`mllmbench.zoo.data.context_caption`): the distribution the
  captioner was trained to write, not the captioner's own output, so the LLM's training data
  does not depend on the captioner's weights. The recipe still covers the captioner's identity
  (its recipe hash and the hash of its files), because the pipeline ships it.

Parts: a packaging names, by role, the other members whose trained checkpoints it includes
(``captioner``: ``llava``). ``resolve_parts`` takes the directories given
(``zoo train expert --captioner DIR``) or else the shipped ones, as they are at training time;
``stage`` copies them into the output directory before training starts, and the recipe hashes the
copies, so a captioner replaced while the LLM trains cannot make the recipe and the files disagree.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, Union, runtime_checkable

from mllmbench.core.errors import ConfigError
from mllmbench.zoo import data

if TYPE_CHECKING:
    from mllmbench.adapters.expert_config import PipelineConfig
    from mllmbench.adapters.expert_pipeline import ExpertPipelineAdapter
    from mllmbench.zoo.diffusion_gpt import PromptRewriter
    from mllmbench.zoo.latent_diffusion import Autoencoder, LatentDiffusion
    from mllmbench.zoo.maskgit import MaskedTokens
    from mllmbench.zoo.members import Member
    from mllmbench.zoo.show_o import ShowOTokens
    from mllmbench.zoo.token_decoder import TokenDecoder
    from mllmbench.zoo.token_packaging import UnifiedTokens, VQTokenizer
    from mllmbench.zoo.transfusion import TransfusionPackaging
    from mllmbench.zoo.var import MultiScaleTokenizer, NextScale

LLM_DIR = "llm"
CAPTIONER_DIR = "captioner"
RECIPE_FILE = "zoo.json"
"""Each member directory's recipe record (written by `mllmbench.zoo.train`)."""
CAPTION_MAX_NEW_TOKENS = 40
"""Stage-1 caption limit: the longest of 7,500 reference captions of the training seed is 30 zoo
tokens, plus the end token."""


class Encoder(Protocol):
    """Turns one training image of the Shapes generator into one encoded training sequence."""

    @property
    def tokenizer(self) -> Any:
        """The tokenizer the sequences are written in (pad and end tokens come from it)."""

    def example(self, seed: int, image_id: int, end: str) -> data.Encoded:
        """The sequence of image `image_id` of Shapes seed `seed`; `end` follows every answer."""


@runtime_checkable
class BatchEncoder(Protocol):
    """Builds a whole training batch per step (pixels of a tokenizer, prompts and pixels of a
    text-to-image member, conversations plus generation rows of a unified one): a dict of model
    inputs, or a list of micro-batches (`mllmbench.zoo.train.batch_loss`)."""

    def batch(self, step: int) -> dict[str, Any] | list[dict[str, Any]]:
        """The inputs of training step `step` (deterministic)."""


def bind_adapter(adapter_name: str, model_id: str, model: Any, processor: Any) -> Any:
    """The registered adapter `adapter_name` wrapped around an in-memory model and processor.

    Training reuses the adapter's own `render_prompt` and `processor_inputs`, so the training
    sequences are built by exactly the code that prompts the model at evaluation time.
    """
    from mllmbench.adapters.registry import load_adapter_class

    adapter: Any = load_adapter_class(adapter_name)(model_id)
    adapter._model, adapter._processor = model, processor  # noqa: SLF001 - in-memory, no from_pretrained
    return adapter


def save_fp16(out: Path, model: Any, processor: Any) -> None:
    """fp16 ``save_pretrained`` of `model` and `processor` (or tokenizer) into `out`."""
    import torch

    out.mkdir(parents=True, exist_ok=True)
    model.eval().to(torch.float16).save_pretrained(out)
    processor.save_pretrained(out)


@dataclass(frozen=True)
class ImageEncoder:
    """`Encoder` of a one-model member: its adapter encodes the conversation with the image."""

    adapter: Any

    @property
    def tokenizer(self) -> Any:
        """The adapter's tokenizer."""
        return self.adapter.tokenizer

    def example(self, seed: int, image_id: int, end: str) -> data.Encoded:
        """`mllmbench.zoo.data.encode` of the image and its conversation."""
        image = data.scene_image(seed, image_id)
        return data.encode(self.adapter, [image], data.conversation(seed, image_id), end)


@dataclass(frozen=True)
class SelfContained:
    """Base of the packagings that include no other member's checkpoint."""

    @property
    def parts(self) -> dict[str, str]:
        """No other member's checkpoint is included."""
        return {}

    def resolve_parts(self, owner: str, given: Mapping[str, Path] | None = None) -> dict[str, Path]:
        """No parts (`ConfigError` for any given)."""
        return _resolve_parts(owner, self.parts, given)

    def stage(self, out: Path, parts: Mapping[str, Path]) -> dict[str, Path]:
        """Nothing to copy."""
        return dict(parts)

    def attach(self, model: Any, parts: Mapping[str, Path]) -> None:
        """Nothing to load into the fresh model."""


@dataclass(frozen=True)
class Checkpoint(SelfContained):
    """One model in one directory (every understanding member but ``expert``)."""

    def recipe(self, parts: Mapping[str, Path]) -> dict[str, Any]:
        """Nothing beyond the common recipe (so the one-model recipes and their hashes stay as they were)."""
        return {}

    def encoder(self, spec: Member, model: Any, processor: Any) -> Encoder:
        """An `ImageEncoder` around the member's adapter."""
        return ImageEncoder(bind_adapter(spec.adapter, f"zoo:{spec.name}", model, processor))

    def save(self, out: Path, model: Any, processor: Any) -> None:
        """`save_fp16` into `out`."""
        save_fp16(out, model, processor)


@dataclass(frozen=True)
class CaptionEncoder:
    """`Encoder` of the expert member: the conversation with a caption in the image's place."""

    pipeline: ExpertPipelineAdapter
    """The expert_pipeline adapter with its config and in-memory text-LLM stage (`bind_pipeline`)."""

    @property
    def tokenizer(self) -> Any:
        """The text LLM's tokenizer."""
        return self.pipeline.llm.tokenizer

    def example(self, seed: int, image_id: int, end: str) -> data.Encoded:
        """`encode_with_caption` of the conversation and the image's `data.context_caption`."""
        turns = data.conversation(seed, image_id)
        return encode_with_caption(self.pipeline, turns, data.context_caption(seed, image_id), end)


def encode_with_caption(
    pipeline: ExpertPipelineAdapter, turns: Sequence[data.Turn], caption: str, end: str
) -> data.Encoded:
    """Encode `turns` for the text LLM, the first user turn being the adapter's stage-2 message.

    The first turn's text is ``pipeline.user_message([caption], question)`` (what
    `ExpertPipelineAdapter.understand` sends the LLM for a one-image request) and goes through
    the LLM stage's own `render_prompt` and `processor_inputs`; later turns follow as for every
    member, without the caption again.
    """
    user_text, _ = pipeline.user_message([caption], turns[0].prompt)
    return data.encode(pipeline.llm, (), [replace(turns[0], prompt=user_text), *turns[1:]], end)


def bind_pipeline(config: PipelineConfig, model_id: str, model: Any, tokenizer: Any) -> ExpertPipelineAdapter:
    """An `ExpertPipelineAdapter` holding `config` and an in-memory text-LLM stage (no captioner).

    Enough for `ExpertPipelineAdapter.user_message` and the stage's prompt path; `understand`
    needs a loaded captioner and is not available.
    """
    from mllmbench.adapters.expert_pipeline import ExpertPipelineAdapter
    from mllmbench.adapters.two_stage import TextLLMStage

    llm = TextLLMStage(f"{model_id}/{LLM_DIR}")
    llm._model, llm._processor = model, tokenizer  # noqa: SLF001 - in-memory, no from_pretrained
    pipeline = ExpertPipelineAdapter(model_id)
    pipeline._llm, pipeline._config = llm, config  # noqa: SLF001 - no captioner needed to build prompts
    return pipeline


@dataclass(frozen=True)
class ExpertPipeline:
    """A trained zoo captioner feeding the trained LLM, as an ``expert_pipeline`` checkpoint."""

    captioner: str
    """The zoo member whose checkpoint captions the images."""
    captioner_adapter: str
    """Its registered adapter (``pipeline.json``'s ``captioner.adapter``)."""

    @property
    def parts(self) -> dict[str, str]:
        """``captioner`` -> the captioner member."""
        return {"captioner": self.captioner}

    def resolve_parts(self, owner: str, given: Mapping[str, Path] | None = None) -> dict[str, Path]:
        """The directory of each part (`Packaging.resolve_parts`)."""
        return _resolve_parts(owner, self.parts, given)

    def config(self) -> PipelineConfig:
        """``pipeline.json``: the captioner is prompted with the caption suite's `CAPTION_PROMPT`
        (what the zoo captioner was trained on); stage 2 uses the adapter's default lines."""
        from mllmbench.adapters.expert_config import PipelineConfig
        from mllmbench.suites.caption_suite import CAPTION_PROMPT

        return PipelineConfig(
            captioner_adapter=self.captioner_adapter,
            captioner_model=CAPTIONER_DIR,
            llm=LLM_DIR,
            caption_prompt=CAPTION_PROMPT,
            caption_max_new_tokens=CAPTION_MAX_NEW_TOKENS,
        )

    def stage(self, out: Path, parts: Mapping[str, Path]) -> dict[str, Path]:
        """Copy the captioner's files into ``out/captioner`` (replacing what was there); the copy."""
        copy_checkpoint(parts["captioner"], out / CAPTIONER_DIR)
        return {"captioner": out / CAPTIONER_DIR}

    def attach(self, model: Any, parts: Mapping[str, Path]) -> None:
        """Nothing to load into the fresh model."""

    def recipe(self, parts: Mapping[str, Path]) -> dict[str, Any]:
        """The pipeline file, where the training captions come from, and the captioner's identity."""
        return {
            "packaging": {
                "layout": "expert_pipeline",
                "pipeline": self.config().to_dict(),
                "training_caption": "one reference caption per image: mllmbench.zoo.data.context_caption",
                "captioner": part_identity(self.captioner, parts["captioner"]),
            }
        }

    def encoder(self, spec: Member, model: Any, processor: Any) -> Encoder:
        """A `CaptionEncoder` around the pipeline adapter's stage-2 prompt path."""
        return CaptionEncoder(bind_pipeline(self.config(), f"zoo:{spec.name}", model, processor))

    def save(self, out: Path, model: Any, processor: Any) -> None:
        """``llm/`` (`save_fp16`) and ``pipeline.json`` next to the staged ``captioner/``."""
        from mllmbench.adapters.expert_config import PIPELINE_FILE
        from mllmbench.core.jsonio import write_json_atomic

        save_fp16(out / LLM_DIR, model, processor)
        write_json_atomic(out / PIPELINE_FILE, self.config().to_dict())


Packaging = Union[
    Checkpoint,
    ExpertPipeline,
    "VQTokenizer",
    "UnifiedTokens",
    "MaskedTokens",
    "Autoencoder",
    "LatentDiffusion",
    "PromptRewriter",
    "MultiScaleTokenizer",
    "NextScale",
    "ShowOTokens",
    "TransfusionPackaging",
    "TokenDecoder",
]
"""What `Member.packaging` holds (the token packagings: `mllmbench.zoo.token_packaging`,
`mllmbench.zoo.maskgit`, `mllmbench.zoo.latent_diffusion`)."""


def part_identity(member: str, directory: Path) -> dict[str, Any]:
    """An included member's recipe hash (from its `RECIPE_FILE`, None without one) and the sha256 of
    its other files (weights, config, processor), by relative path: the captioner of ``expert``,
    the tokenizer of a token member."""
    from mllmbench.core.hashing import named_files_sha256
    from mllmbench.core.jsonio import read_json

    record_path = directory / RECIPE_FILE
    record = read_json(record_path, what="zoo recipe") if record_path.is_file() else {}
    files = sorted(
        (p.relative_to(directory).as_posix(), p)
        for p in directory.rglob("*")
        if p.is_file() and p.name != RECIPE_FILE
    )
    return {
        "member": member,
        "recipe_hash": record.get("recipe_hash"),
        "files_sha256": "sha256:" + named_files_sha256(files),
    }


def member_reference(member: str, path: Path) -> str:
    """How a pipeline file names an included member it does not copy: ``zoo:MEMBER`` when `path`
    is the shipped member's directory, else `path` made absolute."""
    from mllmbench.core.zoo_paths import zoo_checkpoints_dir

    shipped = zoo_checkpoints_dir() / member
    if shipped.exists() and path.resolve() == shipped.resolve():
        return f"zoo:{member}"
    return str(path.resolve())


def copy_checkpoint(source: Path, target: Path) -> None:
    """Replace `target` with a copy of the files of `source` (nothing to do if they are one folder)."""
    if target.exists() and target.resolve() == source.resolve():
        return
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target)


def _resolve_parts(
    owner: str, wanted: Mapping[str, str], given: Mapping[str, Path] | None
) -> dict[str, Path]:
    """Role -> checkpoint directory: the one given, else the shipped member's (`ConfigError`:
    a role the member does not take, or a directory without ``config.json``)."""
    from mllmbench.core.zoo_paths import zoo_checkpoints_dir

    given = dict(given or {})
    unknown = sorted(set(given) - set(wanted))
    if unknown:
        takes = f"; it takes {', '.join(wanted)}" if wanted else ""
        raise ConfigError(f"zoo member {owner!r} takes no {', '.join(unknown)} checkpoint{takes}")
    resolved = {}
    for role, source in wanted.items():
        path = Path(given[role]) if role in given else zoo_checkpoints_dir() / source
        if not any((path / marker).is_file() for marker in ("config.json", "model_index.json")):
            raise ConfigError(
                f"zoo member {owner!r}: {role} checkpoint {path} has no config.json or model_index.json "
                f"(train it with `mllm-bench zoo train {source}`, or pass --{role} DIR)"
            )
        resolved[role] = path
    return resolved
