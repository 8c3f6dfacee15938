"""Numbers people can read: every metric in its unit, with a precision that suits it.

One formatter for the CLI tables, the HTML report and the leaderboards (JSON output keeps the
raw numbers). Nothing is ever printed in scientific notation: a positive value too small for
the precision prints as ``<0.001``, a tiny negative one (numerical noise around zero) as ``0.000``.

* percent metrics (``unit == "%"``: VQA accuracy, exact match): one decimal, ``57.3%``;
* caption metrics (BLEU, METEOR, ROUGE-L, CIDEr, SPICE), KID, CLIP score and other plain scores:
  three significant digits (``0.0266``, ``1.25``);
* FID / Fréchet distances: two decimals from 1 up (``12.34``), three significant digits below;
* seconds: ``1.23 s``, below one second ``12.3 ms``; rates ``123 tokens/s``;
* memory (``unit == "MiB"``) and byte counts: ``512 B``, ``12.0 KiB``, ``1.5 GiB``;
* counts (tokens, NFE): whole numbers stay whole, others get one decimal.
"""

from __future__ import annotations

import decimal
import math
from collections.abc import Mapping
from typing import Any

TINY = 0.001
"""Below this magnitude a three-significant-digit value prints as ``<0.001`` (or ``0.000``)."""

MISSING = "n/a"

CAPTION_METRICS = ("Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4", "METEOR", "ROUGE_L", "CIDEr", "SPICE")
DISTANCE_PREFIXES = ("fid", "fd_")
COUNT_METRICS = ("nfe", "sequential_calls", "image_tokens", "visual_tokens_per_image")
_BYTE_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def fixed(value: float, decimals: int) -> str:
    """`value` with `decimals` decimals, rounding halves away from zero (57.25 -> ``57.3``)."""
    quantum = decimal.Decimal(1).scaleb(-decimals)
    rounded = decimal.Decimal(repr(float(value))).quantize(quantum, rounding=decimal.ROUND_HALF_UP)
    text = format(rounded, "f")
    return text[1:] if text.startswith("-") and not rounded else text


def _bad(value: float | None) -> str | None:
    if value is None or isinstance(value, bool):
        return MISSING
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return None


def significant(value: float | None, digits: int = 3) -> str:
    """`value` with `digits` significant digits in plain notation (``0.00266``, ``123``, ``1235``)."""
    bad = _bad(value)
    if bad is not None:
        return bad
    assert value is not None
    if value == 0:
        return "0"
    if abs(value) < TINY:
        return "<0.001" if value > 0 else "0.000"
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(value))))
    text = fixed(value, decimals)
    rounded = float(text)
    if rounded != 0 and math.floor(math.log10(abs(rounded))) > math.floor(math.log10(abs(value))):
        text = fixed(value, max(0, decimals - 1))  # 0.09996 -> "0.100", not "0.1000"
    return text


def percent(value: float | None) -> str:
    """A value already in percent, one decimal: ``57.3%``."""
    bad = _bad(value)
    if bad is not None:
        return bad
    assert value is not None
    return fixed(value, 1) + "%"


def distance(value: float | None) -> str:
    """FID-like distances: two decimals from 1 up, three significant digits below."""
    bad = _bad(value)
    if bad is not None:
        return bad
    assert value is not None
    return fixed(value, 2) if abs(value) >= 1 else significant(value)


def seconds(value: float | None) -> str:
    """A duration: ``1.23 s``, ``12.3 ms`` below one second."""
    bad = _bad(value)
    if bad is not None:
        return bad
    assert value is not None
    if value != 0 and abs(value) < 1:
        return f"{significant(value * 1000)} ms"
    return f"{significant(value)} s"


def bytes_(value: float | None) -> str:
    """A byte count in binary units: ``512 B``, ``12.0 KiB``, ``1.5 GiB``."""
    bad = _bad(value)
    if bad is not None:
        return bad
    assert value is not None
    size, unit = float(value), 0
    while abs(size) >= 1024 and unit < len(_BYTE_UNITS) - 1:
        size, unit = size / 1024, unit + 1
    return f"{fixed(size, 0)} B" if unit == 0 else f"{fixed(size, 1)} {_BYTE_UNITS[unit]}"


