"""GenEval-style metadata of the Shapes text-to-image prompts.

Each prompt of ``t2i/prompts.json`` is the complete description of its reference image, so it
entails many checks; its metadata names one GenEval task (``tag``) and the clauses a judge checks
for it (``include``, ``exclude``), in GenEval's own format
(`mllmbench.suites.metrics.geneval_rules`): object classes are the shape names, colours the
palette names (all six are among GenEval's ten), positions ``[relation, clause index]``.

* ``single_object``: one shape of the scene is present;
* ``two_object``: two different shapes of the scene are present;
* ``counting``: a shape the scene holds N >= 2 of, exactly N times (``exclude`` N + 1);
* ``colors``: a shape that is the only one of its kind, in its colour;
* ``position``: two shapes, each the only one of its kind, in a relation that holds on their
  drawn boxes even with twice GenEval's dead zone (so it is robust to small box errors);
* ``color_attr``: two shapes, each the only one of its kind, each in its own colour.

Tags are balanced: image k takes, among the tags its scene supports, the one given least often to
images 1..k-1 (ties in `TAGS` order), so a prefix of a set has the same metadata as a smaller set.
Which shapes a clause names is drawn from ``scene_rng(seed, image_id, "geneval")``.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

from mllmbench.suites.metrics.geneval_rules import POSITION_THRESHOLD, RELATIONS, TAGS, relative_position
from mllmbench.suites.shapes_render import Scene, Shape, scene_rng, shape_outline

Clauses = dict[str, Any]


def shape_box(s: Shape) -> tuple[float, float, float, float]:
    """The drawn box of `s` (x1, y1, x2, y2, inclusive pixels)."""
    outline = shape_outline(s)
    if outline is None:
        return (s.cx - s.radius, s.cy - s.radius, s.cx + s.radius, s.cy + s.radius)
    xs, ys = [p[0] for p in outline], [p[1] for p in outline]
    return (min(xs), min(ys), max(xs), max(ys))


def _unique(scene: Scene) -> list[Shape]:
    return [s for s in scene.shapes if scene.count(shape=s.shape) == 1]


def _single(scene: Scene, rng: random.Random) -> Clauses | None:
    s = rng.choice(scene.shapes)
    return {"include": [{"class": s.shape, "count": 1}]}


def _two(scene: Scene, rng: random.Random) -> Clauses | None:
    kinds = sorted({s.shape for s in scene.shapes})
    if len(kinds) < 2:
        return None
    a, b = rng.sample(kinds, 2)
    return {"include": [{"class": a, "count": 1}, {"class": b, "count": 1}]}


def _counting(scene: Scene, rng: random.Random) -> Clauses | None:
    kinds = sorted({s.shape for s in scene.shapes if scene.count(shape=s.shape) >= 2})
    if not kinds:
        return None
    kind = rng.choice(kinds)
    n = scene.count(shape=kind)
    return {"include": [{"class": kind, "count": n}], "exclude": [{"class": kind, "count": n + 1}]}


def _colors(scene: Scene, rng: random.Random) -> Clauses | None:
    unique = _unique(scene)
    if not unique:
        return None
    s = rng.choice(unique)
    return {"include": [{"class": s.shape, "count": 1, "color": s.color}]}


def robust_relations(a: Shape, b: Shape) -> list[str]:
    """Relations of `a` to `b` that hold with GenEval's dead zone and with twice it, in `RELATIONS` order."""
    box_a, box_b = shape_box(a), shape_box(b)
    strict = relative_position(box_a, box_b, 2 * POSITION_THRESHOLD)
    return [r for r in RELATIONS if r in strict and r in relative_position(box_a, box_b)]


def _position(scene: Scene, rng: random.Random) -> Clauses | None:
    unique = _unique(scene)
    pairs = [(a, b, r) for a in unique for b in unique if a is not b for r in robust_relations(a, b)]
    if not pairs:
        return None
    a, b, rel = rng.choice(pairs)
    return {"include": [{"class": b.shape, "count": 1}, {"class": a.shape, "count": 1, "position": [rel, 0]}]}


def _color_attr(scene: Scene, rng: random.Random) -> Clauses | None:
    unique = _unique(scene)
    if len(unique) < 2:
        return None
    a, b = rng.sample(unique, 2)
    return {
        "include": [
            {"class": a.shape, "count": 1, "color": a.color},
            {"class": b.shape, "count": 1, "color": b.color},
        ]
    }


MAKERS: dict[str, Callable[[Scene, random.Random], Clauses | None]] = {
    "single_object": _single,
    "two_object": _two,
    "counting": _counting,
    "colors": _colors,
    "position": _position,
    "color_attr": _color_attr,
}
assert tuple(MAKERS) == TAGS


def scene_metadata(scene: Scene, seed: int, tag: str) -> Clauses | None:
    """``{"tag", "include"[, "exclude"]}`` of `tag` for `scene`, or None when the scene cannot carry it."""
    clauses = MAKERS[tag](scene, scene_rng(seed, scene.image_id, f"geneval:{tag}"))
    return None if clauses is None else {"tag": tag, **clauses}


def prompt_metadata(scenes: Sequence[Scene], seed: int) -> list[Clauses]:
    """One metadata object per scene, tags balanced over the set (see the module docstring)."""
    given = dict.fromkeys(TAGS, 0)
    out = []
    for scene in scenes:
        options = {tag: scene_metadata(scene, seed, tag) for tag in TAGS}
        supported = [tag for tag in TAGS if options[tag] is not None]
        tag = min(supported, key=lambda t: given[t])
        given[tag] += 1
        chosen = options[tag]
        assert chosen is not None
        out.append(chosen)
    return out
