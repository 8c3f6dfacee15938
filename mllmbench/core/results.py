"""Typed results: what ``run.json`` holds, written from and read back through these dataclasses.

``run.json`` keeps the JSON paths ``suites.<suite>.metrics.<metric>.value`` (and ``.n``,
``.stderr``, ``.ci_low``, ``.ci_high``). Reading checks ``schema_version``: a file from a newer
mllm-bench is refused with an `InputError` naming it; an older one is migrated
(`migrate_run_json`).

>>> run = load_run_json("runs/llava-tiny-1234abcd/run.json")     # doctest: +SKIP
>>> run.suites["vqa"].metrics["vqa_accuracy"].value               # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from mllmbench.core import jsonio
from mllmbench.core.errors import InputError
from mllmbench.core.records import SCHEMA_VERSION


@dataclass(frozen=True)
class MetricValue:
    """One corpus-level number with its uncertainty."""

    value: float
    n: int
    """Number of samples the value was computed from."""
    stderr: float | None = None
    """Standard error: sample sd / sqrt(n) for means; for corpus metrics (BLEU, CIDEr...) the sd of the
    bootstrap replicates; None where it does not apply."""
    ci_low: float | None = None
    ci_high: float | None = None
    ci_method: str | None = None
    """How the interval was made: ``normal`` (mean +- 1.96 SE) or ``bootstrap-percentile (B=...)``."""
    higher_is_better: bool = True
    unit: str = ""
    context: dict[str, Any] | None = None
    """Conditions the value holds under, for figures that depend on them (efficiency: device,
    dtype, batch size, library versions); None for quality metrics."""

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form (``context`` only when set)."""
        out: dict[str, Any] = {
            "value": self.value,
            "n": self.n,
            "stderr": self.stderr,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "ci_method": self.ci_method,
            "higher_is_better": self.higher_is_better,
            "unit": self.unit,
        }
        if self.context is not None:
            out["context"] = self.context
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> MetricValue:
        """Inverse of `to_dict`."""
        return cls(**{k: d.get(k) for k in cls.__dataclass_fields__ if k in d})  # type: ignore[arg-type]


@dataclass(frozen=True)
class DatasetInfo:
    """Where a suite read its data, and a short id of the files read."""

    path: str = ""
    fingerprint: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {"path": self.path, "fingerprint": self.fingerprint}


