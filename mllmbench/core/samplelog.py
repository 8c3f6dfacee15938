"""Reading and rewriting the per-sample logs of a run directory.

A single-process run appends to ``samples.jsonl``; under torchrun each rank appends to its own
``samples.rank<R>.jsonl`` and rank 0 folds them into ``samples.jsonl`` at the end. Readers see
all of them, so an interrupted sharded run resumes like any other.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from mllmbench.core import jsonio
from mllmbench.core.records import SAMPLE_SCORES_FILE, SAMPLES_FILE

Key = tuple[str, str]


def rank_log(run_dir: Path, rank: int) -> Path:
    """The log one torchrun rank appends to."""
    return run_dir / f"samples.rank{rank}.jsonl"


def log_paths(run_dir: Path) -> list[Path]:
    """Every sample log in `run_dir`, the merged one first."""
    return [run_dir / SAMPLES_FILE, *sorted(run_dir.glob("samples.rank*.jsonl"))]


def drop_torn_tail(path: Path) -> bool:
    """Cut a partial last line (a crash mid-write) so later appends start on a fresh line.

    Returns True when something was cut.
    """
    if not path.exists():
        return False
    with path.open("rb+") as fh:
        data = fh.read()
        if not data or data.endswith(b"\n"):
            return False
        fh.truncate(data.rfind(b"\n") + 1)
    return True


def read_records(run_dir: Path) -> dict[Key, dict[str, Any]]:
    """The latest line per (task, sample_id) over all logs; torn last lines are skipped."""
    out: dict[Key, dict[str, Any]] = {}
    for path in log_paths(Path(run_dir)):
        for rec in jsonio.read_jsonl(path):
            out[(rec["task"], rec["sample_id"])] = rec
    return out


def read_sample_scores(run_dir: Path) -> dict[Key, dict[str, float]]:
    """Per-sample values of corpus metrics (``sample_scores.jsonl``)."""
    return {
        (r["task"], r["sample_id"]): r["scores"]
        for r in jsonio.read_jsonl(Path(run_dir) / SAMPLE_SCORES_FILE)
    }


def rewrite(path: Path, records: Iterable[dict[str, Any]]) -> None:
    """Replace `path` with exactly `records`, atomically (write a temp file, then rename)."""
    jsonio.write_text_atomic(path, jsonio.dumps_jsonl(records))


def consolidate(run_dir: Path, order: list[Key]) -> None:
    """Fold every log into ``samples.jsonl``: one line per sample, in dataset order."""
    records = read_records(run_dir)
    ordered = [records[k] for k in order if k in records]
    known = set(order)
    ordered += [rec for k, rec in records.items() if k not in known]
    rewrite(run_dir / SAMPLES_FILE, ordered)
    for extra in log_paths(run_dir)[1:]:
        extra.unlink(missing_ok=True)


def rewrite_append(path: Path, records: list[dict[str, Any]]) -> None:
    """Append `records` to `path` in one atomic replace (no fsync per line)."""
    existing = list(jsonio.read_jsonl(path))
    rewrite(path, [*existing, *records])
