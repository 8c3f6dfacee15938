"""Loaders for the official COCO caption files: annotations and results.

- annotations: ``{"images": [{"id", "file_name", ...}], "annotations": [{"id", "image_id", "caption"}]}``
- results: ``[{"image_id", "caption"}]``, exactly one caption per evaluated image

The evaluated images are those with at least one reference caption, in the order of the
``images`` list (``COCO.getImgIds()``). Images without a caption are left out, with a warning.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from mllmbench.core.errors import InputError
from mllmbench.core.jsonio import read_json
from mllmbench.suites.formats.common import (
    Id,
    check_id_coverage,
    list_ids,
    require_id,
    require_list,
    require_object,
    require_str,
    resolve_image_path,
    type_name,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CocoCaptionImage:
    """One image with its reference captions."""

    image_id: Id
    file_name: str
    references: tuple[str, ...]
    image_path: Path | None = None
    """``image_dir / file_name`` when an image directory was given."""


@dataclass(frozen=True)
class CocoCaptionDataset:
    """The images that have references, in the order of the ``images`` list."""

    images: tuple[CocoCaptionImage, ...]
    path: Path

    @property
    def image_ids(self) -> tuple[Id, ...]:
        """All evaluated image ids, in order."""
        return tuple(im.image_id for im in self.images)

    def references(self) -> dict[Id, list[str]]:
        """image id -> reference captions, in order (the ``gts`` of pycocoevalcap)."""
        return {im.image_id: list(im.references) for im in self.images}


def load_coco_captions(
    path: str | Path, *, image_dir: str | Path | None = None, check_images: bool = False
) -> CocoCaptionDataset:
    """Read and validate a COCO captions annotation file."""
    p = Path(path)
    top = require_object(read_json(p, what="COCO captions file"), p, "a COCO captions file")
    files: dict[Id, str] = {}
    for i, raw in enumerate(require_list(top, "images", p)):
        rec = require_object(raw, p, f"images[{i}]")
        image_id = require_id(rec, "id", p, f"images[{i}]")
        if image_id in files:
            raise InputError(f"{p}: duplicate image id {image_id!r} in 'images'")
        files[image_id] = require_str(rec, "file_name", p, f"image id {image_id!r}")
    refs: dict[Id, list[str]] = {}
    ann_ids: set[Id] = set()
    for i, raw in enumerate(require_list(top, "annotations", p)):
        rec = require_object(raw, p, f"annotations[{i}]")
        if "id" in rec:
            ann_id = require_id(rec, "id", p, f"annotations[{i}]")
            if ann_id in ann_ids:
                raise InputError(f"{p}: duplicate annotation id {ann_id!r}")
            ann_ids.add(ann_id)
        image_id = require_id(rec, "image_id", p, f"annotations[{i}]")
        where = f"annotations[{i}] (image id {image_id!r})"
        caption = require_str(rec, "caption", p, where)
        if image_id not in files:
            raise InputError(f"{p}: {where} refers to an image id that is not in 'images'")
        refs.setdefault(image_id, []).append(caption)
    uncaptioned = [i for i in files if i not in refs]
    if uncaptioned:
        log.warning(
            "%s: %d image(s) have no reference caption and are not evaluated: %s",
            p,
            len(uncaptioned),
            list_ids(uncaptioned),
        )
    images = []
    for image_id, file_name in files.items():
        if image_id not in refs:
            continue
        image_path = None
        if image_dir is not None:
            image_path = resolve_image_path(
                Path(image_dir), file_name, source=p, owner=f"image id {image_id!r}", must_exist=check_images
            )
        images.append(CocoCaptionImage(image_id, file_name, tuple(refs[image_id]), image_path))
    if not images:
        raise InputError(f"{p}: no image has a reference caption")
    return CocoCaptionDataset(images=tuple(images), path=p)


def load_caption_results(path: str | Path, expected_ids: Collection[Id]) -> dict[Id, str]:
    """Read a COCO results file ``[{"image_id", "caption"}]`` covering exactly `expected_ids`.

    pycocoevalcap requires exactly one caption per image, so a repeated image id is an error.
    Empty and non-ASCII captions are valid. Extra fields (``id``, ``score``) are ignored.
    """
    p = Path(path)
    raw = read_json(p, what="caption results file")
    if not isinstance(raw, list):
        raise InputError(
            f"{p}: a caption results file must be a JSON array of {{image_id, caption}}, got {type_name(raw)}"
        )
    out: dict[Id, str] = {}
    for i, item in enumerate(raw):
        rec = require_object(item, p, f"result {i}")
        image_id = require_id(rec, "image_id", p, f"result {i}")
        caption = require_str(rec, "caption", p, f"result for image id {image_id!r}")
        if image_id in out:
            raise InputError(
                f"{p}: more than one caption for image id {image_id!r} (pycocoevalcap needs exactly one)"
            )
        out[image_id] = caption
    check_id_coverage(out.keys(), expected_ids, p, what="image")
    return out
