"""GenEval's decision rules and aggregation (djghosh13/geneval, evaluation/evaluate_images.py and
summary_scores.py), independent of the detector.

One image is correct iff every ``include`` clause of its prompt's metadata holds and no
``exclude`` clause is violated (`evaluate`):

* ``{"class": C, "count": N}``: at least N kept detections of class C; only the N most confident
  are checked further;
* ``"color": K``: all N of them are classified as colour K;
* ``"position": [REL, G]``: every one of them stands in relation REL (``left of``, ``right of``,
  ``above``, ``below``) to every object matched by include clause G (`relative_position`: centre
  offset minus a dead zone of 0.1 x the sum of the two boxes' sizes, per axis, over the offset's
  length; a unit component beyond 0.5 gives the relation); a clause whose target group failed
  fails too;
* ``exclude`` ``{"class": C, "count": M}``: fails when M or more of class C were kept (counting
  prompts exclude N+1, so their counts are exact).

Detections are kept per class above a confidence threshold (0.3; 0.9 for ``counting`` prompts),
most confident first, at most 16 per class, without NMS (`select_detections`). The summary
(`summarize`) is the mean correctness per task, in order of first appearance, and the overall
score is the unweighted mean of the task scores.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mllmbench.core.errors import InputError

TAGS: tuple[str, ...] = ("single_object", "two_object", "counting", "colors", "position", "color_attr")
RELATIONS: tuple[str, ...] = ("left of", "right of", "above", "below")
GENEVAL_COLORS: tuple[str, ...] = (
    "red", "orange", "yellow", "green", "blue", "purple", "pink", "brown", "black", "white",
)  # fmt: skip
"""The ten colours GenEval's CLIP classifier chooses among."""
THRESHOLD = 0.3
COUNTING_THRESHOLD = 0.9
MAX_OBJECTS = 16
NMS_THRESHOLD = 1.0
POSITION_THRESHOLD = 0.1

Box = tuple[float, float, float, float]
"""x1, y1, x2, y2 in pixels."""


@dataclass(frozen=True)
class Detection:
    """One kept object: its box, confidence, and (when the detector gives them) mask or colour."""

    box: Box
    score: float
    mask: Any = None
    """A boolean H x W array (Mask2Former), or None."""
    color: str | None = None
    """The colour a judge predicted with the object, or None (then a colour classifier decides)."""


ColorClassifier = Callable[[str, Sequence[Detection]], list[str]]
"""(class name, detections) -> one colour name per detection."""


def compute_iou(box_a: Sequence[float], box_b: Sequence[float]) -> float:
    """GenEval's IoU with its inclusive-pixel (+1) areas."""

    def area(b: Sequence[float]) -> float:
        return max(b[2] - b[0] + 1, 0) * max(b[3] - b[1] + 1, 0)

    inter = area(
        [max(box_a[0], box_b[0]), max(box_a[1], box_b[1]), min(box_a[2], box_b[2]), min(box_a[3], box_b[3])]
    )
    union = area(box_a) + area(box_b) - inter
    return inter / union if union else 0.0


def relative_position(
    box_a: Sequence[float], box_b: Sequence[float], threshold: float = POSITION_THRESHOLD
) -> set[str]:
    """The relations of box A to box B (``left of``, ``right of``, ``above``, ``below``), GenEval's way."""
    offset = [
        (box_a[0] + box_a[2]) / 2 - (box_b[0] + box_b[2]) / 2,
        (box_a[1] + box_a[3]) / 2 - (box_b[1] + box_b[3]) / 2,
    ]
    dims = [
        abs(box_a[2] - box_a[0]) + abs(box_b[2] - box_b[0]),
        abs(box_a[3] - box_a[1]) + abs(box_b[3] - box_b[1]),
    ]
    revised = [math.copysign(max(abs(o) - threshold * d, 0.0), o) for o, d in zip(offset, dims, strict=True)]
    if all(abs(r) < 1e-3 for r in revised):
        return set()
    norm = math.hypot(*offset)
    dx, dy = revised[0] / norm, revised[1] / norm
    relations = set()
    if dx < -0.5:
        relations.add("left of")
    if dx > 0.5:
        relations.add("right of")
    if dy < -0.5:
        relations.add("above")
    if dy > 0.5:
        relations.add("below")
    return relations


def confidence_threshold(
    metadata: Mapping[str, Any], threshold: float = THRESHOLD, counting: float = COUNTING_THRESHOLD
) -> float:
    """0.3, or 0.9 for ``counting`` prompts."""
    return counting if metadata.get("tag") == "counting" else threshold


def select_detections(
    candidates: Mapping[str, Sequence[Detection]],
    threshold: float,
    *,
    max_objects: int = MAX_OBJECTS,
    nms_threshold: float = NMS_THRESHOLD,
) -> dict[str, list[Detection]]:
    """Per class: above `threshold`, most confident first (stable), at most `max_objects`, then NMS."""
    kept: dict[str, list[Detection]] = {}
    for classname, dets in candidates.items():
        order = sorted(range(len(dets)), key=lambda i: -dets[i].score)
        order = [i for i in order if dets[i].score > threshold][:max_objects]
        chosen: list[Detection] = []
        while order:
            best = order.pop(0)
            chosen.append(dets[best])
            order = [
                i
                for i in order
                if nms_threshold == 1 or compute_iou(dets[best].box, dets[i].box) < nms_threshold
            ]
        if chosen:
            kept[classname] = chosen
    return kept


