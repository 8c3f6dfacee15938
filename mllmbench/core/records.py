"""Versioned records written by a run: the config, one line per sample, and the run summary.

Files in a run directory:

* ``samples.jsonl`` - one `SampleRecord` per line, appended as each sample completes;
* ``sample_scores.jsonl`` - per-sample values of corpus metrics known only at the end (CIDEr ...);
* ``run.json`` - config, provenance, adapter and paradigm info, metrics per suite (written atomically).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

SCHEMA_VERSION = 2
"""Version of ``run.json`` and of every ``samples.jsonl`` line (2: ``suite`` instead of ``task``,
generated images in ``generated_images`` with ``answer`` text or None, ``n_unparsed`` per suite)."""

SAMPLES_FILE = "samples.jsonl"
SAMPLE_SCORES_FILE = "sample_scores.jsonl"
RUN_FILE = "run.json"


@dataclass(frozen=True)
class SampleRecord:
    """One line of ``samples.jsonl``."""

    sample_id: str
    suite: str
    """The suite's registry name (``task`` in schema 1)."""
    image: str | list[str] | None
    """Image path, or a list of paths for multi-image samples."""
    prompt: str | None
    """The exact text given to the processor, after the chat template."""
    output: str | None
    """Generated text, decoded with special tokens skipped."""
    answer: str | None
    """What was extracted from `output` for scoring: always text, None for generated images."""
    references: list[str]
    scores: dict[str, float]
    timing: dict[str, Any]
    """Seconds: the batch's generate call (``batch_seconds``) and whole adapter call
    (``call_seconds``); with a `GenerationProfile` also the batch's preprocess, prefill, decode
    and vision + connector time and this sample's TTFT, E2EL, TPOT and inter-token gaps (a list)."""
    tokens: dict[str, int]
    error: str | None = None
    text: str = ""
    """The suite's prompt wording before the chat template."""
    meta: dict[str, Any] = field(default_factory=dict)
    memory: dict[str, Any] = field(default_factory=dict)
    """Peak memory of the adapter call this sample was part of, and the weights (bytes)."""
    generated_images: list[str] | None = None
    """Paths of the images a generation sample produced, relative to the run directory (None
    for understanding samples)."""
    schema_version: int = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return asdict(self)
