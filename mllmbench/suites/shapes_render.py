"""Scenes of the synthetic Shapes dataset: what is in each image, and how it is drawn.

A scene is one square image split into a 3 x 3 grid; each occupied cell holds exactly one
filled shape that stays inside its cell, so shapes never touch or overlap. Shapes are drawn
without anti-aliasing on a white background: every pixel is either the background or exactly
one palette colour, which makes the images easy to check by counting pixels.

Every scene is a pure function of ``(seed, image_id)`` (see `scene_rng`), so image 7 of a
200-image set is the same as image 7 of a 10-image set with the same seed.
"""

from __future__ import annotations

import hashlib
import io
import math
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image

IMAGE_SIZE = 128
"""Width and height of every image, in pixels."""
GRID = 3
BACKGROUND: tuple[int, int, int] = (255, 255, 255)
BACKGROUND_NAME = "white"

COLORS: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30),
    "orange": (245, 130, 20),
    "yellow": (245, 215, 30),
    "green": (40, 170, 60),
    "blue": (40, 90, 220),
    "purple": (150, 60, 190),
}
"""Colour name -> RGB. Hues are far apart (0, 29, 52, 129, 223, 281 degrees)."""

SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "diamond", "star")
PLURALS: dict[str, str] = {s: s + "s" for s in SHAPES}

SIZE_RADII: dict[str, tuple[int, int]] = {"small": (9, 11), "large": (15, 18)}
"""Size name -> inclusive range of the radius (centre to the farthest drawn pixel)."""

POSITIONS: tuple[tuple[str, ...], ...] = (
    ("top left", "top", "top right"),
    ("left", "center", "right"),
    ("bottom left", "bottom", "bottom right"),
)
"""Grid cell (row, column) -> position name."""

POSITION_PHRASES: dict[str, str] = {
    "top left": "in the top left corner",
    "top": "at the top",
    "top right": "in the top right corner",
    "left": "on the left",
    "center": "in the center",
    "right": "on the right",
    "bottom left": "in the bottom left corner",
    "bottom": "at the bottom",
    "bottom right": "in the bottom right corner",
}

SHAPE_COUNT_WEIGHTS: dict[int, int] = {1: 3, 2: 3, 3: 3, 4: 2, 5: 1}
"""How many shapes an image holds -> relative frequency."""

_CELL_MARGIN = 2
"""Pixels kept free between a shape and its cell border."""


@dataclass(frozen=True)
class Shape:
    """One filled shape of a scene."""

    shape: str
    """One of `SHAPES`."""
    color: str
    """One of `COLORS`."""
    size: str
    """``small`` or ``large`` (see `SIZE_RADII`)."""
    row: int
    col: int
    cx: int
    """Centre, in pixels."""
    cy: int
    radius: int

    @property
    def position(self) -> str:
        """The position name of the shape's grid cell (``top left``, ``center``, ...)."""
        return POSITIONS[self.row][self.col]

    @property
    def color_shape(self) -> str:
        """``red circle``."""
        return f"{self.color} {self.shape}"

    def to_dict(self) -> dict[str, object]:
        """Plain JSON form (as written to ``scenes.json``)."""
        return {
            "shape": self.shape,
            "color": self.color,
            "rgb": list(COLORS[self.color]),
            "size": self.size,
            "position": self.position,
            "row": self.row,
            "col": self.col,
            "center": [self.cx, self.cy],
            "radius": self.radius,
        }


@dataclass(frozen=True)
class Scene:
    """Everything drawn in one image; shapes are in reading order of their cells."""

    image_id: int
    shapes: tuple[Shape, ...]

    def count(self, *, color: str | None = None, shape: str | None = None) -> int:
        """How many shapes match the given colour and/or shape."""
        return sum(1 for s in self.shapes if color in (None, s.color) and shape in (None, s.shape))

    def unique(self, *, color: str | None = None, shape: str | None = None) -> Shape | None:
        """The only shape matching colour and/or shape, or None when there are zero or several."""
        found = [s for s in self.shapes if color in (None, s.color) and shape in (None, s.shape)]
        return found[0] if len(found) == 1 else None