@dataclass(frozen=True)
class SuiteResult:
    """One suite's entry in ``run.json`` (``suites.<name>``)."""

    version: str = ""
    requires: str = "understand"
    """The capability the suite needs: ``understand`` or ``generate``."""
    dataset: DatasetInfo = field(default_factory=DatasetInfo)
    n_samples: int = 0
    """Samples the suite planned (after ``--limit``)."""
    n_done: int = 0
    """Samples with an answer and no error: the ones scored."""
    n_errors: int = 0
    """Failed samples: counted and shown, never scored."""
    n_unparsed: int = 0
    """Finished samples whose extracted answer is empty (scored as wrong)."""
    metrics: dict[str, MetricValue] = field(default_factory=dict)
    metric_versions: dict[str, str] = field(default_factory=dict)
    scoring: dict[str, Any] = field(default_factory=dict)
    """How the suite words prompts and scores answers (`Suite.scoring_info`)."""
    notes: dict[str, str] = field(default_factory=dict)
    """metric -> why it has no value (no sample finished, a missing jar, a failure)."""
    timing: dict[str, Any] = field(default_factory=dict)
    """``wall_seconds_this_session``, ``output_tokens``."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Keys this version does not know (kept, so a read-then-write loses nothing)."""

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form, the layout of ``suites.<name>`` in ``run.json``."""
        return {
            "version": self.version,
            "requires": self.requires,
            "dataset": self.dataset.to_dict(),
            "n_samples": self.n_samples,
            "n_done": self.n_done,
            "n_errors": self.n_errors,
            "n_unparsed": self.n_unparsed,
            "metrics": {k: v.to_dict() for k, v in self.metrics.items()},
            "metric_versions": dict(self.metric_versions),
            "scoring": dict(self.scoring),
            "notes": dict(self.notes),
            "timing": dict(self.timing),
            **self.extra,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SuiteResult:
        """Inverse of `to_dict`."""
        ds = d.get("dataset") or {}
        known = {f.name for f in fields(cls)}
        return cls(
            version=str(d.get("version", "")),
            requires=str(d.get("requires") or "understand"),
            dataset=DatasetInfo(str(ds.get("path") or ""), str(ds.get("fingerprint") or "")),
            n_samples=int(d.get("n_samples") or 0),
            n_done=int(d.get("n_done") or 0),
            n_errors=int(d.get("n_errors") or 0),
            n_unparsed=int(d.get("n_unparsed") or 0),
            metrics={k: MetricValue.from_dict(v) for k, v in (d.get("metrics") or {}).items()},
            metric_versions={k: str(v) for k, v in (d.get("metric_versions") or {}).items()},
            scoring=dict(d.get("scoring") or {}),
            notes={k: str(v) for k, v in (d.get("notes") or {}).items()},
            timing=dict(d.get("timing") or {}),
            extra={k: v for k, v in d.items() if k not in known},
        )

    def values(self) -> dict[str, float]:
        """metric -> value."""
        return {k: v.value for k, v in self.metrics.items()}


@dataclass(frozen=True)
class RunResult:
    """A whole ``run.json``: identity, config, adapter, provenance and one `SuiteResult` per suite."""

    run_id: str
    status: str
    """``ok``, ``errors`` (some samples failed), ``incomplete``, ``interrupted`` or ``failed``."""
    suites: dict[str, SuiteResult]
    config: dict[str, Any] = field(default_factory=dict)
    """`RunConfig.to_dict` of the run (`run_config` parses it)."""
    adapter: dict[str, Any] = field(default_factory=dict)
    """`AdapterInfo.to_dict` of the loaded adapter (``name`` only when it never loaded)."""
    provenance: dict[str, Any] = field(default_factory=dict)
    """Versions, git commit, device, threads, world size."""
    generation: dict[str, Any] = field(default_factory=dict)
    image_generation: dict[str, Any] = field(default_factory=dict)
    started_at: str = ""
    finished_at: str = ""
    load_seconds: float = 0.0
    rescored: dict[str, Any] | None = None
    """When and by which version the metrics were recomputed from the log (`mllm-bench rescore`)."""
    schema_version: int = SCHEMA_VERSION
    run_dir: Path | None = field(default=None, compare=False)
    """The directory this result was read from or written to (not stored in the file)."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Top-level keys this version does not know (kept on rewrite)."""

    @property
    def n_errors(self) -> int:
        """Failed samples over all suites."""
        return sum(s.n_errors for s in self.suites.values())

    def run_config(self) -> Any:
        """The run's `RunConfig` (settings from other versions that it does not know are ignored)."""
        from mllmbench.core.config import RunConfig

        return RunConfig.from_dict(self.config)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form: the layout of ``run.json``."""
        out: dict[str, Any] = {
            "schema_version": self.schema_version,
            "run_id": self.run_id,
            "status": self.status,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "config": dict(self.config),
            "generation": dict(self.generation),
            "image_generation": dict(self.image_generation),
            "adapter": dict(self.adapter),
            "provenance": dict(self.provenance),
            "load_seconds": self.load_seconds,
            "suites": {k: v.to_dict() for k, v in self.suites.items()},
        }
        if self.rescored is not None:
            out["rescored"] = dict(self.rescored)
        return {**out, **self.extra}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], *, run_dir: Path | None = None) -> RunResult:
        """Inverse of `to_dict` (`d` already at `SCHEMA_VERSION`; see `load_run_json`)."""
        known = {f.name for f in fields(cls)}
        return cls(
            schema_version=int(d.get("schema_version", SCHEMA_VERSION)),
            run_id=str(d.get("run_id", "")),
            status=str(d.get("status", "")),
            started_at=str(d.get("started_at", "")),
            finished_at=str(d.get("finished_at", "")),
            config=dict(d.get("config") or {}),
            generation=dict(d.get("generation") or {}),
            image_generation=dict(d.get("image_generation") or {}),
            adapter=dict(d.get("adapter") or {}),
            provenance=dict(d.get("provenance") or {}),
            load_seconds=float(d.get("load_seconds") or 0.0),
            suites={k: SuiteResult.from_dict(v) for k, v in (d.get("suites") or {}).items()},
            rescored=dict(d["rescored"]) if d.get("rescored") else None,
            run_dir=run_dir,
            extra={k: v for k, v in d.items() if k not in known},
        )


def migrate_run_json(d: Mapping[str, Any]) -> dict[str, Any]:
    """Bring a ``run.json`` of an older schema up to `SCHEMA_VERSION`.

    Version 1 -> 2: suites gain ``n_unparsed`` (unknown then: 0); the rest is unchanged.
    """
    out = dict(d)
    version = int(out.get("schema_version", 1))
    if version < 2:
        out["suites"] = {
            name: {**res, "n_unparsed": res.get("n_unparsed", 0)}
            for name, res in (out.get("suites") or {}).items()
        }
        version = 2
    out["schema_version"] = version
    return out


def check_schema(version: Any, path: Path, *, what: str) -> int:
    """The schema version of a record read from `path`; a newer one than this code knows is refused."""
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise InputError(f"{path}: {what} has an invalid schema_version {version!r}")
    if version > SCHEMA_VERSION:
        raise InputError(
            f"{path}: {what} has schema_version {version}, newer than the {SCHEMA_VERSION} this "
            "mllm-bench reads; upgrade mllm-bench to read it"
        )
    return version


def load_run_json(path: str | Path) -> RunResult:
    """Read a ``run.json`` (or a run directory holding one), checking and migrating its schema."""
    from mllmbench.core.records import RUN_FILE

    path = Path(path)
    if path.is_dir():
        path = path / RUN_FILE
    raw = jsonio.read_json(path, what="run file")
    if not isinstance(raw, dict):
        raise InputError(f"{path}: run file is not a JSON object")
    check_schema(raw.get("schema_version", 1), path, what="run file")
    return RunResult.from_dict(migrate_run_json(raw), run_dir=path.parent)


def write_run_json(path: str | Path, result: RunResult) -> None:
    """Write `result` as ``run.json``, atomically."""
    jsonio.write_json_atomic(Path(path), result.to_dict())
