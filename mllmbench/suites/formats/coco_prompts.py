"""The COCO text-to-image prompt list: one caption per image, chosen reproducibly by seed.

The "FID-30K" protocol draws 30,000 images of COCO val2014 and one of each image's captions.
Here the draw is a pure function of the seed and the ids, not of a random generator's
algorithm: images are ranked by ``sha256(f"{seed}:{image_id}")`` and the first `n` kept; each
keeps the caption with the smallest ``sha256(f"{seed}:{image_id}:{caption}")``. The list is
the same on every machine and Python version, independent of the file's order, and a larger
`n` extends a smaller one.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

from mllmbench.suites.formats.coco_captions import CocoCaptionDataset
from mllmbench.suites.formats.common import Id

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PromptChoice:
    """One prompt of the list and the real image it describes."""

    image_id: Id
    caption: str
    file_name: str
    image_path: Path | None
    rank: int
    """Position in the list (0-based)."""


def _key(*parts: object) -> str:
    return hashlib.sha256(":".join(str(p) for p in parts).encode("utf-8")).hexdigest()


def select_prompts(dataset: CocoCaptionDataset, n: int, seed: int) -> tuple[PromptChoice, ...]:
    """The first `n` images in seed order (all of them when there are fewer), one caption each."""
    if n <= 0:
        raise ValueError("the number of prompts must be positive")
    ranked = sorted(dataset.images, key=lambda im: (_key(seed, im.image_id), str(im.image_id)))
    if len(ranked) < n:
        log.warning(
            "%s has %d captioned images, fewer than the %d prompts asked for; using all of them",
            dataset.path,
            len(ranked),
            n,
        )
    out = []
    for rank, im in enumerate(ranked[:n]):
        caption = min(im.references, key=lambda c: (_key(seed, im.image_id, c), c))
        out.append(PromptChoice(im.image_id, caption, im.file_name, im.image_path, rank))
    return tuple(out)
