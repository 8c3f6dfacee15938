"""COCO caption metrics with a breakdown by domain (NoCaps: in-domain, near-domain, out-domain).

The NoCaps evaluation scores each domain as its own evaluation set: the images of that domain
go through pycocoevalcap on their own, so CIDEr's document frequencies come from that subset
(quirk Q11 makes this differ from averaging per-image scores of the full run). The overall
values are those of `CaptionMetrics` on every image; the domain values are named
``<metric>/<domain>``. One METEOR process serves all the calls.
"""

from __future__ import annotations

from mllmbench.suites.base import Metric, MetricResult, MetricValue, Sample
from mllmbench.suites.metrics.caption import CaptionMetrics, CaptionScores, MeteorSession, score_captions


def caption_values(scores: CaptionScores, n: int, suffix: str = "") -> dict[str, MetricValue]:
    """`MetricValue`s of a `CaptionScores`, as `CaptionMetrics.compute` builds them."""
    values = {}
    for metric, value in scores.corpus.items():
        iv = scores.intervals.get(metric)
        if iv is None:
            values[metric + suffix] = MetricValue(value=value, n=n)
        else:
            values[metric + suffix] = MetricValue(
                value=value,
                n=n,
                stderr=iv.stderr,
                ci_low=iv.low,
                ci_high=iv.high,
                ci_method=f"bootstrap-percentile (B={iv.resamples})",
            )
    return values


class DomainCaptionMetrics(CaptionMetrics):
    """`CaptionMetrics` over all images, then over each domain's images on their own.

    The domain of a sample is ``sample.meta[domain_key]``; samples without one count only in
    the overall values.
    """

    name = "caption"
    version = "1"

    def __init__(self, domain_key: str = "domain", **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.domain_key = domain_key
        self._domains: dict[str, str] = {}

    def update(self, sample: Sample, answer: str) -> dict[str, float]:
        """Store the caption and its domain."""
        out = super().update(sample, answer)
        self._domains[sample.sample_id] = str((sample.meta or {}).get(self.domain_key) or "")
        return out

    def merge(self, other: Metric) -> None:
        """Concatenate another shard's captions and domains."""
        if not isinstance(other, DomainCaptionMetrics) or other.domain_key != self.domain_key:
            raise TypeError("can only merge a DomainCaptionMetrics with the same domain key")
        super().merge(other)
        self._domains.update(other._domains)

    def compute(self) -> MetricResult:
        """Overall values (with per-image scores), then ``<metric>/<domain>`` for each domain."""
        if not self._hypotheses:
            return super().compute()
        own = self.meteor is None
        session = MeteorSession() if own else self.meteor
        try:
            self.meteor = session
            overall = super().compute()
            values = dict(overall.values)
            notes = dict(overall.notes)
            for domain in sorted({d for d in self._domains.values() if d}):
                ids = [k for k in self._hypotheses if self._domains.get(k) == domain]
                scores = score_captions(
                    {k: self._references[k] for k in ids},
                    {k: self._hypotheses[k] for k in ids},
                    resamples=self.resamples,
                    seed=self.seed,
                    spice=self.spice,
                    meteor=session,
                )
                values.update(caption_values(scores, len(ids), f"/{domain}"))
                for metric, note in scores.notes.items():
                    if notes.get(metric) != note:
                        notes[f"{metric}/{domain}"] = note
        finally:
            if own:
                self.meteor = None
                session.close()  # type: ignore[union-attr]
        return MetricResult(values=values, per_sample=overall.per_sample, notes=notes)
