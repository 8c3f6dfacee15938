"""COCO caption metrics identical to pycocoevalcap (METRICS.md §2).

``COCOEvalCap.evaluate()`` cannot run offline (its SPICE step downloads Stanford CoreNLP), so
this module runs the same pipeline step by step: PTB tokenisation (the same jar, see
`caption_tokenize`), then pycocoevalcap's own ``Bleu(4)``, ``Meteor``, ``Rouge`` and ``Cider``
scorers on the tokenised captions, each once on the whole set. SPICE runs only when its CoreNLP
3.6.0 jars are installed; otherwise `CaptionScores.notes` says why it is missing.

Values are fractions as pycocoevalcap returns them (CIDEr on its x10 scale). CIDEr depends on the
whole evaluated set (quirk Q11), so it is never computed per shard.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
from collections.abc import Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mllmbench.suites.base import Metric, MetricResult, MetricValue, Sample

log = logging.getLogger(__name__)

CAPTION_METRICS: tuple[str, ...] = ("Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4", "METEOR", "ROUGE_L", "CIDEr")
"""The pycocoevalcap names, in the order ``COCOEvalCap`` reports them (SPICE comes last)."""

SPICE_JARS: tuple[str, ...] = ("stanford-corenlp-3.6.0.jar", "stanford-corenlp-3.6.0-models.jar")
"""What pycocoevalcap's ``get_stanford_models()`` would download into ``spice/lib``."""

DEFAULT_RESAMPLES = 200


@dataclass(frozen=True)
class Interval:
    """A percentile bootstrap interval and the sd of the replicates (the bootstrap SE)."""

    low: float
    high: float
    stderr: float
    resamples: int


@dataclass(frozen=True)
class CaptionScores:
    """Corpus and per-image scores, as ``COCOEvalCap.eval`` and ``imgToEval`` hold them."""

    corpus: dict[str, float]
    per_image: dict[Hashable, dict[str, float]]
    notes: dict[str, str] = field(default_factory=dict)
    """metric -> why it is not in `corpus` (SPICE without CoreNLP)."""
    intervals: dict[str, Interval] = field(default_factory=dict)
    """metric -> bootstrap interval over images (BLEU, METEOR, ROUGE-L, CIDEr) when requested."""
    tokenized_references: dict[Hashable, list[str]] = field(default_factory=dict)
    """The PTB-tokenised references that were scored (pycocoevalcap's ``gts``)."""
    tokenized_hypotheses: dict[Hashable, list[str]] = field(default_factory=dict)
    """The PTB-tokenised hypotheses that were scored (pycocoevalcap's ``res``)."""


def spice_unavailable_reason() -> str | None:
    """Why SPICE cannot run here, in one line, or None when it can."""
    lib = corenlp_lib_dir()
    spice_dir = lib.parent
    missing = [name for name in SPICE_JARS if not (lib / name).is_file()]
    if missing:
        return (
            f"SPICE needs Stanford CoreNLP 3.6.0 ({', '.join(missing)}) in {lib}, "
            "which pycocoevalcap downloads on first use and cannot be fetched here"
        )
    if not os.access(spice_dir, os.W_OK):
        return f"SPICE writes its temp and cache files into {spice_dir}, which is not writable"
    return None


def score_captions(
    references: Mapping[Any, Sequence[str]],
    hypotheses: Mapping[Any, str],
    *,
    resamples: int = 0,
    seed: int = 0,
    spice: bool = True,
    meteor: MeteorSession | None = None,
) -> CaptionScores:
    """Score one raw hypothesis per image against its raw references, like ``COCOEvalCap.evaluate()``.

    Images are scored in the order of `references`. References and hypotheses are PTB-tokenised
    in two calls, as pycocoevalcap does, then scored by `score_tokenized`.
    """
    from mllmbench.suites.metrics.caption_tokenize import java_executable, ptb_tokenize

    ids = _check_inputs(references, hypotheses)
    java_executable()
    gts = ptb_tokenize({k: list(references[k]) for k in ids})
    res = ptb_tokenize({k: [hypotheses[k]] for k in ids})
    return score_tokenized(gts, res, resamples=resamples, seed=seed, spice=spice, meteor=meteor)


