"""``shapes_pope``: POPE-style existence questions on the built-in Shapes images, offline.

Objects are colour-shape pairs ("red circle"). For each image, each split has one positive
question (an object in the image) and one negative (an object not in it), chosen as POPE does:
``random`` (any absent object), ``popular`` (the absent object most frequent over the whole
set) and ``adversarial`` (the absent object that co-occurs most often with the image's objects).
Ties break by a per-image random order. Written as ``shapes_pope/data/test-00000-of-00001.parquet``
in the lmms-lab/POPE layout, so the ``pope`` reader and scoring are the ones exercised.
Regenerated when the Shapes set's fingerprint or `POPE_VERSION` changes.
"""

from __future__ import annotations

import io
from collections import Counter
from pathlib import Path

from mllmbench.core.jsonio import write_bytes_atomic
from mllmbench.suites import shapes, shapes_render
from mllmbench.suites.benchmarks.pope import PopeSuite
from mllmbench.suites.shapes_text import article

POPE_VERSION = "1"
POPE_DIR = "shapes_pope"
SPLITS = ("adversarial", "popular", "random")


def _objects(scene: shapes_render.Scene) -> set[str]:
    return {s.color_shape for s in scene.shapes}


def pope_rows(root: Path, seed: int, images: int) -> list[dict]:
    """Rows in image order, then split, positive first."""
    scenes = [shapes_render.sample_scene(seed, i) for i in range(1, images + 1)]
    every = [f"{c} {s}" for c in shapes_render.COLORS for s in shapes_render.SHAPES]
    freq = Counter(o for sc in scenes for o in _objects(sc))
    co: dict[str, Counter] = {o: Counter() for o in every}
    for sc in scenes:
        objs = _objects(sc)
        for a in objs:
            co[a].update(objs - {a})
    rows = []
    for sc in scenes:
        rng = shapes_render.scene_rng(seed, sc.image_id, "pope")
        present = sorted(_objects(sc))
        absent = [o for o in every if o not in present]
        rng.shuffle(absent)
        order = {o: k for k, o in enumerate(absent)}
        negatives = {
            "random": absent[0],
            "popular": max(absent, key=lambda o: (freq[o], -order[o])),
            "adversarial": max(absent, key=lambda o: (sum(co[p][o] for p in present), -order[o])),
        }
        image = (root / shapes.IMAGES_DIR / shapes.image_file_name(sc.image_id)).read_bytes()
        for j, split in enumerate(SPLITS):
            for k, (obj, answer) in enumerate(((rng.choice(present), "yes"), (negatives[split], "no"))):
                rows.append(
                    {
                        "question_id": sc.image_id * 10 + 2 * j + k,
                        "question": f"Is there {article(obj)} {obj} in the image?",
                        "answer": answer,
                        "image_source": shapes.image_file_name(sc.image_id),
                        "image": {"bytes": image, "path": shapes.image_file_name(sc.image_id)},
                        "category": split,
                    }
                )
    return rows


def ensure_pope_dir(root: Path | None = None) -> Path:
    """The Shapes set with an up-to-date POPE parquet beside it; returns the POPE folder."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    root = shapes.ensure_shapes(root)
    manifest = shapes.read_manifest(root)
    assert manifest is not None
    folder = root / POPE_DIR
    target = folder / "data" / "test-00000-of-00001.parquet"
    stamp = f"shapes_pope {POPE_VERSION} {manifest.fingerprint}"
    stamp_file = folder / "stamp.txt"
    if target.is_file() and stamp_file.is_file() and stamp_file.read_text() == stamp:
        return folder
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(pope_rows(root, manifest.seed, manifest.images)), buf)
    write_bytes_atomic(target, buf.getvalue())
    write_bytes_atomic(stamp_file, stamp.encode())
    return folder


class ShapesPopeSuite(PopeSuite):
    """POPE on Shapes (random, popular and adversarial negatives from Shapes co-occurrence)."""

    name = "shapes_pope"
    version = "1"
    description = "POPE-style existence questions on built-in Shapes (three negative splits)"
    expected_files = (f"{POPE_DIR}/data/test-00000-of-00001.parquet (generated)",)

    @classmethod
    def default_data_dir(cls) -> Path:
        """The generated POPE folder beside the Shapes set."""
        return ensure_pope_dir()
