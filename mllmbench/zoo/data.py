"""Training data of the zoo: Shapes conversations, encoded exactly as each member's adapter prompts.

One training example is one Shapes image with all its turns packed into one multi-turn sequence:
`VQA_TURNS` questions (distinct templates of `mllmbench.suites.shapes_text`) and one caption
request (one of the five reference captions as the target), in a shuffled order. Each turn uses
the evaluation prompts of the built-in suites (`VQA_PROMPT`, `CAPTION_PROMPT`), rendered by the
member's own adapter (`render_prompt`), and the first turn goes through the adapter's own
`processor_inputs` with the image, so the first turn of a training sequence is token for token
what the adapter sends at evaluation time. Later turns are appended without the image. The loss
is on the answers (and the end-of-turn token after each) only. A member that reads a caption
instead of the pixels (``expert``) gets `context_caption` inside its first turn instead of the
image (`mllmbench.zoo.packaging`).

Images come from the Shapes generator with `TRAIN_SEED`; step ``s`` uses images
``s * batch + 1 .. (s + 1) * batch`` of that seed, so every step sees new images and the data
depends only on (seed, step, batch). The built-in evaluation set uses seed 0
(`mllmbench.suites.shapes.DEFAULT_SEED`); the zoo's held-out benchmark set uses `HELDOUT_SEED`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from mllmbench.suites import shapes_captions, shapes_render, shapes_text
from mllmbench.suites.caption_suite import CAPTION_PROMPT
from mllmbench.suites.vqa_suite import VQA_PROMPT

TRAIN_SEED = 1000
"""Shapes seed of the training images (disjoint from the evaluation seeds 0 and `HELDOUT_SEED`)."""
HELDOUT_SEED = 4242
"""Shapes seed of the zoo's held-out benchmark set (never trained on, never tuned on)."""
VQA_TURNS = 4
IGNORE = -100


@dataclass(frozen=True)
class Turn:
    """One user request and the answer the model is trained to give."""

    prompt: str
    answer: str


def conversation(seed: int, image_id: int) -> list[Turn]:
    """The turns of training image `image_id`: `VQA_TURNS` questions and one caption, shuffled."""
    scene = shapes_render.sample_scene(seed, image_id)
    rng = shapes_render.scene_rng(seed, image_id, "zoo-train")
    turns = [
        Turn(VQA_PROMPT.format(question=qa.question), qa.answer)
        for qa in shapes_text.make_questions(scene, rng, VQA_TURNS)
    ]
    caption = rng.choice(shapes_captions.make_captions(scene, rng, 5))
    turns.append(Turn(CAPTION_PROMPT, caption))
    rng.shuffle(turns)
    return turns


def context_caption(seed: int, image_id: int) -> str:
    """One reference caption of image `image_id`, for a member that reads a caption instead of pixels.

    Drawn as `conversation` draws its caption target (five captions of distinct styles from
    `mllmbench.suites.shapes_captions.make_captions`, one of them chosen), from its own random
    stream: the same distribution of captions the zoo captioner is trained to write.
    """
    scene = shapes_render.sample_scene(seed, image_id)
    rng = shapes_render.scene_rng(seed, image_id, "zoo-context-caption")
    return rng.choice(shapes_captions.make_captions(scene, rng, 5))


def scene_image(seed: int, image_id: int) -> Any:
    """The rendered Shapes image (PIL, 128x128) of `(seed, image_id)`."""
    return shapes_render.render_scene(shapes_render.sample_scene(seed, image_id))


@dataclass
class Encoded:
    """One encoded training sequence: ids, answer-only labels, and the image inputs."""

    input_ids: list[int]
    labels: list[int]
    image_inputs: dict[str, Any]
    """Processor outputs besides ids and mask (``pixel_values`` ...), batch dimension 1."""
    first_len: int
    """Length of the first turn's prompt as the processor tokenized it."""


def answer_text(prompt: str, answer: str, end: str) -> str:
    """The answer as generated after `prompt`: a leading space after ``:``, then `end`."""
    lead = "" if prompt[-1:].isspace() else " "
    return f"{lead}{answer}{end}"


def encode(adapter: Any, images: Sequence[Any], turns: Sequence[Turn], end: str) -> Encoded:
    """Encode `turns` about `images` with `adapter`'s prompts and processor (see the module doc).

    `adapter` is the member's adapter with its processor set; `images` go with the first turn
    (one Shapes image; none for a text-only stage); `end` is the end-of-turn token text appended
    to every answer (the token the member's ``generate`` stops at).
    """
    tokenizer = adapter.tokenizer
    first_prompt = adapter.render_prompt(turns[0].prompt, len(images))
    first = adapter.processor_inputs([first_prompt], [list(images)])
    ids = [int(t) for t in first["input_ids"][0].tolist()]
    labels = [IGNORE] * len(ids)
    first_len = len(ids)
    for index, turn in enumerate(turns):
        prompt = first_prompt
        if index:
            prompt = adapter.render_prompt(turn.prompt, 0)
            prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
            ids += prompt_ids
            labels += [IGNORE] * len(prompt_ids)
        answer_ids = tokenizer(answer_text(prompt, turn.answer, end), add_special_tokens=False)["input_ids"]
        ids += answer_ids
        labels += answer_ids
    extras = {k: v for k, v in first.items() if k not in ("input_ids", "attention_mask")}
    return Encoded(ids, labels, extras, first_len)


ExtendHook = Callable[[str, Any, int, int], Any]
"""(input name, tensor of the first turn, first-turn length, full length) -> tensor for the batch."""


def collate(items: Sequence[Encoded], pad_id: int, extend: ExtendHook | None = None) -> dict[str, Any]:
    """Right-padded batch tensors (``input_ids``, ``attention_mask``, ``labels`` and image inputs).

    Image inputs with a sequence dimension (Mllama's ``cross_attention_mask``) are grown to the
    batch length by `extend`; all others are concatenated along the batch dimension.
    """
    import torch

    length = max(len(item.input_ids) for item in items)
    ids = torch.full((len(items), length), pad_id, dtype=torch.long)
    labels = torch.full((len(items), length), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(items), length), dtype=torch.long)
    for row, item in enumerate(items):
        n = len(item.input_ids)
        ids[row, :n] = torch.tensor(item.input_ids)
        labels[row, :n] = torch.tensor(item.labels)
        mask[row, :n] = 1
    batch: dict[str, Any] = {"input_ids": ids, "attention_mask": mask, "labels": labels}
    for key in items[0].image_inputs:
        parts = [item.image_inputs[key] for item in items]
        if extend is not None:
            parts = [
                extend(key, part, item.first_len, length) for part, item in zip(parts, items, strict=True)
            ]
        batch[key] = torch.cat([torch.as_tensor(p) for p in parts], dim=0)
    return batch
