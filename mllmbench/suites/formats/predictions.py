"""Prediction files of this and other harnesses, read into ``{sample_id: prediction}``.

Formats (``auto`` picks by suffix and content):

* ``jsonl``: one object per line with the dataset's own id field (``index`` for MMBench-layout
  tables, ``question_id`` for POPE and MME, ``questionId`` for DocVQA/InfoVQA, or ``sample_id``)
  and ``prediction`` (``answer`` and ``output`` are accepted too). MME's ``question_id`` names an
  image, so its lines also give ``question`` (or use ``sample_id`` = ``<question_id>#<k>``).
  A line with a non-null ``error`` is a failed sample: counted, never scored.
* ``lmms_eval``: lmms-eval's per-sample log (``--log_samples``): lines with ``doc_id``, ``doc``
  and ``filtered_resps`` (or ``resps``); the id comes from ``doc``, the prediction is the first
  response (nested lists unwrapped).
* ``vlmevalkit``: VLMEvalKit's prediction table (``*_<model>_<dataset>.xlsx`` or ``.tsv``) with
  ``index`` and ``prediction`` columns.

Every id must be in the data (`resolve_ids` names the file, the line and the id), and no sample
may be predicted twice.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mllmbench.core.errors import InputError

FORMATS = ("auto", "jsonl", "lmms_eval", "vlmevalkit")
ID_FIELDS = ("sample_id", "index", "question_id", "questionId", "id")
TEXT_FIELDS = ("prediction", "answer", "output", "response", "text")


@dataclass(frozen=True)
class PredictionLine:
    """One prediction before its id is resolved against the data."""

    where: str
    """``file:line`` (or ``file: row N``) for messages."""
    key: dict[str, Any]
    """Candidate id fields (``sample_id``, ``index``, ``question_id``, ``question``...)."""
    prediction: str | None
    error: str | None = None


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def _first_text(value: Any) -> Any:
    while isinstance(value, list) and value:
        value = value[0]
    return value


def _jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read predictions: {exc}") from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}:{n}: not valid JSON: {exc.msg}") from None
        if not isinstance(obj, dict):
            raise InputError(f"{path}:{n}: each line must be a JSON object")
        yield n, obj


def detect_format(path: Path) -> str:
    """``vlmevalkit`` for tables, ``lmms_eval`` when the first line has ``doc_id`` and ``doc``, else ``jsonl``."""
    if path.suffix.lower() in (".xlsx", ".tsv", ".csv"):
        return "vlmevalkit"
    for _, obj in _jsonl(path):
        return "lmms_eval" if "doc_id" in obj and isinstance(obj.get("doc"), dict) else "jsonl"
    raise InputError(f"{path}: the predictions file is empty")


def read_predictions(path: str | Path, fmt: str = "auto") -> list[PredictionLine]:
    """Every prediction line of `path` in format `fmt`."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: predictions file not found")
    if fmt not in FORMATS:
        raise InputError(f"unknown predictions format {fmt!r}; known: {', '.join(FORMATS)}")
    fmt = detect_format(path) if fmt == "auto" else fmt
    return {"jsonl": _read_jsonl, "lmms_eval": _read_lmms_eval, "vlmevalkit": _read_table}[fmt](path)


def _text(obj: dict[str, Any], where: str) -> str | None:
    for f in TEXT_FIELDS:
        if f in obj:
            value = _first_text(obj[f])
            if _blank(value):
                return None
            if not isinstance(value, str | int | float):
                raise InputError(f"{where}: field {f!r} must be a string, got {type(value).__name__}")
            return str(value)
    raise InputError(f"{where}: no prediction field (one of {', '.join(TEXT_FIELDS)})")


def _read_jsonl(path: Path) -> list[PredictionLine]:
    out = []
    for n, obj in _jsonl(path):
        where = f"{path}:{n}"
        key = {f: obj[f] for f in (*ID_FIELDS, "question") if f in obj}
        if not any(f in key for f in ID_FIELDS):
            raise InputError(f"{where}: no id field (one of {', '.join(ID_FIELDS)})")
        error = obj.get("error")
        out.append(
            PredictionLine(where, key, None if error else _text(obj, where), str(error) if error else None)
        )
    return out


def _read_lmms_eval(path: Path) -> list[PredictionLine]:
    out = []
    for n, obj in _jsonl(path):
        where = f"{path}:{n}"
        doc = obj.get("doc")
        if not isinstance(doc, dict):
            raise InputError(f"{where}: lmms-eval sample line without a 'doc' object")
        resps = obj.get("filtered_resps", obj.get("resps"))
        pred = _first_text(resps)
        if not isinstance(pred, str):
            raise InputError(f"{where}: 'filtered_resps' holds no text response")
        key = {f: doc[f] for f in (*ID_FIELDS, "question") if f in doc}
        key.setdefault("doc_id", obj.get("doc_id"))
        out.append(PredictionLine(where, key, pred))
    return out


def _read_table(path: Path) -> list[PredictionLine]:
    from mllmbench.suites.formats.mc_table import read_table_rows

    rows = read_table_rows(path)
    if not rows:
        raise InputError(f"{path}: the predictions table has no rows")
    for column in ("index", "prediction"):
        if column not in rows[0]:
            raise InputError(f"{path}: column {column!r} missing; found: {', '.join(map(str, rows[0]))}")
    out = []
    for n, row in enumerate(rows):
        pred = row["prediction"]
        key = {"index": row["index"], **({"question": row["question"]} if "question" in row else {})}
        out.append(PredictionLine(f"{path}: row {n + 2}", key, None if _blank(pred) else str(pred)))
    return out


def resolve_ids(
    lines: list[PredictionLine], resolve: Callable[[dict[str, Any]], str | None], path: Path
) -> tuple[dict[str, str], dict[str, str]]:
    """({sample_id: prediction}, {sample_id: error}); unknown and duplicated ids are errors."""
    preds: dict[str, str] = {}
    errors: dict[str, str] = {}
    for line in lines:
        sid = resolve(line.key)
        if sid is None:
            shown = {k: v for k, v in line.key.items() if k != "question"}
            raise InputError(f"{line.where}: id {shown} is not in the data")
        if sid in preds or sid in errors:
            raise InputError(f"{line.where}: sample {sid!r} is predicted twice in {path}")
        if line.prediction is None:
            errors[sid] = line.error or "no prediction"
        else:
            preds[sid] = line.prediction
    return preds, errors