def score_tokenized(
    gts: Mapping[Any, list[str]],
    res: Mapping[Any, list[str]],
    *,
    resamples: int = 0,
    seed: int = 0,
    spice: bool = True,
    meteor: MeteorSession | None = None,
) -> CaptionScores:
    """Run pycocoevalcap's scorers on PTB-tokenised captions (its ``gts`` and ``res`` dicts).

    With ``resamples > 0`` each metric but SPICE also gets a percentile bootstrap interval over
    images (fixed `seed`). Pass a running `MeteorSession` to reuse one METEOR process (it takes
    seconds to start and holds about 1 GB).
    """
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge

    ids = list(gts)
    if not ids or set(ids) != set(res) or any(len(res[k]) != 1 or not gts[k] for k in ids):
        raise ValueError("need the same images on both sides, one hypothesis and at least one reference each")
    corpus: dict[str, float] = {}
    per_image: dict[Hashable, dict[str, float]] = {k: {} for k in ids}

    def keep(name: str, score: float, scores: Sequence[float]) -> None:
        corpus[name] = float(score)
        for key, value in zip(ids, scores, strict=True):
            per_image[key][name] = float(value)

    bleu, bleus = Bleu(4).compute_score(gts, res, verbose=0)
    for k in range(4):
        keep(f"Bleu_{k + 1}", bleu[k], bleus[k])
    session = meteor if meteor is not None else MeteorSession()
    try:
        keep("METEOR", *session.meteor.compute_score(gts, res))
        keep("ROUGE_L", *Rouge().compute_score(gts, res))
        keep("CIDEr", *Cider().compute_score(gts, res))
        intervals = (
            _bootstrap(session.meteor, gts, res, ids, per_image, resamples, seed) if resamples > 0 else {}
        )
    finally:
        if meteor is None:
            session.close()
    notes: dict[str, str] = {}
    if spice:
        _add_spice(gts, res, ids, corpus, per_image, notes)
    return CaptionScores(
        corpus=corpus,
        per_image=per_image,
        notes=notes,
        intervals=intervals,
        tokenized_references={k: list(v) for k, v in gts.items()},
        tokenized_hypotheses={k: list(v) for k, v in res.items()},
    )


def _check_inputs(references: Mapping[Any, Sequence[str]], hypotheses: Mapping[Any, str]) -> list[Hashable]:
    ids = list(references)
    if not ids:
        raise ValueError("no images to score")
    if set(ids) != set(hypotheses):
        diff = set(ids) ^ set(hypotheses)
        raise ValueError(
            f"references and hypotheses cover different images, e.g. {sorted(map(str, diff))[0]!r}"
        )
    for key in ids:
        if isinstance(references[key], str) or not references[key]:
            raise ValueError(f"image {key!r} needs a non-empty list of reference captions")
        if not isinstance(hypotheses[key], str):
            raise ValueError(f"the hypothesis of image {key!r} must be one string")
    return ids


class MeteorSession:
    """One running METEOR jar (pycocoevalcap's ``Meteor``), reusable across `score_captions` calls."""

    def __init__(self) -> None:
        from pycocoevalcap.meteor.meteor import Meteor

        from mllmbench.suites.metrics.caption_tokenize import java_executable

        java_executable()
        self.meteor = Meteor()

    def close(self) -> None:
        """Stop the jar now instead of whenever the object is collected."""
        proc = self.meteor.meteor_p
        if proc.poll() is None:
            proc.stdin.close()
            proc.kill()
            proc.wait()

    def __enter__(self) -> MeteorSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _bootstrap(
    meteor: object,
    gts: Mapping[Hashable, Sequence[str]],
    res: Mapping[Hashable, Sequence[str]],
    ids: Sequence[Hashable],
    per_image: Mapping[Hashable, Mapping[str, float]],
    resamples: int,
    seed: int,
) -> dict[str, Interval]:
    import numpy as np

    from mllmbench.suites.metrics import caption_bootstrap as cb
    from mllmbench.suites.metrics.stats import percentile_interval

    indices = cb.resample_indices(len(ids), resamples, seed)
    weights = cb.index_weights(indices, len(ids))
    reps = cb.bleu_replicates(gts, res, ids, weights)
    reps["METEOR"] = cb.meteor_replicates(meteor, gts, res, ids, indices)
    reps["ROUGE_L"] = cb.mean_replicates([per_image[k]["ROUGE_L"] for k in ids], weights)
    reps["CIDEr"] = cb.cider_replicates(gts, res, ids, weights)
    out = {}
    for name in CAPTION_METRICS:
        values = np.asarray(reps[name], dtype=float)
        low, high = percentile_interval(values)
        sd = float(np.std(values, ddof=1)) if resamples > 1 else float("nan")
        out[name] = Interval(low=low, high=high, stderr=sd, resamples=resamples)
    return out


