"""The ``diffusion_gpt`` member: DiffusionGPT's design, the zoo LLM rewriting prompts for the ``diffusion`` member.

DiffusionGPT (Qin et al. 2024) puts an LLM in front of text-to-image models: the LLM parses the
user's prompt and writes the prompt the chosen image model draws best. The zoo version has one
image model, the trained ``diffusion`` member, so the LLM's job is the parsing half: it rewrites a
scene description into the form that member was trained on, `shapes_captions.t2i_prompt` (every
shape as ``a SIZE COLOUR SHAPE POSITION``, in the scene's reading order, then the background).

The checkpoint is an ``llm_diffusion`` directory (`mllmbench.adapters.llm_diffusion`): ``llm/``
(the trained zoo LLM, a ``LlamaForCausalLM`` with the zoo chat template, fp16) and
``llm_diffusion.json``, whose ``diffusion`` names the drawer. The drawer is not copied (a copy
would double the zoo's largest member): by default it is ``zoo:diffusion``, the shipped member;
a drawer given at training time (``zoo train diffusion_gpt --diffusion DIR``) is named by its
absolute path. The recipe records the drawer's identity (recipe hash and file hashes) either way.

Training (the LLM only; the drawer is frozen and never called): one rewrite per example, the
user message being the adapter's instruction around a description of a training scene of the
drawer's prompt range (images ``GEN_IMAGE_OFFSET + ..`` of the training seed): half of the
descriptions are already in the drawer's form (the rewrite is a copy), half list the same
shapes in a shuffled order (the rewrite puts them back in reading order). The answer is the
scene's `t2i_prompt`, loss on the answer only, rendered by the adapter's own LLM stage
(`mllmbench.zoo.data.encode`), so training sequences are token for token what the adapter sends.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mllmbench.zoo import data
from mllmbench.zoo.token_packaging import GEN_IMAGE_OFFSET

if TYPE_CHECKING:
    from mllmbench.adapters.two_stage import TextLLMStage
    from mllmbench.suites.shapes_render import Scene
    from mllmbench.zoo.members import Member

INSTRUCTION = "Rewrite this scene for the drawing model: {prompt}"
"""The user message around the suite's prompt (``llm_diffusion.json``'s ``instruction``)."""
REWRITE_MAX_NEW_TOKENS = 64
"""Longest rewrite: the longest training prompt is under 50 zoo tokens, plus the end token."""
SHUFFLED_SHARE = 0.5
"""Share of training descriptions whose shapes are listed out of reading order."""
LLM_DIR = "llm"
DRAWER = "diffusion"
"""The zoo member that draws (role ``diffusion``)."""


def description(scene: Scene, rng: random.Random) -> str:
    """A complete description of `scene`: its `t2i_prompt`, or (`SHUFFLED_SHARE`) the same
    shapes listed in a shuffled order."""
    from mllmbench.suites import shapes_captions

    if len(scene.shapes) < 2 or rng.random() >= SHUFFLED_SHARE:
        return shapes_captions.t2i_prompt(scene)
    shapes = list(scene.shapes)
    while shapes == list(scene.shapes):
        rng.shuffle(shapes)
    return shapes_captions.t2i_prompt(dataclasses.replace(scene, shapes=tuple(shapes)))


@dataclass(frozen=True)
class RewriteEncoder:
    """`Encoder` of ``diffusion_gpt``: one rewrite of a drawer-range training scene per example."""

    llm: TextLLMStage
    """The adapter's LLM stage around the in-memory model (`bind_llm`)."""

    @property
    def tokenizer(self) -> Any:
        """The zoo LLM's tokenizer."""
        return self.llm.tokenizer

    def example(self, seed: int, image_id: int, end: str) -> data.Encoded:
        """The rewrite of scene ``GEN_IMAGE_OFFSET + image_id`` of `seed` (see the module doc)."""
        from mllmbench.suites import shapes_captions, shapes_render

        scene = shapes_render.sample_scene(seed, GEN_IMAGE_OFFSET + image_id)
        rng = shapes_render.scene_rng(seed, GEN_IMAGE_OFFSET + image_id, "zoo-rewrite")
        turn = data.Turn(
            INSTRUCTION.format(prompt=description(scene, rng)), shapes_captions.t2i_prompt(scene)
        )
        return data.encode(self.llm, (), [turn], end)


