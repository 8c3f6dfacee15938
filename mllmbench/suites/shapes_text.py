"""Words for the synthetic Shapes dataset: VQA questions with ten human-like answers, captions, prompts.

The ten answers imitate real VQAv2 annotators. The agreeing annotators write the true answer
in different surface forms that the official normalisation maps back to it (``Yes.``,
``two``, ``a circle``, ``top-left``, ``RED``). A minority of up to three annotators dissents
(``orange`` for red, ``3`` for 2, ``circles``, ``upper left``). About one question in seven is
unanimous and written exactly as the canonical answer. The canonical answer is the
``multiple_choice_answer`` and always holds at least 7 of the 10 votes after normalisation.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from mllmbench.suites.shapes_render import COLORS, PLURALS, POSITION_PHRASES, SHAPES, Scene, Shape

VQA_QUESTION_TYPES: tuple[str, ...] = (
    "how many", "is the", "what", "what color is the", "what is the", "is this", "is this a",
    "what is", "are the", "what kind of", "is there a", "what type of", "is it", "what are the",
    "where is the", "is there", "does the", "what color are the", "are these", "are there",
    "which", "is", "what is the man", "is the man", "are", "how", "does this", "what is on the",
    "what does the", "how many people are", "what is in the", "what is this", "do", "what are",
    "are they", "what time", "what sport is", "are there any", "is he", "what color is", "why",
    "where are the", "what color", "who is", "what animal is", "is the woman", "is this an",
    "do you", "how many people are in", "what room is", "has", "is this person",
    "what is the woman", "can you", "why is the", "is the person", "what is the color of the",
    "what is the person", "could", "was", "is that a", "what number is", "what is the name",
    "what brand", "none of the above",
)  # fmt: skip
"""The 65 official VQAv2 question types (GT-Vision-Lab/VQA QuestionTypes/mscoco_question_types.txt)."""

NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")

UNANIMOUS_RATE = 0.15
DISSENT_WEIGHTS = {0: 35, 1: 30, 2: 20, 3: 15}
"""Number of dissenting annotators among 10 (when not unanimous) -> relative frequency."""
CANONICAL_RATE = 0.55
"""Chance that an agreeing annotator writes exactly the canonical form."""

_NEAR_COLORS = {
    "red": ("orange", "pink", "dark red"),
    "orange": ("red", "yellow", "light orange"),
    "yellow": ("orange", "gold", "light yellow"),
    "green": ("dark green", "teal", "blue"),
    "blue": ("purple", "navy", "light blue"),
    "purple": ("blue", "violet", "pink"),
}
_NEAR_SHAPES = {
    "circle": ("oval", "round", "ball"),
    "square": ("rectangle", "box", "diamond"),
    "triangle": ("pyramid", "arrow", "diamond"),
    "diamond": ("square", "rhombus", "kite"),
    "star": ("starfish", "flower", "asterisk"),
}


@dataclass(frozen=True)
class HumanAnswer:
    """One annotator's answer, as in VQAv2 (``answer_confidence`` is yes, maybe or no)."""

    answer: str
    confidence: str


@dataclass(frozen=True)
class QuestionAnswers:
    """One VQA question with its canonical answer and ten human answers."""

    question: str
    answer: str
    """The canonical answer (``multiple_choice_answer``)."""
    answer_type: str
    """``yes/no``, ``number`` or ``other``."""
    family: str
    """Kind of value asked for: yesno, number, color, shape, position, object."""
    template: str
    """Which question template produced it (for breakdowns and tests)."""
    human: tuple[HumanAnswer, ...]

    @property
    def question_type(self) -> str:
        """The official VQAv2 question type (longest matching prefix)."""
        return question_type(self.question)


def question_type(question: str) -> str:
    """Longest official VQAv2 question-type prefix of `question`, matched word by word."""
    words = question.lower().rstrip("?").split()
    best = "none of the above"
    for qt in VQA_QUESTION_TYPES:
        qt_words = qt.split()
        if words[: len(qt_words)] == qt_words and (best == "none of the above" or len(qt) > len(best)):
            best = qt
    return best


def article(phrase: str) -> str:
    """``a`` or ``an`` for `phrase`."""
    return "an" if phrase[:1] in "aeiou" else "a"


