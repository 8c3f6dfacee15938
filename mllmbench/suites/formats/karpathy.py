"""Loader for Karpathy's caption split files (caption_datasets.zip: ``dataset_coco.json``,
``dataset_flickr30k.json``).

``{"dataset": "coco", "images": [{"filepath": "val2014", "filename":
"COCO_val2014_000000391895.jpg", "imgid": 0, "split": "test", "cocoid": 391895, "sentids",
"sentences": [{"raw", "tokens", "imgid", "sentid"}]}]}``. Flickr30k has no ``filepath`` and no
``cocoid``. The references are the ``raw`` sentences (the PTB tokenizer runs at scoring time,
as in lmms-eval's ``coco_karpathy``). The image id is ``cocoid`` when present, else the file
name's stem (the Flickr id).
"""

from __future__ import annotations

from pathlib import Path

from mllmbench.core.errors import InputError
from mllmbench.core.jsonio import read_json
from mllmbench.suites.formats.coco_captions import CocoCaptionDataset, CocoCaptionImage
from mllmbench.suites.formats.common import (
    Id,
    require_id,
    require_list,
    require_object,
    require_str,
    resolve_image_path,
)


def load_karpathy(
    path: str | Path, *, split: str = "test", image_root: str | Path | None = None
) -> CocoCaptionDataset:
    """The images of `split` with their raw reference sentences, in file order.

    With `image_root`, each image path is ``image_root / filepath / filename`` (refused if it
    escapes the root).
    """
    p = Path(path)
    top = require_object(read_json(p, what="Karpathy split file"), p, "a Karpathy split file")
    images = []
    seen: set[Id] = set()
    splits: set[str] = set()
    for i, raw in enumerate(require_list(top, "images", p)):
        rec = require_object(raw, p, f"images[{i}]")
        rec_split = require_str(rec, "split", p, f"images[{i}]")
        splits.add(rec_split)
        if rec_split != split:
            continue
        filename = require_str(rec, "filename", p, f"images[{i}]")
        image_id: Id = (
            require_id(rec, "cocoid", p, f"images[{i}]") if "cocoid" in rec else Path(filename).stem
        )
        where = f"image id {image_id!r}"
        if image_id in seen:
            raise InputError(f"{p}: duplicate {where} in split {split!r}")
        seen.add(image_id)
        filepath = require_str(rec, "filepath", p, where, optional=True)
        file_name = f"{filepath}/{filename}" if filepath else filename
        refs = tuple(
            require_str(require_object(s, p, f"{where}, sentence {k}"), "raw", p, f"{where}, sentence {k}")
            for k, s in enumerate(require_list(rec, "sentences", p, where))
        )
        if not refs:
            raise InputError(f"{p}: {where} has no sentences")
        image_path = None
        if image_root is not None:
            image_path = resolve_image_path(Path(image_root), file_name, source=p, owner=where)
        images.append(CocoCaptionImage(image_id, file_name, refs, image_path))
    if not images:
        present = ", ".join(sorted(splits)) or "none"
        raise InputError(f"{p}: no image in split {split!r} (splits present: {present})")
    return CocoCaptionDataset(images=tuple(images), path=p)