def count(value: float | None, unit: str = "") -> str:
    """A count: whole numbers as they are (``576``), others with one decimal (``12.5``)."""
    bad = _bad(value)
    if bad is not None:
        return bad
    assert value is not None
    text = fixed(value, 0) if float(value).is_integer() else fixed(value, 1)
    return f"{text} {unit}".rstrip()


def metric_kind(name: str, unit: str = "") -> str:
    """How a metric is written: ``percent``, ``seconds``, ``bytes``, ``rate``, ``count``,
    ``distance`` or ``score`` (three significant digits). Per-group names (``vqa_accuracy/yes/no``)
    follow their metric."""
    base = name.split("/", 1)[0]
    if unit == "%":
        return "percent"
    if unit == "s":
        return "seconds"
    if unit in ("MiB", "B", "bytes"):
        return "bytes"
    if unit.endswith("/s") or base.endswith(("_per_s", "_per_second")):
        return "rate"
    if unit == "tokens" or base in COUNT_METRICS:
        return "count"
    if base.startswith(DISTANCE_PREFIXES):
        return "distance"
    return "score"


def format_metric(name: str, value: float | None, unit: str = "") -> str:
    """`value` of metric `name` (with its recorded `unit`) as a person reads it."""
    kind = metric_kind(name, unit)
    if kind == "percent":
        return percent(value)
    if kind == "seconds":
        return seconds(value)
    if kind == "bytes":
        scale = 2**20 if unit == "MiB" else 1
        return bytes_(None if value is None else value * scale)
    if kind == "rate":
        rate_unit = unit or ("img/s" if name.startswith("images_per") else "/s")
        return f"{significant(value)} {rate_unit}" if _bad(value) is None else significant(value)
    if kind == "count":
        return count(value, unit)
    if kind == "distance":
        return distance(value)
    return significant(value)


def format_interval(name: str, low: float | None, high: float | None, unit: str = "") -> str:
    """``[low, high]`` in the metric's format, or ``-`` when there is no interval."""
    if low is None or high is None:
        return "-"
    return f"[{format_metric(name, low, unit)}, {format_metric(name, high, unit)}]"


def format_metric_value(name: str, mv: Mapping[str, Any] | Any) -> str:
    """A run.json metric entry (a mapping or an object with ``value`` and ``unit``) as text."""
    get = mv.get if isinstance(mv, Mapping) else (lambda k, d=None: getattr(mv, k, d))
    return format_metric(name, get("value"), str(get("unit") or ""))


def model_name(adapter: str, model: str) -> str:
    """The readable part of a model path or hub id: its last component (``llava-1.5-7b-hf``);
    ``tiny-llava`` when the last component only repeats the adapter (``.../tiny/llava``)."""
    parts = [p for p in str(model).replace("\\", "/").rstrip("/").split("/") if p]
    if not parts:
        return "model"
    if parts[-1] == adapter and len(parts) > 1:
        return f"{parts[-2]}-{parts[-1]}"
    return parts[-1]


def run_labels(runs: list[tuple[str, str, str]]) -> list[str]:
    """Short labels for runs given as ``(adapter, model, identity hash)``: ``llava · tiny-llava``.

    The first 6 hex digits of the hash (a checkpoint hash or run id) are added only where two
    runs would otherwise share a label; runs equal in all three get ``#1``, ``#2``...
    """
    bases = [f"{adapter} · {model_name(adapter, model)}" for adapter, model, _ in runs]
    labels = list(bases)
    for i, (base, (_, _, ident)) in enumerate(zip(bases, runs, strict=True)):
        if bases.count(base) > 1:
            labels[i] = f"{base} · {ident.removeprefix('sha256:')[:6]}" if ident else base
    for label in set(labels):
        idx = [i for i, x in enumerate(labels) if x == label]
        if len(idx) > 1:
            for k, i in enumerate(idx, 1):
                labels[i] = f"{label} #{k}"
    return labels