def _agreeing_forms(family: str, canonical: str) -> list[str]:
    """Surface forms that the official VQA normalisation maps to `canonical`."""
    c = canonical
    if family == "yesno":
        forms = [c.capitalize(), c + ".", c.capitalize() + ".", c.upper(), c + "!"]
    elif family == "number":
        word = NUMBER_WORDS[int(c)]
        forms = [word, word.capitalize(), c + "."] + (["none", "None"] if c == "0" else [])
    elif family == "color":
        forms = [c.capitalize(), c + ".", c.upper()]
    elif family in ("shape", "object"):
        a = article(c)
        forms = [f"{a} {c}", f"{a.capitalize()} {c}", f"the {c}", c.capitalize(), c + "."]
    elif family == "position":
        forms = [c.capitalize(), f"the {c}", c + "."] + ([c.replace(" ", "-")] if " " in c else [])
    else:
        raise ValueError(f"unknown answer family {family!r}")
    return [c, *forms]


def _dissenting_forms(family: str, canonical: str) -> list[str]:
    """Plausible wrong or differently worded answers that do not normalise to `canonical`."""
    c = canonical
    if family == "yesno":
        other = "no" if c == "yes" else "yes"
        return [other, other, other.capitalize(), "maybe"]
    if family == "number":
        n = int(c)
        forms = [str(n + 1), NUMBER_WORDS[n + 1]] + ([str(n - 1)] if n > 0 else [])
        return forms + (["many"] if n > 2 else [])
    if family == "color":
        return list(_NEAR_COLORS[c])
    if family == "shape":
        return [*_NEAR_SHAPES[c], PLURALS[c]]
    if family == "position":
        if c == "center":
            return ["middle", "centre", "in the middle"]
        forms = [c + " corner", c.split()[1]] if " " in c else [c + " side", "middle " + c]
        if "top" in c or "bottom" in c:
            forms.append(c.replace("top", "upper").replace("bottom", "lower"))
        return forms
    if family == "object":
        color, shape = c.split(" ", 1)
        near_color = _NEAR_COLORS[color][0]
        near_shape = _NEAR_SHAPES[shape][0]
        return [f"{near_color} {shape}", shape, f"{color} {near_shape}", f"{color} {PLURALS[shape]}"]
    raise ValueError(f"unknown answer family {family!r}")


def human_answers(family: str, canonical: str, rng: random.Random) -> tuple[HumanAnswer, ...]:
    """Ten annotator answers for a question whose true answer is `canonical` (see module doc)."""
    if rng.random() < UNANIMOUS_RATE:
        return tuple(HumanAnswer(canonical, "yes") for _ in range(10))
    n_dissent = rng.choices(list(DISSENT_WEIGHTS), weights=list(DISSENT_WEIGHTS.values()))[0]
    agreeing = _agreeing_forms(family, canonical)
    dissenting = _dissenting_forms(family, canonical)
    answers = []
    for _ in range(10 - n_dissent):
        text = canonical if rng.random() < CANONICAL_RATE else rng.choice(agreeing[1:])
        answers.append(HumanAnswer(text, "yes" if rng.random() < 0.85 else "maybe"))
    for _ in range(n_dissent):
        answers.append(HumanAnswer(rng.choice(dissenting), rng.choice(("maybe", "maybe", "yes", "no"))))
    rng.shuffle(answers)
    return tuple(answers)


# -- questions -------------------------------------------------------------------------------


def _q_count_all(scene: Scene, rng: random.Random) -> tuple[str, str, str] | None:
    wording = rng.choice(("How many shapes are there?", "How many shapes are in the picture?"))
    return wording, str(len(scene.shapes)), "number"


def _q_count_color(scene: Scene, rng: random.Random) -> tuple[str, str, str] | None:
    present = sorted({s.color for s in scene.shapes})
    color = rng.choice(present) if rng.random() < 0.85 else rng.choice(sorted(COLORS))
    return f"How many {color} shapes are there?", str(scene.count(color=color)), "number"


def _q_count_shape(scene: Scene, rng: random.Random) -> tuple[str, str, str] | None:
    present = sorted({s.shape for s in scene.shapes})
    shape = rng.choice(present) if rng.random() < 0.8 else rng.choice(SHAPES)
    return f"How many {PLURALS[shape]} are there?", str(scene.count(shape=shape)), "number"


