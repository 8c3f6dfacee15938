"""Loader for the NoCaps validation file (nocaps.org/download: ``nocaps_val_4500_captions.json``).

It is a COCO captions file whose ``images`` entries also carry ``open_images_id`` and
``domain`` (``in-domain``, ``near-domain`` or ``out-domain``); there are 10 reference captions
per image. Image files (``file_name``, e.g. ``0013ea2087020901.jpg``) come from the Open Images
validation set.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mllmbench.core.errors import InputError
from mllmbench.core.jsonio import read_json
from mllmbench.suites.formats.coco_captions import CocoCaptionDataset, load_coco_captions
from mllmbench.suites.formats.common import Id, require_id, require_list, require_object, require_str

DOMAINS = ("in-domain", "near-domain", "out-domain")


@dataclass(frozen=True)
class NoCapsDataset:
    """The captioned images and the domain of each."""

    captions: CocoCaptionDataset
    domains: dict[Id, str]


def load_nocaps(path: str | Path, *, image_dir: str | Path | None = None) -> NoCapsDataset:
    """Read a NoCaps captions file; every image must name one of the three domains."""
    p = Path(path)
    captions = load_coco_captions(p, image_dir=image_dir)
    top = require_object(read_json(p, what="NoCaps captions file"), p, "a NoCaps captions file")
    domains: dict[Id, str] = {}
    for i, raw in enumerate(require_list(top, "images", p)):
        rec = require_object(raw, p, f"images[{i}]")
        image_id = require_id(rec, "id", p, f"images[{i}]")
        domain = require_str(rec, "domain", p, f"image id {image_id!r}")
        if domain not in DOMAINS:
            raise InputError(
                f"{p}: image id {image_id!r}: unknown domain {domain!r} (expected one of {', '.join(DOMAINS)})"
            )
        domains[image_id] = domain
    return NoCapsDataset(captions=captions, domains=domains)
