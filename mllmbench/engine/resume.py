"""Resuming: start fresh, resume from the sample log, or refuse to mix two configs in one directory."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mllmbench.core import samplelog
from mllmbench.core.config import RunConfig
from mllmbench.core.errors import ConfigError
from mllmbench.core.records import RUN_FILE, SAMPLE_SCORES_FILE
from mllmbench.core.results import load_run_json
from mllmbench.engine import provenance
from mllmbench.suites.base import Sample

log = logging.getLogger(__name__)


def check_resume(run_dir: Path, config: RunConfig, overwrite: bool) -> None:
    """Clear the directory (`overwrite`), or cut torn log tails and check the run id matches."""
    if overwrite:
        for f in (run_dir / RUN_FILE, run_dir / SAMPLE_SCORES_FILE, *samplelog.log_paths(run_dir)):
            f.unlink(missing_ok=True)
        return
    for path in samplelog.log_paths(run_dir):
        if samplelog.drop_torn_tail(path):
            log.warning("%s ended in a partial line (interrupted write); that sample is redone", path)
    run_json = run_dir / RUN_FILE
    if run_json.exists() and load_run_json(run_json).run_id != provenance.config_hash(config.identity()):
        raise ConfigError(
            f"{run_dir} holds a run with a different configuration; "
            "use another --out or pass --overwrite to start again"
        )


def finished(rec: Mapping[str, Any] | None) -> bool:
    """A logged sample counts as done when it has no error and an answer (or generated images)."""
    if rec is None or rec.get("error") is not None:
        return False
    return rec.get("answer") is not None or bool(rec.get("generated_images"))


def unfinished(
    suite: str, samples: Sequence[Sample], previous: Mapping[tuple[str, str], Mapping[str, Any]]
) -> list[Sample]:
    """The samples of `suite` that the log does not hold as finished, in dataset order."""
    return [s for s in samples if not finished(previous.get((suite, s.sample_id)))]
