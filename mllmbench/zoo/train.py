"""The zoo training loop: fixed steps, deterministic data and initialisation, fp16 checkpoints.

`train_member` builds the member fresh (`Member.build` under its init seed), trains it with AdamW
on the conversations of `mllmbench.zoo.data` (new images every step, loss on answers only), and
writes fp16 safetensors plus the processor and `RECIPE_FILE` (recipe, its hash, measured wall
time, threads, final loss, loss curve) into the output directory. The member's
`Member.packaging` encodes the sequences and lays out the directory (one ``save_pretrained``
folder, or the expert pipeline's ``pipeline.json``, ``llm/`` and ``captioner/``); the checkpoints
of the members it includes (its parts: the given directories or the shipped ones) are copied into
the output directory before training starts, and the recipe records the copies' identity.
The recipe hash covers everything that decides the weights, and the parts' identity; a run whose
hash differs from the shipped member's is recorded as such (``shipped_recipe_hash``,
``matches_shipped_recipe``).
"""

from __future__ import annotations

import logging
import math
import platform
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mllmbench.core.hashing import json_sha256
from mllmbench.core.jsonio import read_json, write_json_atomic
from mllmbench.zoo import backbone, data
from mllmbench.zoo.members import BATCH_SIZE, LEARNING_RATE, Member, member
from mllmbench.zoo.packaging import RECIPE_FILE, BatchEncoder, Encoder

log = logging.getLogger(__name__)

ZOO_VERSION = "2"
"""Bumped whenever the training code changes what a recipe produces."""
WARMUP_STEPS = 30
FINAL_LR_FRACTION = 0.1
GRAD_CLIP = 1.0
WEIGHT_DECAY = 0.01
LOG_EVERY = 10


def recipe(spec: Member, steps: int | None = None, parts: Mapping[str, Path] | None = None) -> dict[str, Any]:
    """Everything that decides the trained weights of `spec` (hashed into the recipe hash), and
    the identity of the parts it packages (`parts`: role -> directory; default the shipped ones)."""
    from mllmbench.suites.shapes import GENERATOR_VERSION

    common = {
        "zoo_version": ZOO_VERSION,
        "member": spec.name,
        "adapter": spec.adapter,
        "connector": spec.connector,
        "steps": spec.steps if steps is None else steps,
        "batch_size": BATCH_SIZE,
        "optimizer": {
            "name": "AdamW",
            "lr": LEARNING_RATE,
            "weight_decay": WEIGHT_DECAY,
            "betas": [0.9, 0.98],
        },
        "schedule": {"warmup_steps": WARMUP_STEPS, "cosine_to": FINAL_LR_FRACTION},
        "grad_clip": GRAD_CLIP,
        "init_seed": spec.init_seed,
        "data": {
            "generator": "mllmbench.suites.shapes",
            "generator_version": GENERATOR_VERSION,
            "train_seed": data.TRAIN_SEED,
            "images": "step * batch + 1 .. (step + 1) * batch",
            "vqa_turns": data.VQA_TURNS,
            "caption_turns": 1,
            "tokenizer_corpus_seed": backbone.TOKENIZER_CORPUS_SEED,
        },
        "backbone": {
            "image_size": backbone.IMAGE_SIZE,
            "patch_size": backbone.PATCH_SIZE,
            "vision": [backbone.VISION_WIDTH, backbone.VISION_LAYERS],
            "llm": [backbone.LLM_WIDTH, backbone.LLM_LAYERS],
            "vocab_size": backbone.VOCAB_SIZE,
        },
        "options": spec.options,
    }
    return {**common, **spec.packaging.recipe(spec.packaging.resolve_parts(spec.name, parts))}


def recipe_hash(rec: dict[str, Any]) -> str:
    """``sha256:<hex>`` of the canonical JSON of `rec`."""
    return "sha256:" + json_sha256(rec)


@dataclass(frozen=True)
class TrainResult:
    """What one training run produced."""

    out_dir: Path
    steps: int
    wall_seconds: float
    cpu_seconds: float
    """CPU time of the training process (all threads) over the training loop."""
    first_loss: float
    final_loss: float
    recipe_hash: str


def _lr_factor(step: int, steps: int) -> float:
    if step < WARMUP_STEPS:
        return (step + 1) / WARMUP_STEPS
    progress = (step - WARMUP_STEPS) / max(1, steps - WARMUP_STEPS)
    return FINAL_LR_FRACTION + (1 - FINAL_LR_FRACTION) * 0.5 * (1 + math.cos(math.pi * progress))


