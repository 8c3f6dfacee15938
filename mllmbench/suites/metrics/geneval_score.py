"""GenEval on a folder in GenEval's layout, as evaluate_images.py + summary_scores.py score it.

Layout (generation/diffusers_generate.py): ``DIR/<index, 5 digits>/metadata.jsonl`` (the prompt's
metadata as one JSON object) and ``DIR/<index>/samples/<n, 5 digits>.png``. `layout_items` pairs
every prompt of a local evaluation_metadata.jsonl with its images (any all-digit folder whose
number is the prompt's line index; images named ``<digits>.png``, as evaluate_images.py reads
them); a prompt without a folder or images is a failure, named. `score_layout` judges every image
with the detector (kept above 0.3, 0.9 for counting) and the CLIP colour classifier by
`geneval_rules`, and returns the per-image results in evaluate_images.py's JSON-lines form.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mllmbench.core.errors import InputError
from mllmbench.suites.metrics import geneval_rules
from mllmbench.suites.metrics.shapes_eval import Item, Scored

log = logging.getLogger(__name__)

SAMPLE_NAME = re.compile(r"\d+\.png")


def read_metadata_file(path: str | Path) -> list[Any]:
    """The JSON objects of evaluation_metadata.jsonl, one per line (blank lines skipped)."""
    p = Path(path)
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read GenEval metadata {p}: {exc}") from None
    out = []
    for k, line in enumerate(lines, 1):
        if line.strip():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise InputError(f"{p}:{k}: not JSON: {exc}") from None
    if not out:
        raise InputError(f"{p}: no prompts")
    return out


def folder_name(index: int) -> str:
    """``00042``: diffusers_generate.py's folder of prompt 42."""
    return f"{index:0>5}"


def write_layout(root: str | Path, index: int, metadata: Any, images: Sequence[str | Path]) -> list[Path]:
    """Copy `images` to ``root/<index>/samples/<n>.png`` with ``metadata.jsonl``; returns the copies."""
    import shutil

    from mllmbench.core.jsonio import write_text_atomic

    folder = Path(root) / folder_name(index)
    (folder / "samples").mkdir(parents=True, exist_ok=True)
    write_text_atomic(folder / "metadata.jsonl", json.dumps(metadata))
    out = []
    for n, src in enumerate(images):
        dst = folder / "samples" / f"{n:05}.png"
        shutil.copyfile(src, dst)
        out.append(dst)
    return out


def layout_items(images_dir: str | Path, prompts: Sequence[Any]) -> tuple[list[Item], dict[str, str]]:
    """(items, failures): every image of every prompt's folder, and the prompts that have none."""
    root = Path(images_dir)
    folders: dict[int, Path] = {}
    for sub in sorted(root.iterdir()) if root.is_dir() else []:
        if sub.is_dir() and sub.name.isdigit():
            folders.setdefault(int(sub.name), sub)
    items: list[Item] = []
    failed: dict[str, str] = {}
    for index, meta in enumerate(prompts):
        name = f"prompt {index} ({folder_name(index)})"
        folder = folders.get(index)
        samples = folder / "samples" if folder is not None else None
        files = (
            sorted(f for f in samples.iterdir() if SAMPLE_NAME.fullmatch(f.name))
            if samples and samples.is_dir()
            else []
        )
        if not files:
            failed[name] = f"no images: expected {root / folder_name(index) / 'samples'}/<n>.png"
            continue
        items += [Item(f"{folder.name}/samples/{f.name}", str(f), meta) for f in files]  # type: ignore[union-attr]
    return items, failed


def score_layout(items: Sequence[Item], detector: Any, colors: Any) -> tuple[Scored, list[dict[str, Any]]]:
    """Judge every item (bad metadata or unreadable images fail, named); results as evaluate_images.py writes."""
    from mllmbench.core.images import open_rgb

    scored = Scored()
    rows = []
    for item in items:
        try:
            geneval_rules.check_metadata(item.metadata, item.item_id)
            image = open_rgb(item.path)
        except InputError as exc:
            log.error("geneval: %s", exc)
            scored.failed[item.item_id] = str(exc)
            continue
        kept = geneval_rules.select_detections(
            detector.detect(image), geneval_rules.confidence_threshold(item.metadata)
        )

        def classify(classname: str, dets: Sequence[geneval_rules.Detection], im: Any = image) -> list[str]:
            return list(colors(im, classname, dets))

        correct, reason = geneval_rules.evaluate(kept, item.metadata, classify)
        scored.decisions[item.item_id] = {"tag": item.metadata["tag"], "correct": correct, "reason": reason}
        rows.append(
            {
                "filename": item.path,
                "tag": item.metadata["tag"],
                "prompt": item.metadata.get("prompt", ""),
                "correct": correct,
                "reason": reason,
                "metadata": json.dumps(item.metadata),
                "details": json.dumps({k: [[*d.box, d.score] for d in v] for k, v in kept.items()}),
            }
        )
    return scored, rows
