"""DataFrame loaders the leaderboard needs beyond `frame.load_samples` and `frame.load_metrics`.

* `load_suite_runs` - one row per (run, suite): versions, dataset, sample set, timing, memory;
* `load_sample_extras` - fields some sample lines carry that `load_samples` does not read
  (``generated_images``) and which per-sample scores arrived only at the end of a run.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mllmbench.core import samplelog
from mllmbench.core.hashing import text_sha256
from mllmbench.reports.frame import read_result

if TYPE_CHECKING:
    import pandas as pd

MEMORY_FIELDS: tuple[tuple[str, float], ...] = (
    ("peak_memory_mib", 1.0),
    ("max_memory_allocated_mib", 1.0),
    ("peak_memory_bytes", 1 / 2**20),
    ("max_memory_allocated_bytes", 1 / 2**20),
    ("peak_rss_mib", 1.0),
    ("peak_rss_bytes", 1 / 2**20),
)
"""Efficiency fields read for the memory figure, in order of preference, with their factor to MiB.

They are looked up in ``run.json`` under ``suites.<suite>.efficiency`` first, then under the
top-level ``efficiency``; a run without any of them has no memory figure.
"""

EXTRA_SAMPLE_FIELDS = ("generated_images",)
"""Sample-line fields read by `load_sample_extras` (image paths, relative to the run directory)."""


def memory_mib(run: dict[str, Any], suite: str) -> tuple[float | None, str]:
    """Peak memory of `suite` in MiB from the run's efficiency fields, and the field it came from."""
    scopes = (
        (f"suites.{suite}.efficiency", (run.get("suites") or {}).get(suite, {}).get("efficiency")),
        ("efficiency", run.get("efficiency")),
    )
    for where, eff in scopes:
        if not isinstance(eff, dict):
            continue
        for name, factor in MEMORY_FIELDS:
            value = eff.get(name)
            if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
                return float(value) * factor, f"{where}.{name}"
    return None, ""


def sample_set_digest(ids: Iterable[str]) -> str:
    """A short id of a set of sample ids: equal digests mean the same samples were evaluated."""
    return text_sha256("\n".join(sorted(ids)))[:12]


def _suite_sample_ids(run_dir: Path) -> dict[str, set[str]]:
    ids: dict[str, set[str]] = {}
    for suite, sample_id in samplelog.read_records(run_dir):
        ids.setdefault(suite, set()).add(sample_id)
    return ids


def load_suite_runs(run_dirs: Iterable[Path]) -> pd.DataFrame:
    """One row per (run, suite): what decides whether two runs can be ranked together.

    Columns: ``run_dir``, ``run_id``, ``status``, ``suite``, ``requires``, ``suite_version``,
    ``dataset_fingerprint``, ``dataset_path``, ``metric_versions`` and ``scoring`` (sorted JSON),
    ``n_samples``, ``n_errors``, ``n_unparsed``, ``sample_set`` (digest of the sample ids in ``samples.jsonl``),
    ``wall_seconds``, ``output_tokens`` (the suite's own timing), ``memory_mib``, ``memory_source``,
    ``device_name``, ``capabilities`` (comma-separated).
    """
    import pandas as pd

    rows: list[dict[str, Any]] = []
    for run_dir in run_dirs:
        result = read_result(run_dir)
        run = result.to_dict()
        ids = _suite_sample_ids(run_dir)
        caps = result.adapter.get("capabilities", [])
        for suite, res in result.suites.items():
            timing = res.timing
            mem, mem_source = memory_mib(run, suite)
            rows.append(
                {
                    "run_dir": str(run_dir),
                    "run_id": result.run_id,
                    "status": result.status,
                    "suite": suite,
                    "requires": res.requires or "understand",
                    "suite_version": str(res.version),
                    "dataset_fingerprint": res.dataset.fingerprint,
                    "dataset_path": res.dataset.path,
                    "metric_versions": json.dumps(res.metric_versions, sort_keys=True),
                    "scoring": json.dumps(res.scoring, sort_keys=True),
                    "n_samples": res.n_samples,
                    "n_errors": res.n_errors,
                    "n_unparsed": res.n_unparsed,
                    "sample_set": sample_set_digest(ids.get(suite, set())),
                    "wall_seconds": timing.get("wall_seconds", timing.get("wall_seconds_this_session")),
                    "output_tokens": timing.get("output_tokens"),
                    "memory_mib": mem,
                    "memory_source": mem_source,
                    "device_name": result.provenance.get("device_name"),
                    "capabilities": ",".join(str(c) for c in caps),
                }
            )
    return pd.DataFrame(rows)


def load_sample_extras(run_dirs: Iterable[Path]) -> pd.DataFrame:
    """Extra per-sample fields: one row per (run, suite, sample) that has any.

    Columns: ``run_dir``, ``suite``, ``sample_id``, ``late_scores`` (comma-separated names of the
    scores that came from ``sample_scores.jsonl``: corpus-level metrics), and one column per
    name in `EXTRA_SAMPLE_FIELDS` (a list of absolute paths, or None).
    """
    import pandas as pd

    rows: dict[tuple[str, str, str], dict[str, Any]] = {}
    for run_dir in run_dirs:
        for (suite, sample_id), scores in samplelog.read_sample_scores(run_dir).items():
            key = (str(run_dir), suite, sample_id)
            row = rows.setdefault(key, _extras_row(key))
            row["late_scores"] = ",".join(sorted(scores))
        for (suite, sample_id), rec in samplelog.read_records(run_dir).items():
            key = (str(run_dir), suite, sample_id)
            for name in EXTRA_SAMPLE_FIELDS:
                value = rec.get(name)
                if not value:
                    continue
                paths = [value] if isinstance(value, str) else [str(v) for v in value]
                row = rows.setdefault(key, _extras_row(key))
                row[name] = [str((run_dir / p) if not Path(p).is_absolute() else Path(p)) for p in paths]
    columns = ["run_dir", "suite", "sample_id", "late_scores", *EXTRA_SAMPLE_FIELDS]
    return pd.DataFrame([rows[k] for k in sorted(rows)], columns=columns)


def _extras_row(key: tuple[str, str, str]) -> dict[str, Any]:
    row: dict[str, Any] = {"run_dir": key[0], "suite": key[1], "sample_id": key[2], "late_scores": ""}
    row.update({name: None for name in EXTRA_SAMPLE_FIELDS})
    return row