def bind_llm(model_id: str, model: Any, tokenizer: Any) -> TextLLMStage:
    """The ``llm_diffusion`` adapter's LLM stage around an in-memory model and tokenizer."""
    from mllmbench.adapters.two_stage import TextLLMStage

    llm = TextLLMStage(f"{model_id}/{LLM_DIR}")
    llm._model, llm._processor = model, tokenizer  # noqa: SLF001 - in-memory, no from_pretrained
    return llm


@dataclass(frozen=True)
class PromptRewriter:
    """The ``llm_diffusion`` layout: the trained LLM in ``llm/``, the drawer named, not copied."""

    @property
    def parts(self) -> dict[str, str]:
        """``diffusion`` -> the drawing member."""
        return {"diffusion": DRAWER}

    def resolve_parts(self, owner: str, given: Mapping[str, Path] | None = None) -> dict[str, Path]:
        """The drawer's directory (given, else the shipped one)."""
        from mllmbench.zoo.packaging import _resolve_parts

        return _resolve_parts(owner, self.parts, given)

    def config(self, drawer: Path) -> dict[str, Any]:
        """``llm_diffusion.json``."""
        from mllmbench.adapters.llm_diffusion import ConditionerConfig
        from mllmbench.zoo.packaging import member_reference

        return ConditionerConfig(
            llm=LLM_DIR,
            diffusion=member_reference(DRAWER, drawer),
            instruction=INSTRUCTION,
            rewrite_max_new_tokens=REWRITE_MAX_NEW_TOKENS,
        ).to_dict()

    def stage(self, out: Path, parts: Mapping[str, Path]) -> dict[str, Path]:
        """Write ``llm_diffusion.json`` naming the drawer (nothing is copied)."""
        from mllmbench.adapters.llm_diffusion import CONFIG_FILE
        from mllmbench.core.jsonio import write_json_atomic

        out.mkdir(parents=True, exist_ok=True)
        write_json_atomic(out / CONFIG_FILE, self.config(parts["diffusion"]))
        return dict(parts)

    def attach(self, model: Any, parts: Mapping[str, Path]) -> None:
        """Nothing to load: the drawer is not part of the trained model."""

    def recipe(self, parts: Mapping[str, Path]) -> dict[str, Any]:
        """The pipeline file's instruction, the training rewrites and the drawer's identity."""
        from mllmbench.zoo.packaging import part_identity

        return {
            "packaging": {
                "layout": "llm_diffusion",
                "instruction": INSTRUCTION,
                "rewrite_max_new_tokens": REWRITE_MAX_NEW_TOKENS,
                "training_rewrite": "description of training-seed scene "
                f"{GEN_IMAGE_OFFSET} + image id ({SHUFFLED_SHARE} with its shapes shuffled) -> its t2i_prompt",
                "diffusion": part_identity(DRAWER, parts["diffusion"]),
            }
        }

    def encoder(self, spec: Member, model: Any, processor: Any) -> RewriteEncoder:
        """A `RewriteEncoder` around the adapter's LLM stage."""
        return RewriteEncoder(bind_llm(f"zoo:{spec.name}", model, processor))

    def save(self, out: Path, model: Any, processor: Any) -> None:
        """``llm/``: the fp16 LLM and its tokenizer, next to the staged ``llm_diffusion.json``."""
        from mllmbench.zoo.packaging import save_fp16

        save_fp16(out / LLM_DIR, model, processor)