def scene_rng(seed: int, image_id: int, purpose: str) -> random.Random:
    """A random generator that depends only on (seed, image id, purpose), stable across processes.

    Separate purposes (``scene``, ``vqa``, ``captions``) keep, for example, the images unchanged
    when only the question wording changes.
    """
    digest = hashlib.blake2b(f"shapes|{seed}|{image_id}|{purpose}".encode(), digest_size=8).digest()
    return random.Random(int.from_bytes(digest, "big"))


def _cell_bounds(index: int) -> tuple[int, int]:
    """Pixel range [start, end) of grid row or column `index`."""
    return index * IMAGE_SIZE // GRID, (index + 1) * IMAGE_SIZE // GRID


def sample_scene(seed: int, image_id: int) -> Scene:
    """Draw the scene of image `image_id`: 1-5 shapes in distinct cells, each fully inside its cell."""
    rng = scene_rng(seed, image_id, "scene")
    counts = list(SHAPE_COUNT_WEIGHTS)
    n = rng.choices(counts, weights=[SHAPE_COUNT_WEIGHTS[c] for c in counts])[0]
    cells = sorted(rng.sample(range(GRID * GRID), n))
    shapes = []
    for cell in cells:
        row, col = divmod(cell, GRID)
        size = rng.choice(("small", "large"))
        radius = rng.randint(*SIZE_RADII[size])
        (x0, x1), (y0, y1) = _cell_bounds(col), _cell_bounds(row)
        lo = radius + _CELL_MARGIN
        cx = rng.randint(x0 + lo, x1 - 1 - lo)
        cy = rng.randint(y0 + lo, y1 - 1 - lo)
        shapes.append(
            Shape(
                shape=rng.choice(SHAPES),
                color=rng.choice(tuple(COLORS)),
                size=size,
                row=row,
                col=col,
                cx=cx,
                cy=cy,
                radius=radius,
            )
        )
    return Scene(image_id=image_id, shapes=tuple(shapes))


def _polygon(cx: int, cy: int, radii: list[float], start_deg: float) -> list[tuple[int, int]]:
    """Vertices at equal angles from `start_deg`, alternating through `radii`."""
    step = 360.0 / len(radii)
    points = []
    for i, r in enumerate(radii):
        a = math.radians(start_deg + i * step)
        points.append((round(cx + r * math.cos(a)), round(cy + r * math.sin(a))))
    return points


def shape_outline(s: Shape) -> list[tuple[int, int]] | None:
    """Polygon vertices of `s`, or None for a circle (drawn as an ellipse)."""
    r = s.radius
    if s.shape == "circle":
        return None
    if s.shape == "square":
        h = round(0.8 * r)
        return [(s.cx - h, s.cy - h), (s.cx + h, s.cy - h), (s.cx + h, s.cy + h), (s.cx - h, s.cy + h)]
    if s.shape == "triangle":  # equilateral, pointing up
        return _polygon(s.cx, s.cy, [r, r, r], -90.0)
    if s.shape == "diamond":  # taller than wide, so it is not a turned square
        w = round(0.7 * r)
        return [(s.cx, s.cy - r), (s.cx + w, s.cy), (s.cx, s.cy + r), (s.cx - w, s.cy)]
    if s.shape == "star":  # five points
        return _polygon(s.cx, s.cy, [r, 0.5 * r] * 5, -90.0)
    raise ValueError(f"unknown shape {s.shape!r}")


def render_scene(scene: Scene) -> Image.Image:
    """Draw `scene` as an RGB image without anti-aliasing."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (IMAGE_SIZE, IMAGE_SIZE), BACKGROUND)
    draw = ImageDraw.Draw(image)
    for s in scene.shapes:
        fill = COLORS[s.color]
        outline = shape_outline(s)
        if outline is None:
            draw.ellipse((s.cx - s.radius, s.cy - s.radius, s.cx + s.radius, s.cy + s.radius), fill=fill)
        else:
            draw.polygon(outline, fill=fill)
    return image


def encode_png(image: Image.Image) -> bytes:
    """PNG bytes with fixed settings and no metadata chunks, so equal images give equal bytes."""
    buf = io.BytesIO()
    image.save(buf, format="PNG", optimize=False, compress_level=9)
    return buf.getvalue()
