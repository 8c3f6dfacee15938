"""Trade-off scatter plots as inline SVG text, made in plain Python (no JS plotting library).

One point per model, coloured by paradigm, with the Pareto front (the models no other model
beats on both axes) joined by a dashed line and ringed. Every piece of text is XML-escaped, so
model names stay inert; numbers are formatted with fixed precision so the bytes are stable.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape

from mllmbench.core.formatting import significant

WIDTH = 520
HEIGHT = 340
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 64, 150, 28, 48


@dataclass(frozen=True)
class Axis:
    """One axis of a trade-off plot."""

    label: str
    higher_is_better: bool


@dataclass(frozen=True)
class PlotPoint:
    """One model in a plot."""

    label: str
    """Full name, shown as the point's tooltip."""
    tag: str
    """Short mark written next to the point."""
    x: float
    y: float
    group: str
    """Paradigm label: picks the colour and the legend entry."""
    href: str | None = None
    """Link to the model's run page (relative to the page holding the plot)."""


def dominates(p: tuple[float, float], q: tuple[float, float], x_hib: bool, y_hib: bool) -> bool:
    """True when p is at least as good as q on both axes and strictly better on one."""
    sx = 1 if x_hib else -1
    sy = 1 if y_hib else -1
    px, py, qx, qy = sx * p[0], sy * p[1], sx * q[0], sy * q[1]
    return px >= qx and py >= qy and (px > qx or py > qy)


def pareto_front(
    points: Sequence[tuple[float, float]], *, x_higher_is_better: bool, y_higher_is_better: bool
) -> list[int]:
    """Indices of the points no other point dominates, ordered by x (then y, then index)."""
    front = [
        i
        for i, p in enumerate(points)
        if not any(
            dominates(q, p, x_higher_is_better, y_higher_is_better) for j, q in enumerate(points) if j != i
        )
    ]
    return sorted(front, key=lambda i: (points[i][0], points[i][1], i))


