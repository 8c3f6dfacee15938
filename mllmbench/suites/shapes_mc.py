"""``shapes_mc``: multiple choice with circular copies on the built-in Shapes images, offline.

Written next to the Shapes set as ``shapes_mc.tsv`` in VLMEvalKit's MMBench TSV layout
(``index``, ``question``, ``hint``, ``A``-``D``, ``answer``, ``category``, ``l2-category``,
``image_path``), so the same reader and CircularEval as ``mmbench`` score it. One question per
image: the colour of a shape that occurs once ("color") or the number of shapes ("count"); every
third question has three options (column ``D`` left empty). Question ``i`` has the cyclic shifts
of its options as copies ``i + k * 1e6`` (OpenCompass ``get_circular_patterns``), answer letter
remapped. The table is rewritten when the Shapes set's fingerprint or `MC_VERSION` changes.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from mllmbench.core.jsonio import write_bytes_atomic
from mllmbench.suites import shapes, shapes_render
from mllmbench.suites.benchmarks.multiple_choice import MultipleChoiceSuite
from mllmbench.suites.formats.mc_table import CIRCULAR_STRIDE

MC_VERSION = "1"
MC_TABLE = "shapes_mc.tsv"
COLUMNS = ("index", "question", "hint", "A", "B", "C", "D", "answer", "category", "l2-category", "image_path")
LETTERS = "ABCD"


def _question(scene: shapes_render.Scene, seed: int) -> tuple[str, list[str], str, str]:
    """(question, options in base order, gold text, category) for one image."""
    rng = shapes_render.scene_rng(seed, scene.image_id, "mc")
    n_options = 3 if scene.image_id % 3 == 0 else 4
    unique = [s for s in scene.shapes if scene.count(shape=s.shape) == 1]
    if unique and rng.random() < 0.6:
        target = rng.choice(unique)
        gold = target.color
        others = [c for c in shapes_render.COLORS if c != gold]
        question, category = f"What color is the {target.shape}?", "color"
    else:
        gold = str(len(scene.shapes))
        others = [str(k) for k in range(1, 7) if str(k) != gold]
        question, category = "How many shapes are in the image?", "count"
    options = [gold, *rng.sample(others, n_options - 1)]
    rng.shuffle(options)
    return question, options, gold, category


def mc_rows(root: Path, seed: int, images: int) -> list[list[str]]:
    """Every TSV row: each base question followed by its rotations."""
    rows = []
    for image_id in range(1, images + 1):
        scene = shapes_render.sample_scene(seed, image_id)
        question, options, gold, category = _question(scene, seed)
        for k in range(len(options)):
            rotated = options[k:] + options[:k]
            cells = rotated + [""] * (4 - len(rotated))
            rows.append(
                [
                    str(image_id + k * CIRCULAR_STRIDE),
                    question,
                    "",
                    *cells,
                    LETTERS[rotated.index(gold)],
                    category,
                    "perception",
                    f"{shapes.IMAGES_DIR}/{shapes.image_file_name(image_id)}",
                ]
            )
    return rows


def ensure_mc_table(root: Path | None = None) -> Path:
    """The Shapes set (generated if needed) with an up-to-date ``shapes_mc.tsv``; returns the table."""
    root = shapes.ensure_shapes(root)
    manifest = shapes.read_manifest(root)
    assert manifest is not None
    stamp = f"# shapes_mc {MC_VERSION} {manifest.fingerprint}"
    table = root / MC_TABLE
    stamp_file = root / (MC_TABLE + ".stamp")
    if table.is_file() and stamp_file.is_file() and stamp_file.read_text() == stamp:
        return table
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter="\t", lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(mc_rows(root, manifest.seed, manifest.images))
    write_bytes_atomic(table, buf.getvalue().encode())
    write_bytes_atomic(stamp_file, stamp.encode())
    return table


class ShapesMCSuite(MultipleChoiceSuite):
    """Multiple choice with CircularEval on Shapes (MMBench TSV layout)."""

    name = "shapes_mc"
    version = "1"
    title = "Shapes multiple choice"
    description = "Multiple choice with circular copies on built-in Shapes (MMBench layout, CircularEval)"
    table_files = (MC_TABLE,)
    circular = True

    @classmethod
    def default_data_dir(cls) -> Path:
        """The Shapes set's ``shapes_mc.tsv``, generated if missing."""
        return ensure_mc_table()


class ShapesMCLikelihoodSuite(ShapesMCSuite):
    """shapes_mc with the options ranked by the model's log-likelihood (no circular copies needed,
    but kept: the ranking of the same options must not depend on their order)."""

    name = "shapes_mc_ppl"
    description = "Shapes multiple choice, options ranked by log-likelihood (CircularEval)"
    likelihood = True
    extractor = "first_letter"
    cacheable = False