def judge_colors(classname: str, dets: Sequence[Detection]) -> list[str]:
    """The colours a judge predicted with its detections (`Detection.color`)."""
    return [d.color or "" for d in dets]


def _check_position(
    req: Mapping[str, Any], found: Sequence[Detection], groups: list[list[Detection] | None]
) -> str | None:
    expected, target = req["position"]
    if target >= len(groups) or groups[target] is None:
        return f"no target for {req['class']} to be {expected}"
    for obj in found:
        for target_obj in groups[target] or []:
            rels = relative_position(obj.box, target_obj.box)
            if expected not in rels:
                return f"expected {req['class']} {expected} target, found {' and '.join(sorted(rels))} target"
    return None


def evaluate(
    detected: Mapping[str, Sequence[Detection]], metadata: Mapping[str, Any], classify_colors: ColorClassifier
) -> tuple[bool, str]:
    """(correct, reasons) of one image's kept detections against its prompt's metadata."""
    correct = True
    reasons: list[str] = []
    groups: list[list[Detection] | None] = []
    for req in metadata.get("include", []):
        classname, count = req["class"], int(req["count"])
        found = list(detected.get(classname, []))[:count]
        problem = None
        if len(found) < count:
            problem = f"expected {classname}>={count}, found {len(found)}"
        elif "color" in req:
            colors = classify_colors(classname, found)
            if colors.count(req["color"]) < count:
                order = [c for c in GENEVAL_COLORS if c in colors] + [
                    c for c in dict.fromkeys(colors) if c not in GENEVAL_COLORS
                ]
                seen = ", ".join(f"{colors.count(c)} {c}" for c in order)
                problem = f"expected {req['color']} {classname}>={count}, found {seen}"
        if problem is None and "position" in req:
            problem = _check_position(req, found, groups)
        if problem is not None:
            correct = False
            reasons.append(problem)
        groups.append(None if problem is not None else found)
    for req in metadata.get("exclude", []):
        n = len(detected.get(req["class"], []))
        if n >= int(req["count"]):
            correct = False
            reasons.append(f"expected {req['class']}<{req['count']}, found {n}")
    return correct, "\n".join(reasons)


def check_metadata(metadata: Any, where: str) -> None:
    """`InputError` naming `where` unless `metadata` is a GenEval metadata object with a known tag."""
    if not isinstance(metadata, Mapping):
        raise InputError(f"{where}: metadata must be an object, got {type(metadata).__name__}")
    if "tag" not in metadata:
        raise InputError(f"{where}: metadata has no 'tag'")
    if metadata["tag"] not in TAGS:
        raise InputError(f"{where}: unknown tag {metadata['tag']!r} (one of {', '.join(TAGS)})")
    include = metadata.get("include")
    if not isinstance(include, list) or not include:
        raise InputError(f"{where}: metadata needs a non-empty 'include' list")
    for i, req in enumerate([*include, *metadata.get("exclude", [])]):
        if (
            not isinstance(req, Mapping)
            or not isinstance(req.get("class"), str)
            or not isinstance(req.get("count"), int)
        ):
            raise InputError(
                f"{where}: clause {i} needs a string 'class' and an integer 'count', got {req!r}"
            )
        pos = req.get("position")
        if pos is not None and (
            not isinstance(pos, list)
            or len(pos) != 2
            or pos[0] not in RELATIONS
            or not isinstance(pos[1], int)
        ):
            raise InputError(
                f"{where}: clause {i} has a bad 'position' {pos!r} (need [relation, group index])"
            )


@dataclass(frozen=True)
class Summary:
    """What summary_scores.py prints, as numbers in [0, 1]."""

    tasks: dict[str, float]
    """tag -> mean image correctness, in order of first appearance."""
    task_counts: dict[str, tuple[int, int]]
    """tag -> (correct images, images)."""
    overall: float
    """Unweighted mean of the task scores."""
    correct_images: float
    correct_prompts: float
    """Share of prompts (distinct metadata) with at least one correct image."""
    images: int
    prompts: int


def summarize(results: Sequence[tuple[str, str, bool]]) -> Summary:
    """Aggregate (tag, prompt key, correct) per image the way summary_scores.py does."""
    if not results:
        raise ValueError("no results to summarize")
    counts: dict[str, list[int]] = {}
    prompts: dict[str, bool] = {}
    for tag, key, correct in results:
        c = counts.setdefault(tag, [0, 0])
        c[0] += int(correct)
        c[1] += 1
        prompts[key] = prompts.get(key, False) or bool(correct)
    tasks = {tag: c[0] / c[1] for tag, c in counts.items()}
    return Summary(
        tasks=tasks,
        task_counts={tag: (c[0], c[1]) for tag, c in counts.items()},
        overall=math.fsum(tasks.values()) / len(tasks),
        correct_images=sum(int(r[2]) for r in results) / len(results),
        correct_prompts=sum(prompts.values()) / len(prompts),
        images=len(results),
        prompts=len(prompts),
    )