def nice_ticks(lo: float, hi: float, target: int = 5) -> list[float]:
    """Round tick values covering [lo, hi] (steps of 1, 2 or 5 times a power of ten)."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError("tick range must be finite")
    if hi <= lo:
        hi = lo + (abs(lo) or 1.0)
    raw = (hi - lo) / max(1, target)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.floor(lo / step + 1e-9) * step
    ticks = []
    k = 0
    while True:
        t = first + k * step
        ticks.append(float(f"{t:.12g}"))
        if t >= hi - 1e-9 * step:
            break
        k += 1
    return ticks


def _fmt_tick(v: float) -> str:
    """An axis tick in plain notation (`core.formatting.significant`: ``1500``, ``0.0025``, ``<0.001``)."""
    return significant(v, 3)


def _f(v: float) -> str:
    """Coordinates with two decimals: stable bytes."""
    return f"{v:.2f}"


def scatter_svg(
    points: Sequence[PlotPoint],
    x: Axis,
    y: Axis,
    *,
    colours: Mapping[str, str],
    title: str,
    element_id: str,
) -> str:
    """An SVG scatter plot of `points` with the Pareto front marked; returns the markup."""
    if not points:
        raise ValueError("a scatter plot needs at least one point")
    xs = [p.x for p in points]
    ys = [p.y for p in points]
    xt = nice_ticks(min(xs + [0.0]) if min(xs) >= 0 else min(xs), max(xs))
    yt = nice_ticks(min(ys), max(ys))
    x0, x1, y0, y1 = xt[0], xt[-1], yt[0], yt[-1]
    pw = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    ph = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM

    def sx(v: float) -> float:
        return MARGIN_LEFT + (v - x0) / (x1 - x0) * pw

    def sy(v: float) -> float:
        return MARGIN_TOP + ph - (v - y0) / (y1 - y0) * ph

    front = pareto_front(
        [(p.x, p.y) for p in points],
        x_higher_is_better=x.higher_is_better,
        y_higher_is_better=y.higher_is_better,
    )
    e = escape
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" id="{e(element_id)}" class="tradeoff" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" '
        f'aria-labelledby="{e(element_id)}-title">',
        f'<title id="{e(element_id)}-title">{e(title)}</title>',
        f'<rect x="{MARGIN_LEFT}" y="{MARGIN_TOP}" width="{pw}" height="{ph}" fill="#fafafa" stroke="#ccc"/>',
    ]
    for t in xt:
        px = _f(sx(t))
        out.append(f'<line x1="{px}" y1="{MARGIN_TOP}" x2="{px}" y2="{MARGIN_TOP + ph}" stroke="#eee"/>')
        out.append(
            f'<text x="{px}" y="{MARGIN_TOP + ph + 14}" text-anchor="middle" font-size="10">'
            f"{e(_fmt_tick(t))}</text>"
        )
    for t in yt:
        py = _f(sy(t))
        out.append(f'<line x1="{MARGIN_LEFT}" y1="{py}" x2="{MARGIN_LEFT + pw}" y2="{py}" stroke="#eee"/>')
        out.append(
            f'<text x="{MARGIN_LEFT - 6}" y="{py}" text-anchor="end" dominant-baseline="middle" '
            f'font-size="10">{e(_fmt_tick(t))}</text>'
        )
    better_x = "higher is better" if x.higher_is_better else "lower is better"
    better_y = "higher is better" if y.higher_is_better else "lower is better"
    out.append(
        f'<text x="{_f(MARGIN_LEFT + pw / 2)}" y="{HEIGHT - 10}" text-anchor="middle" font-size="11">'
        f"{e(x.label)} ({better_x})</text>"
    )
    out.append(
        f'<text transform="translate(14 {_f(MARGIN_TOP + ph / 2)}) rotate(-90)" text-anchor="middle" '
        f'font-size="11">{e(y.label)} ({better_y})</text>'
    )
    if len(front) > 1:
        path = " ".join(f"{_f(sx(points[i].x))},{_f(sy(points[i].y))}" for i in front)
        out.append(
            f'<polyline class="pareto" points="{path}" fill="none" stroke="#555" stroke-dasharray="4 3"/>'
        )
    front_set = set(front)
    for i, p in enumerate(points):
        cx, cy = _f(sx(p.x)), _f(sy(p.y))
        colour = e(colours.get(p.group, "#777"))
        on_front = i in front_set
        tip = f"{p.label} ({p.group}): {x.label} {significant(p.x, 4)}, {y.label} {significant(p.y, 4)}"
        if on_front:
            tip += " - on the Pareto front"
        mark = [f"<title>{e(tip)}</title>"]
        if on_front:
            mark.append(f'<circle cx="{cx}" cy="{cy}" r="8" fill="none" stroke="#222" stroke-width="1.5"/>')
        mark.append(
            f'<circle class="point" data-label="{e(p.label)}" data-pareto="{str(on_front).lower()}" '
            f'cx="{cx}" cy="{cy}" r="5" fill="{colour}" stroke="#fff"/>'
        )
        mark.append(
            f'<text x="{_f(sx(p.x) + 9)}" y="{_f(sy(p.y) - 7)}" font-size="10" fill="#333">{e(p.tag)}</text>'
        )
        body = "".join(mark)
        if p.href:
            out.append(f'<a href="{e(p.href)}">{body}</a>')
        else:
            out.append(f"<g>{body}</g>")
    groups = sorted({p.group for p in points})
    lx = MARGIN_LEFT + pw + 14
    for k, g in enumerate(groups):
        ly = MARGIN_TOP + 8 + 16 * k
        out.append(
            f'<circle cx="{lx}" cy="{ly}" r="5" fill="{e(colours.get(g, "#777"))}"/>'
            f'<text x="{lx + 9}" y="{ly}" dominant-baseline="middle" font-size="10">{e(g)}</text>'
        )
    ly = MARGIN_TOP + 8 + 16 * len(groups) + 6
    out.append(
        f'<circle cx="{lx}" cy="{ly}" r="8" fill="none" stroke="#222" stroke-width="1.5"/>'
        f'<text x="{lx + 12}" y="{ly}" dominant-baseline="middle" font-size="10">Pareto front</text>'
    )
    out.append("</svg>")
    return "\n".join(out)