def batch_for_step(
    spec: Member, encoder: Encoder | BatchEncoder, step: int
) -> dict[str, Any] | list[dict[str, Any]]:
    """The training batch of `step` (images ``step * BATCH_SIZE + 1 ..``, deterministic); an
    encoder that builds whole batches itself (``batch(step)``: the VQ tokenizer's pixels, the
    unified member's conversations plus generation rows) is asked for it."""
    if isinstance(encoder, BatchEncoder):
        return encoder.batch(step)
    tokenizer = encoder.tokenizer
    end = spec.end_token if spec.end_token is not None else tokenizer.eos_token
    first = step * BATCH_SIZE + 1
    items = [encoder.example(data.TRAIN_SEED, image_id, end) for image_id in range(first, first + BATCH_SIZE)]
    return data.collate(items, int(tokenizer.pad_token_id), spec.extend)


def batch_loss(model: Any, batch: dict[str, Any] | list[dict[str, Any]]) -> Any:
    """The model's loss on `batch`; on micro-batches (a list, each padded to its own length) the
    mean over every labelled token of all of them, as one batch would give."""
    if isinstance(batch, dict):
        return model(**batch).loss
    counts = [int((part["labels"][:, 1:] != data.IGNORE).sum()) for part in batch]
    total = sum(counts)
    return sum(model(**part).loss * (count / total) for part, count in zip(batch, counts, strict=True))


def train_member(
    name: str,
    out_dir: Path,
    *,
    steps: int | None = None,
    threads: int | None = None,
    progress: bool = True,
    shipped_dir: Path | None = None,
    parts: Mapping[str, Path] | None = None,
) -> TrainResult:
    """Train member `name` from scratch and write its checkpoint into `out_dir` (see module doc).

    `parts`: checkpoints of the members it packages, by role (``{"captioner": DIR}`` for
    ``expert``); a role left out takes the shipped member's directory as it is now.
    """
    import torch
    from tqdm import tqdm

    spec = member(name)
    sources = spec.packaging.resolve_parts(name, parts)
    staged = spec.packaging.stage(Path(out_dir), sources)
    rec = recipe(spec, steps, staged)
    n_steps = int(rec["steps"])
    if threads:
        torch.set_num_threads(threads)
    model, processor = spec.build(spec.init_seed)
    model.train()
    spec.packaging.attach(model, staged)
    encoder = spec.packaging.encoder(spec, model, processor)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=LEARNING_RATE, betas=(0.9, 0.98), weight_decay=WEIGHT_DECAY
    )
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: _lr_factor(s, n_steps))
    curve: list[list[float]] = []
    losses: list[float] = []
    start, cpu_start = time.perf_counter(), time.process_time()
    bar = tqdm(range(n_steps), desc=f"zoo {name}", unit="step", disable=not progress, file=sys.stderr)
    for step in bar:
        loss = batch_loss(model, batch_for_step(spec, encoder, step))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), GRAD_CLIP)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(float(loss.detach()))
        if step % LOG_EVERY == 0 or step == n_steps - 1:
            curve.append([step, round(losses[-1], 4)])
            bar.set_postfix(loss=f"{losses[-1]:.3f}")
            log.info("zoo %s step %d/%d loss %.4f", name, step + 1, n_steps, losses[-1])
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    tail = losses[-min(20, len(losses)) :]
    result = TrainResult(
        out_dir=Path(out_dir),
        steps=n_steps,
        wall_seconds=wall,
        cpu_seconds=cpu,
        first_loss=losses[0],
        final_loss=sum(tail) / len(tail),
        recipe_hash=recipe_hash(rec),
    )
    spec.packaging.save(result.out_dir, model, processor)
    _write_record(result, rec, sources, curve, shipped_dir, torch.get_num_threads())
    return result


def _write_record(
    result: TrainResult,
    rec: dict[str, Any],
    parts: Mapping[str, Path],
    curve: list[list[float]],
    shipped_dir: Path | None,
    threads: int,
) -> None:
    """`RECIPE_FILE` in the output directory: recipe, hash, where the parts were copied from,
    timings, losses."""
    import torch
    import transformers

    out = result.out_dir
    shipped_hash = None
    if shipped_dir is not None and (shipped_dir / RECIPE_FILE).is_file():
        shipped_hash = read_json(shipped_dir / RECIPE_FILE, what="zoo recipe").get("recipe_hash")
    write_json_atomic(
        out / RECIPE_FILE,
        {
            "member": rec["member"],
            "aliases": list(member(rec["member"]).aliases),
            "recipe": rec,
            "recipe_hash": result.recipe_hash,
            "shipped_recipe_hash": shipped_hash,
            "matches_shipped_recipe": None if shipped_hash is None else shipped_hash == result.recipe_hash,
            "parts": {role: str(path) for role, path in parts.items()},
            "steps": result.steps,
            "wall_seconds": round(result.wall_seconds, 1),
            "cpu_seconds": round(result.cpu_seconds, 1),
            "threads": threads,
            "machine": platform.processor() or platform.machine(),
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "first_loss": round(result.first_loss, 4),
            "final_loss": round(result.final_loss, 4),
            "loss_curve": curve,
        },
    )
