"""Seeded construction and saving of tiny checkpoints (what every recipe ends with)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Run the block under ``torch.manual_seed(seed)``, leaving the caller's CPU RNG untouched."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def save(out_dir: Path | str, model: Any, *processors: Any) -> Path:
    """``save_pretrained`` of `model` and each processor/tokenizer into `out_dir` (created)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    for processor in processors:
        processor.save_pretrained(out_dir)
    return out_dir


def write_json(path: Path, data: dict[str, Any]) -> None:
    """`data` as indented JSON with a final newline (the two-stage adapters' tie files)."""
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
