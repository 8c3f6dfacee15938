"""The judge's training recipe: deterministic, fixed steps, one CPU thread.

Every step draws ``batch_size`` fresh Shapes scenes from the project's own generator with the
training seed `TRAIN_SEED` (image ids ``step * batch_size + 1 ...``), so no image repeats and no
evaluation set is seen (evaluation sets use other seeds; `HELDOUT_SEED` is kept for the
held-out report). A share `noise_rate` of the images are replaced by uniform noise or a blank
canvas with every cell empty, so the judge learns to find nothing there. Loss per cell: cross
entropy of the shape (``empty`` included), and on occupied cells cross entropy of the colour and
an L1 loss on the box. Adam with a cosine learning-rate decay; weights saved in fp16 with
``save_pretrained`` and the recipe (with measured losses and held-out accuracy) as ``recipe.json``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

TRAIN_SEED = 7_000_001
"""Shapes seed of the training images (never an evaluation seed)."""
HELDOUT_SEED = 7_000_002
"""Shapes seed of the held-out set the recipe and docs/shapes-eval.md report on."""
RECIPE_FILE = "recipe.json"


@dataclass(frozen=True)
class Recipe:
    """Everything that determines the trained weights."""

    steps: int = 2500
    batch_size: int = 32
    learning_rate: float = 3e-3
    box_weight: float = 10.0
    noise_rate: float = 0.06
    torch_seed: int = 0
    train_seed: int = TRAIN_SEED
    heldout_seed: int = HELDOUT_SEED
    heldout_images: int = 300
    input_size: int = 96
    channels: tuple[int, ...] = (16, 32, 64, 64)


def cell_targets(
    scene: Any, shapes: list[str], colors: list[str], size: int
) -> tuple[list[int], list[int], list[list[float]]]:
    """Per cell (row-major): shape label (0 empty), colour label, box (cx, cy, half w, half h) / size."""
    from mllmbench.suites.shapes_geneval import shape_box
    from mllmbench.suites.shapes_render import GRID

    labels, col_labels = [0] * GRID * GRID, [0] * GRID * GRID
    boxes = [[0.0, 0.0, 0.0, 0.0] for _ in range(GRID * GRID)]
    for s in scene.shapes:
        cell = s.row * GRID + s.col
        x1, y1, x2, y2 = shape_box(s)
        labels[cell] = 1 + shapes.index(s.shape)
        col_labels[cell] = colors.index(s.color)
        boxes[cell] = [(x1 + x2) / 2 / size, (y1 + y2) / 2 / size, (x2 - x1) / 2 / size, (y2 - y1) / 2 / size]
    return labels, col_labels, boxes


def batch(recipe: Recipe, seed: int, first_id: int, n: int, *, noise: bool) -> tuple[Any, ...]:
    """(pixel values, shape labels, colour labels, boxes) of Shapes images first_id .. first_id + n - 1."""
    import numpy as np
    import torch
    from PIL import Image

    from mllmbench.suites.metrics.shapes_judge.model import ShapesJudgeConfig, preprocess
    from mllmbench.suites.shapes_render import IMAGE_SIZE, Scene, render_scene, sample_scene, scene_rng

    config = ShapesJudgeConfig()
    images, labels, col_labels, boxes = [], [], [], []
    for image_id in range(first_id, first_id + n):
        scene = sample_scene(seed, image_id)
        rng = scene_rng(seed, image_id, "judge-train")
        if noise and rng.random() < recipe.noise_rate:
            scene = Scene(image_id=image_id, shapes=())
            pixels = np.random.default_rng(rng.getrandbits(32)).integers(0, 256, (IMAGE_SIZE, IMAGE_SIZE, 3))
            image = Image.fromarray(pixels.astype(np.uint8)) if rng.random() < 0.7 else render_scene(scene)
        else:
            image = render_scene(scene)
        images.append(image)
        lab, col, box = cell_targets(scene, config.shapes, config.colors, IMAGE_SIZE)
        labels.append(lab)
        col_labels.append(col)
        boxes.append(box)
    return (
        preprocess(images, recipe.input_size),
        torch.tensor(labels),
        torch.tensor(col_labels),
        torch.tensor(boxes, dtype=torch.float32),
    )


def loss_terms(model: Any, recipe: Recipe, data: tuple[Any, ...]) -> tuple[Any, dict[str, float]]:
    """Total loss and its parts for one batch."""
    import torch.nn.functional as F

    pixels, labels, col_labels, boxes = data
    out = model(pixels)
    occupied = labels > 0
    shape_loss = F.cross_entropy(out.shape_logits.flatten(0, 1), labels.flatten())
    color_loss = (
        F.cross_entropy(out.color_logits[occupied], col_labels[occupied])
        if occupied.any()
        else 0 * shape_loss
    )
    box_loss = (out.boxes[occupied] - boxes[occupied]).abs().mean() if occupied.any() else 0 * shape_loss
    total = shape_loss + color_loss + recipe.box_weight * box_loss
    parts = {
        "shape": float(shape_loss.detach()),
        "color": float(color_loss.detach()),
        "box": float(box_loss.detach()),
    }
    return total, parts


def heldout_accuracy(model: Any, recipe: Recipe) -> dict[str, float]:
    """Cell accuracy of shape and colour and box error (pixels of 128) on `HELDOUT_SEED` images."""
    import torch

    pixels, labels, col_labels, boxes = batch(
        recipe, recipe.heldout_seed, 1, recipe.heldout_images, noise=False
    )
    with torch.no_grad():
        out = model(pixels.to(model.dtype))
    occupied = labels > 0
    shape_ok = (out.shape_logits.argmax(-1) == labels).float().mean()
    color_ok = (out.color_logits.argmax(-1)[occupied] == col_labels[occupied]).float().mean()
    box_err = (out.boxes.float()[occupied] - boxes[occupied]).abs().mean() * 128
    return {
        "cell_shape_accuracy": float(shape_ok),
        "color_accuracy": float(color_ok),
        "box_error_px": float(box_err),
    }


def train_judge(out_dir: str | Path, recipe: Recipe | None = None) -> dict[str, Any]:
    """Train with `recipe` on one thread and save the fp16 checkpoint and recipe.json to `out_dir`."""
    import torch

    from mllmbench.suites.metrics.shapes_judge.model import ShapesJudgeConfig, ShapesJudgeModel

    recipe = recipe or Recipe()
    torch.set_num_threads(1)
    torch.manual_seed(recipe.torch_seed)
    torch.use_deterministic_algorithms(True)
    model = ShapesJudgeModel(ShapesJudgeConfig(input_size=recipe.input_size, channels=recipe.channels))
    optimizer = torch.optim.Adam(model.parameters(), lr=recipe.learning_rate)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, recipe.steps) / recipe.steps))
    )
    start = time.perf_counter()
    parts: dict[str, float] = {}
    for step in range(recipe.steps):
        data = batch(recipe, recipe.train_seed, step * recipe.batch_size + 1, recipe.batch_size, noise=True)
        loss, parts = loss_terms(model, recipe, data)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        if step % 100 == 0 or step == recipe.steps - 1:
            log.info(
                "step %d/%d loss %.4f %s (%.0fs)",
                step + 1,
                recipe.steps,
                float(loss.detach()),
                parts,
                time.perf_counter() - start,
            )
    seconds = time.perf_counter() - start
    model.eval()
    model = model.half()
    heldout = heldout_accuracy(model.float(), recipe)
    model = model.half()
    out = Path(out_dir)
    model.save_pretrained(out)
    report = {
        "recipe": dataclasses.asdict(recipe),
        "final_loss": parts,
        "heldout": heldout,
        "train_seconds": round(seconds, 1),
        "threads": 1,
        "torch": torch.__version__,
        "dtype": "float16",
    }
    (out / RECIPE_FILE).write_text(json.dumps(report, indent=2) + "\n")
    log.info("saved the judge to %s: %s", out, heldout)
    return report
