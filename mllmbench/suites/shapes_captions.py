"""Reference captions and text-to-image prompts for the synthetic Shapes dataset.

Each image gets five captions in five different styles, as different people would write
them: number words or digits, ``a``/``an``/``one`` for single shapes, plurals, sentence case or
all lower case, a final period, an exclamation mark or nothing. Every caption is true of the
image; some are complete (every shape, colour and count), others only partial ("three
colorful shapes"), as real COCO captions are.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from mllmbench.suites.shapes_render import BACKGROUND_NAME, PLURALS, POSITION_PHRASES, Scene
from mllmbench.suites.shapes_text import NUMBER_WORDS, article

Group = tuple[str, str, int]
"""(colour or "", shape, how many)."""


def _groups(scene: Scene, *, with_color: bool = True) -> list[Group]:
    """Shapes grouped by colour and shape (or by shape only), in order of first appearance."""
    counts: dict[tuple[str, str], int] = {}
    for s in scene.shapes:
        key = (s.color if with_color else "", s.shape)
        counts[key] = counts.get(key, 0) + 1
    return [(color, shape, n) for (color, shape), n in counts.items()]


def _noun_phrase(group: Group, digits: bool, single: str) -> str:
    """``two red circles``, ``2 red circles``, ``a red circle``, ``one orange star``, ``an orange star``."""
    color, shape, n = group
    noun = f"{color} {shape}".strip() if n == 1 else f"{color} {PLURALS[shape]}".strip()
    if n > 1:
        return f"{n if digits else NUMBER_WORDS[n]} {noun}"
    if digits:
        return f"1 {noun}"
    return f"{article(noun) if single == 'a' else single} {noun}"


def _join(parts: list[str], oxford: bool) -> str:
    """``a, b and c`` (or ``a, b, and c``)."""
    if len(parts) == 1:
        return parts[0]
    head = ", ".join(parts[:-1])
    return f"{head}{',' if oxford and len(parts) > 2 else ''} and {parts[-1]}"


def _listing(scene: Scene, rng: random.Random, *, digits: bool = False, with_color: bool = True) -> str:
    single = rng.choice(("a", "a", "one"))
    parts = [_noun_phrase(g, digits, single) for g in _groups(scene, with_color=with_color)]
    return _join(parts, oxford=rng.random() < 0.3)


def _number(n: int, rng: random.Random) -> str:
    return str(n) if rng.random() < 0.3 else NUMBER_WORDS[n]


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _cap_list(scene: Scene, rng: random.Random) -> str:
    return _sentence(_listing(scene, rng)) + "."


def _cap_there_are(scene: Scene, rng: random.Random) -> str:
    n = len(scene.shapes)
    if n == 1:
        return f"there is one shape: {_listing(scene, rng)}"
    return f"there are {_number(n, rng)} shapes: {_listing(scene, rng)}"


def _cap_background(scene: Scene, rng: random.Random) -> str:
    return f"A {BACKGROUND_NAME} background with {_listing(scene, rng)} on it."


def _cap_digits(scene: Scene, rng: random.Random) -> str:
    end = rng.choice(("", "."))
    return f"{_listing(scene, rng, digits=True)} on a plain {BACKGROUND_NAME} background{end}"


def _located(s_size: str, s_color: str, s_shape: str, s_position: str) -> str:
    phrase = f"{s_size} {s_color} {s_shape}"
    return f"{article(phrase)} {phrase} {POSITION_PHRASES[s_position]}"


def _cap_positions(scene: Scene, rng: random.Random) -> str:
    located = [_located(s.size, s.color, s.shape, s.position) for s in scene.shapes]
    if len(located) <= 3:
        return _sentence(_join(located, oxford=False)) + "."
    pick = rng.choice(located)
    return f"{_sentence(_number(len(located), rng))} shapes, one of them {pick}."


def _cap_generic(scene: Scene, rng: random.Random) -> str:
    adjective = rng.choice(("colorful", "colored", "coloured", "bright"))
    n = len(scene.shapes)
    start = rng.choice(("An image showing", "A picture of"))
    if n == 1:
        return f"{start} a single {adjective} shape."
    return f"{start} {_number(n, rng)} {adjective} shapes."


def _cap_drawing(scene: Scene, rng: random.Random) -> str:
    return f"simple drawing of {_listing(scene, rng)}!"


def _cap_shapes_only(scene: Scene, rng: random.Random) -> str:
    n = len(scene.shapes)
    listing = _listing(scene, rng, with_color=False)
    if n == 1:
        return f"One geometric shape: {listing}."
    return f"{_sentence(_number(n, rng))} geometric shapes: {listing}."


def _cap_colors(scene: Scene, rng: random.Random) -> str:
    colors = list(dict.fromkeys(s.color for s in scene.shapes))
    noun = "shape" if len(scene.shapes) == 1 else "shapes"
    return f"{_sentence(_join(colors, oxford=False))} {noun} on a {BACKGROUND_NAME} background"


CAPTION_STYLES: dict[str, Callable[[Scene, random.Random], str]] = {
    "list": _cap_list,
    "there_are": _cap_there_are,
    "background": _cap_background,
    "digits": _cap_digits,
    "positions": _cap_positions,
    "generic": _cap_generic,
    "drawing": _cap_drawing,
    "shapes_only": _cap_shapes_only,
    "colors": _cap_colors,
}


def make_captions(scene: Scene, rng: random.Random, n: int = 5) -> list[str]:
    """`n` captions of `scene` in distinct styles; some are lower-cased or lose their final period."""
    captions = []
    for name in rng.sample(sorted(CAPTION_STYLES), n):
        text = CAPTION_STYLES[name](scene, rng)
        if rng.random() < 0.15:
            text = text.lower()
        if text.endswith(".") and rng.random() < 0.1:
            text = text[:-1]
        captions.append(text)
    return captions


def t2i_prompt(scene: Scene) -> str:
    """A complete, unambiguous description of `scene` for text-to-image generation."""
    located = [_located(s.size, s.color, s.shape, s.position) for s in scene.shapes]
    return _sentence(_join(located, oxford=False)) + f", on a {BACKGROUND_NAME} background."