def _add_spice(
    gts: Mapping[Hashable, Sequence[str]],
    res: Mapping[Hashable, Sequence[str]],
    ids: Sequence[Hashable],
    corpus: dict[str, float],
    per_image: dict[Hashable, dict[str, float]],
    notes: dict[str, str],
) -> None:
    """Run pycocoevalcap's SPICE when it can run; otherwise record why not."""
    reason = spice_unavailable_reason()
    if reason is None:
        try:
            from pycocoevalcap.spice.spice import Spice

            with stdout_to_stderr():  # the jar inherits stdout, which carries `score --json`
                score, scores = Spice().compute_score(gts, res)
        except (subprocess.CalledProcessError, OSError, TypeError, ValueError) as exc:
            reason = f"SPICE failed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        else:
            corpus["SPICE"] = float(score)
            for key, value in zip(sorted(ids), scores, strict=True):  # type: ignore[type-var]
                per_image[key]["SPICE"] = float(value["All"]["f"])
            return
    notes["SPICE"] = reason
    log.debug("SPICE unavailable: %s", reason)


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Send file descriptor 1 (and so any child process's output) to stderr for a while."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


class CaptionMetrics(Metric):
    """Streaming front end: collects captions, scores the whole set at `compute`.

    ``sample.references`` are the reference captions and `answer` is the hypothesis. Corpus
    values carry a percentile bootstrap interval over images (`resamples`, fixed `seed`);
    ``stderr`` is the sd of the bootstrap replicates.
    """

    name = "caption"
    version = "1"

    def __init__(
        self,
        resamples: int = DEFAULT_RESAMPLES,
        seed: int = 0,
        spice: bool = True,
        meteor: MeteorSession | None = None,
    ) -> None:
        self.resamples = resamples
        self.seed = seed
        self.spice = spice
        self.meteor = meteor
        """A running METEOR process to reuse; None starts one per `compute`."""
        self._hypotheses: dict[str, str] = {}
        self._references: dict[str, tuple[str, ...]] = {}

    def update(self, sample: Sample, answer: str) -> dict[str, float]:
        """Store the caption; every score needs the whole set, so nothing is returned yet."""
        if not sample.references:
            raise ValueError(f"sample {sample.sample_id!r} has no reference captions")
        if sample.sample_id in self._hypotheses:
            raise ValueError(
                f"sample {sample.sample_id!r} was scored twice (pycocoevalcap needs one caption)"
            )
        self._hypotheses[sample.sample_id] = answer
        self._references[sample.sample_id] = tuple(sample.references)
        return {}

    def merge(self, other: Metric) -> None:
        """Concatenate another shard's captions (CIDEr is computed on the full set at the end)."""
        if not isinstance(other, CaptionMetrics):
            raise TypeError("can only merge another CaptionMetrics")
        overlap = self._hypotheses.keys() & other._hypotheses.keys()
        if overlap:
            raise ValueError(f"shards overlap, e.g. sample {sorted(overlap)[0]!r}")
        self._hypotheses.update(other._hypotheses)
        self._references.update(other._references)

    def compute(self) -> MetricResult:
        """Corpus values with bootstrap intervals, per-image values, and why SPICE is missing."""
        if not self._hypotheses:
            return MetricResult(values={}, notes={self.name: "no samples were scored"})
        scores = score_captions(
            self._references,
            self._hypotheses,
            resamples=self.resamples,
            seed=self.seed,
            spice=self.spice,
            meteor=self.meteor,
        )
        n = len(self._hypotheses)
        values = {}
        for metric, value in scores.corpus.items():
            iv = scores.intervals.get(metric)
            if iv is None:
                values[metric] = MetricValue(value=value, n=n)
            else:
                values[metric] = MetricValue(
                    value=value,
                    n=n,
                    stderr=iv.stderr,
                    ci_low=iv.low,
                    ci_high=iv.high,
                    ci_method=f"bootstrap-percentile (B={iv.resamples})",
                )
        per_sample = {str(k): dict(v) for k, v in scores.per_image.items()}
        return MetricResult(values=values, per_sample=per_sample, notes=dict(scores.notes))


def corenlp_lib_dir() -> Path:
    """Where SPICE's CoreNLP jars must be placed for SPICE to run."""
    from mllmbench.suites.metrics.caption_tokenize import pycocoevalcap_dir

    return pycocoevalcap_dir() / "spice" / "lib"