def _q_is_there(scene: Scene, rng: random.Random) -> tuple[str, str, str] | None:
    if rng.random() < 0.5:
        s = rng.choice(scene.shapes)
        color, shape = s.color, s.shape
    else:  # a near miss: a colour or a shape that is in the image, combined wrongly
        absent = [(c, sh) for c in COLORS for sh in SHAPES if scene.count(color=c, shape=sh) == 0]
        near = [(c, sh) for c, sh in absent if scene.count(color=c) or scene.count(shape=sh)]
        color, shape = rng.choice(near or absent)
    answer = "yes" if scene.count(color=color, shape=shape) else "no"
    return f"Is there {article(color)} {color} {shape}?", answer, "yesno"


def _q_any_color(scene: Scene, rng: random.Random) -> tuple[str, str, str] | None:
    color = rng.choice(sorted(COLORS))
    answer = "yes" if scene.count(color=color) else "no"
    return f"Are there any {color} shapes?", answer, "yesno"


def _q_color_of(scene: Scene, rng: random.Random) -> tuple[str, str, str] | None:
    unique = [s for s in scene.shapes if scene.count(shape=s.shape) == 1]
    if not unique:
        return None
    s = rng.choice(unique)
    return f"What color is the {s.shape}?", s.color, "color"


def _q_shape_of(scene: Scene, rng: random.Random) -> tuple[str, str, str] | None:
    unique = [s for s in scene.shapes if scene.count(color=s.color) == 1]
    if not unique:
        return None
    s = rng.choice(unique)
    return f"What shape is the {s.color} object?", s.shape, "shape"


def _unique_color_shapes(scene: Scene) -> list[Shape]:
    return [s for s in scene.shapes if scene.count(color=s.color, shape=s.shape) == 1]


def _q_where(scene: Scene, rng: random.Random) -> tuple[str, str, str] | None:
    unique = _unique_color_shapes(scene)
    if not unique:
        return None
    s = rng.choice(unique)
    return f"Where is the {s.color_shape}?", s.position, "position"


_SIDES = {
    "on the left": ("col", 0),
    "on the right": ("col", 2),
    "at the top": ("row", 0),
    "at the bottom": ("row", 2),
}


def _q_is_side(scene: Scene, rng: random.Random) -> tuple[str, str, str] | None:
    unique = _unique_color_shapes(scene)
    if not unique:
        return None
    s = rng.choice(unique)
    side = rng.choice(sorted(_SIDES))
    axis, index = _SIDES[side]
    answer = "yes" if getattr(s, axis) == index else "no"
    return f"Is the {s.color_shape} {side}?", answer, "yesno"


def _q_is_large(scene: Scene, rng: random.Random) -> tuple[str, str, str] | None:
    unique = _unique_color_shapes(scene)
    if not unique:
        return None
    s = rng.choice(unique)
    asked = rng.choice(("large", "small"))
    return f"Is the {s.color_shape} {asked}?", "yes" if s.size == asked else "no", "yesno"


def _q_what_in(scene: Scene, rng: random.Random) -> tuple[str, str, str] | None:
    corners = [s for s in scene.shapes if s.row != 1 and s.col != 1 or s.position == "center"]
    if not corners:
        return None
    s = rng.choice(corners)
    where = POSITION_PHRASES[s.position].split(" ", 1)[1]  # "the top left corner", "the center"
    return f"What is in {where}?", s.color_shape, "object"


QUESTION_TEMPLATES = {
    "count_all": _q_count_all,
    "count_color": _q_count_color,
    "count_shape": _q_count_shape,
    "is_there": _q_is_there,
    "any_color": _q_any_color,
    "color_of": _q_color_of,
    "shape_of": _q_shape_of,
    "where": _q_where,
    "is_side": _q_is_side,
    "is_large": _q_is_large,
    "what_in": _q_what_in,
}
_ANSWER_TYPES = {"yesno": "yes/no", "number": "number"}


def make_questions(scene: Scene, rng: random.Random, n: int) -> list[QuestionAnswers]:
    """`n` questions about `scene` from distinct templates, each with ten human answers."""
    candidates = []
    for name, template in QUESTION_TEMPLATES.items():
        made = template(scene, rng)
        if made is not None:
            candidates.append((name, *made))
    chosen = rng.sample(candidates, min(n, len(candidates)))
    out = []
    for name, question, answer, family in chosen:
        out.append(
            QuestionAnswers(
                question=question,
                answer=answer,
                answer_type=_ANSWER_TYPES.get(family, "other"),
                family=family,
                template=name,
                human=human_answers(family, answer, rng),
            )
        )
    return out
