"""Runs as pandas DataFrames: one call loads them, reports are built from them.

>>> from mllmbench.reports import load_samples, load_metrics   # doctest: +SKIP
>>> df = load_samples("runs/")            # one row per sample, every run under runs/
>>> load_metrics("runs/").to_csv("metrics.csv")
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mllmbench.core import samplelog
from mllmbench.core.errors import InputError
from mllmbench.core.records import RUN_FILE
from mllmbench.core.results import RunResult, load_run_json

if TYPE_CHECKING:
    import pandas as pd

PathLike = str | Path


def find_run_dirs(paths: PathLike | Iterable[PathLike]) -> list[Path]:
    """Run directories given directly or found under the given parents (sorted, unique)."""
    items = [paths] if isinstance(paths, str | Path) else list(paths)
    found: set[Path] = set()
    for item in items:
        p = Path(item)
        if (p / RUN_FILE).is_file():
            found.add(p.resolve())
        elif p.is_dir():
            found.update(r.parent.resolve() for r in p.rglob(RUN_FILE))
        else:
            raise InputError(f"not a run directory or a folder of runs: {p}")
    if not found:
        raise InputError(f"no run.json found under: {', '.join(str(i) for i in items)}")
    return sorted(found)


def read_result(run_dir: PathLike) -> RunResult:
    """The typed ``run.json`` of one run directory (schema checked, older versions migrated)."""
    return load_run_json(Path(run_dir) / RUN_FILE)


def read_run(run_dir: PathLike) -> dict[str, Any]:
    """The ``run.json`` of one run directory as plain JSON, read through `read_result`."""
    return read_result(run_dir).to_dict()


def _run_columns(run: dict[str, Any], run_dir: Path) -> dict[str, Any]:
    """Columns that identify a run and its paradigm, repeated on every row."""
    adapter = run.get("adapter", {})
    paradigm = adapter.get("paradigm", {})
    prov = run.get("provenance", {})
    cfg = run.get("config", {})
    return {
        "run_id": run.get("run_id"),
        "run_dir": str(run_dir),
        "adapter": adapter.get("name", cfg.get("adapter")),
        "model": cfg.get("model"),
        "family": paradigm.get("family"),
        "connector": paradigm.get("connector"),
        "generation_paradigm": paradigm.get("generation"),
        "visual_tokens_per_image": adapter.get("visual_tokens_per_image"),
        "device": prov.get("device"),
        "device_name": prov.get("device_name"),
        "dtype": cfg.get("dtype"),
        "batch_size": cfg.get("batch_size"),
    }


def load_samples(paths: PathLike | Iterable[PathLike]) -> pd.DataFrame:
    """One row per sample of every run found: identity, paradigm, output, scores, tokens, timing.

    Per-sample scores appear as ``score.<metric>`` columns, token counts as ``tokens.<kind>``,
    timings as ``timing.<field>`` and memory figures of the sample's adapter call as
    ``memory.<field>``, so accuracy-per-cost is a DataFrame query. A generated image's record adds
    its cost as ``generation.<field>`` (the scalar fields: ``steps``, ``nfe``,
    ``guidance_multiplier``, ``sequential_calls``, ``image_tokens``...), its ``seed`` and
    ``images_generated`` (how many image files it saved).
    """
    import pandas as pd

    rows: list[dict[str, Any]] = []
    for run_dir in find_run_dirs(paths):
        base = _run_columns(read_run(run_dir), run_dir)
        for rec in samplelog.read_samples(run_dir).values():
            row = dict(base)
            row.update(
                {
                    k: rec.get(k)
                    for k in (
                        "suite",
                        "sample_id",
                        "image",
                        "text",
                        "prompt",
                        "output",
                        "answer",
                        "references",
                        "error",
                    )
                }
            )
            for name, val in rec["scores"].items():
                row[f"score.{name}"] = val
            for name, val in rec.get("tokens", {}).items():
                row[f"tokens.{name}"] = val
            for name, val in rec.get("timing", {}).items():
                row[f"timing.{name}"] = val
            for name, val in (rec.get("memory") or {}).items():
                row[f"memory.{name}"] = val
            for name, val in rec.get("meta", {}).items():
                row[f"meta.{name}"] = val
            for name, val in (rec.get("generation") or {}).items():
                if not isinstance(val, dict | list):
                    row[f"generation.{name}"] = val
            if rec.get("seed") is not None:
                row["seed"] = rec["seed"]
            images = rec.get("generated_images")
            if images:
                row["images_generated"] = len(images) if isinstance(images, list) else 1
            rows.append(row)
    return pd.DataFrame(rows)


def load_metrics(paths: PathLike | Iterable[PathLike]) -> pd.DataFrame:
    """One row per (run, suite, metric): value, interval, n, versions and paradigm columns."""
    import pandas as pd

    rows: list[dict[str, Any]] = []
    for run_dir in find_run_dirs(paths):
        result = read_result(run_dir)
        base = _run_columns(result.to_dict(), run_dir)
        for suite, res in result.suites.items():
            for metric, mv in res.metrics.items():
                row = dict(base)
                row.update(
                    {
                        "suite": suite,
                        "suite_version": res.version,
                        "dataset_fingerprint": res.dataset.fingerprint,
                        "metric": metric,
                        "value": mv.value,
                        "stderr": mv.stderr,
                        "ci_low": mv.ci_low,
                        "ci_high": mv.ci_high,
                        "ci_method": mv.ci_method,
                        "n": mv.n,
                        "higher_is_better": mv.higher_is_better,
                        "unit": mv.unit,
                        "n_errors": res.n_errors,
                    }
                )
                rows.append(row)
    return pd.DataFrame(rows)
