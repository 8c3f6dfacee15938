"""Reading and rewriting the per-sample logs of a run directory.

A single-process run appends to ``samples.jsonl``; under torchrun each rank appends to its own
``samples.rank<R>.jsonl`` and rank 0 folds them into ``samples.jsonl`` at the end. Readers see
all of them, so an interrupted sharded run resumes like any other.

Every reader goes through `read_records` (the raw latest line per sample) or `read_samples`
(the same with the late per-sample corpus scores of ``sample_scores.jsonl`` merged into
``scores``). Lines of an older schema are migrated on read (`migrate_sample`); a line of a newer
schema is refused with an `InputError` naming the file.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from mllmbench.core import jsonio
from mllmbench.core.errors import InputError
from mllmbench.core.records import SAMPLE_SCORES_FILE, SAMPLES_FILE, SCHEMA_VERSION

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


def migrate_sample(rec: dict[str, Any], path: Path) -> dict[str, Any]:
    """One sample line at `SCHEMA_VERSION`: schema 1's ``task`` becomes ``suite``, and a generated
    image path in ``answer`` moves out (it is in ``generated_images``); newer lines are refused."""
    version = rec.get("schema_version", 1)
    if not isinstance(version, int) or isinstance(version, bool) or version > SCHEMA_VERSION:
        raise InputError(
            f"{path}: sample {rec.get('sample_id')!r} has schema_version {version!r}; this mllm-bench "
            f"reads up to {SCHEMA_VERSION}; upgrade mllm-bench to read it"
        )
    if version >= SCHEMA_VERSION:
        return rec
    out = dict(rec)
    if "suite" not in out and "task" in out:
        out["suite"] = out.pop("task")
    if out.get("generated_images"):
        out["answer"] = None
    else:
        out.setdefault("generated_images", None)
    out["schema_version"] = SCHEMA_VERSION
    return out


def _key(rec: dict[str, Any], path: Path) -> Key:
    try:
        return (str(rec["suite"]), str(rec["sample_id"]))
    except KeyError as exc:
        raise InputError(f"{path}: a line has no {exc.args[0]!r} field") from None


def read_records(run_dir: Path) -> dict[Key, dict[str, Any]]:
    """The latest line per (suite, sample_id) over all logs; torn last lines are skipped."""
    out: dict[Key, dict[str, Any]] = {}
    for path in log_paths(Path(run_dir)):
        for raw in jsonio.read_jsonl(path):
            rec = migrate_sample(raw, path)
            out[_key(rec, path)] = rec
    return out


def read_sample_scores(run_dir: Path) -> dict[Key, dict[str, float]]:
    """Per-sample values of corpus metrics (``sample_scores.jsonl``)."""
    path = Path(run_dir) / SAMPLE_SCORES_FILE
    out: dict[Key, dict[str, float]] = {}
    for raw in jsonio.read_jsonl(path):
        rec = migrate_sample(raw, path)
        out[_key(rec, path)] = rec["scores"]
    return out


def read_samples(run_dir: Path) -> dict[Key, dict[str, Any]]:
    """`read_records` with the late per-sample corpus scores merged into each line's ``scores``."""
    late = read_sample_scores(run_dir)
    return {
        key: {**rec, "scores": {**(rec.get("scores") or {}), **late.get(key, {})}}
        for key, rec in read_records(run_dir).items()
    }


def score_line(suite: str, sample_id: str, scores: dict[str, float]) -> dict[str, Any]:
    """One ``sample_scores.jsonl`` line."""
    return {"suite": suite, "sample_id": sample_id, "scores": scores, "schema_version": SCHEMA_VERSION}


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
