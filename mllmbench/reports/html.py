"""One self-contained HTML file comparing runs: no server, no CDN, opens anywhere.

The view model is built in plain Python from the run files (testable without HTML); the jinja2
template only loops and formats, with autoescaping on: model outputs are untrusted text.
"""

from __future__ import annotations

import base64
import io
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mllmbench.core import samplelog
from mllmbench.core.comparability import same_conditions
from mllmbench.core.formatting import format_interval, format_metric, run_labels, significant
from mllmbench.core.jsonio import write_text_atomic
from mllmbench.reports.frame import PathLike, find_run_dirs, read_run

log = logging.getLogger(__name__)

SAMPLES_PER_SUITE = 24
THUMBNAIL_PX = 128
GALLERY_PER_SUITE = 24
"""Prompts shown per text-to-image suite in the gallery."""


@dataclass(frozen=True)
class RunView:
    """One run's column header: identity, paradigm, provenance."""

    label: str
    run_id: str
    status: str
    adapter: dict[str, Any]
    config: dict[str, Any]
    provenance: dict[str, Any]
    started_at: str
    finished_at: str


@dataclass(frozen=True)
class MetricRow:
    """One metric across runs: cells are formatted strings, '' where a run lacks the metric."""

    suite: str
    metric: str
    cells: tuple[str, ...]
    best: int | None
    """Index of the best run (by ``higher_is_better``), when there are several."""


@dataclass(frozen=True)
class CountRow:
    """One suite's sample counts across runs: ``8 of 10 scored, 2 failed, 1 unparsed``."""

    suite: str
    cells: tuple[str, ...]


@dataclass(frozen=True)
class SampleView:
    """One sample shown next to its references and each run's prediction."""

    suite: str
    sample_id: str
    text: str
    image_data_uri: str | None
    references: tuple[str, ...]
    predictions: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class GeneratedView:
    """One run's images for one prompt, with how they were drawn."""

    label: str
    image_data_uris: tuple[str, ...]
    error: str | None
    seed: int | None
    settings: str
    """The knobs used, e.g. ``steps=50 guidance=7.5 32x32 DDIMScheduler``."""
    rewritten_prompt: str | None
    scores: dict[str, Any]


@dataclass(frozen=True)
class GalleryRow:
    """One text-to-image prompt: its reference image and each run's generated images."""

    suite: str
    sample_id: str
    prompt: str
    reference_data_uri: str | None
    generated: tuple[GeneratedView, ...]


@dataclass(frozen=True)
class UnifiedRow:
    """A model with both understanding and generation results (from one run or several)."""

    model: str
    understanding: tuple[tuple[str, str], ...]
    """``(suite/metric, formatted value)`` of the understanding suites."""
    generation: tuple[tuple[str, str], ...]
    """``(suite/metric, formatted value)`` of the text-to-image suites."""


@dataclass(frozen=True)
class ReportView:
    """Everything the template needs."""

    title: str
    runs: tuple[RunView, ...]
    metric_rows: tuple[MetricRow, ...]
    samples: tuple[SampleView, ...]
    notes: tuple[str, ...] = field(default_factory=tuple)
    gallery: tuple[GalleryRow, ...] = field(default_factory=tuple)
    """Text-to-image prompts with reference and generated images."""
    unified: tuple[UnifiedRow, ...] = field(default_factory=tuple)
    """Models whose understanding and generation metrics are both present."""
    counts: tuple[CountRow, ...] = field(default_factory=tuple)
    """Per suite: samples scored, failed (never scored) and unparsed (scored wrong)."""


def _fmt(metric: str, mv: dict[str, Any]) -> str:
    """``57.3% [50.1%, 64.5%] (n=8, device)``: the value and interval in the metric's unit."""
    if mv.get("value") is None:
        return "n/a"
    unit = str(mv.get("unit") or "")
    text = format_metric(metric, mv.get("value"), unit)
    if mv.get("ci_low") is not None and mv.get("ci_high") is not None:
        text += " " + format_interval(metric, mv.get("ci_low"), mv.get("ci_high"), unit)
    context = mv.get("context") or {}
    where = f", {context['device_name']}" if context.get("device_name") else ""
    return f"{text} (n={mv.get('n')}{where})"


def _counts(res: dict[str, Any] | None) -> str:
    """``8 of 10 scored, 2 failed, 1 unparsed`` for one suite of one run ('' when absent)."""
    if not res:
        return ""
    return (
        f"{res.get('n_done', 0)} of {res.get('n_samples', 0)} scored, {res.get('n_errors', 0)} failed, "
        f"{res.get('n_unparsed', 0)} unparsed"
    )


def report_labels(runs: Sequence[dict[str, Any]]) -> list[str]:
    """Short run labels (``llava · tiny-llava``); a checkpoint-hash prefix only where two runs
    would share a label, the run id's where they share the checkpoint too."""
    names = [
        (str(r.get("config", {}).get("adapter", "")), str(r.get("config", {}).get("model", ""))) for r in runs
    ]
    hashes = [str(r.get("adapter", {}).get("checkpoint_hash") or "") for r in runs]
    labels = run_labels([(a, m, h) for (a, m), h in zip(names, hashes, strict=True)])
    if any(" #" in label for label in labels):
        labels = run_labels([(a, m, str(r.get("run_id", ""))) for (a, m), r in zip(names, runs, strict=True)])
    return labels


def thumbnail_png(path: str | None, size: int = THUMBNAIL_PX) -> bytes | None:
    """PNG bytes of the image shrunk to fit `size` pixels, or None when it cannot be read."""
    if not path:
        return None
    try:
        from PIL import Image

        with Image.open(path) as im:
            rgb = im.convert("RGB")
            rgb.thumbnail((size, size))
            buf = io.BytesIO()
            rgb.save(buf, format="PNG", optimize=True)
    except (OSError, ValueError) as exc:
        log.debug("no thumbnail for %s: %s", path, exc)
        return None
    return buf.getvalue()


def _thumbnail(path: str | None) -> str | None:
    """A small PNG data URI of the image, or None when it cannot be read."""
    png = thumbnail_png(path)
    return None if png is None else "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _samples_by_key(run_dir: Path) -> dict[tuple[str, str], dict[str, Any]]:
    late = samplelog.read_sample_scores(run_dir)
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for key, rec in samplelog.read_records(run_dir).items():
        out[key] = {**rec, "scores": {**rec.get("scores", {}), **late.get(key, {})}}
    return out


def build_view(run_dirs: Sequence[Path], *, samples_per_suite: int = SAMPLES_PER_SUITE) -> ReportView:
    """Turn run directories into the report's view model."""
    runs = [read_run(d) for d in run_dirs]
    labels = report_labels(runs)
    views = tuple(
        RunView(
            label=label,
            run_id=run.get("run_id", ""),
            status=run.get("status", ""),
            adapter=run.get("adapter", {}),
            config=run.get("config", {}),
            provenance=run.get("provenance", {}),
            started_at=run.get("started_at", ""),
            finished_at=run.get("finished_at", ""),
        )
        for label, run in zip(labels, runs, strict=True)
    )
    keys: list[tuple[str, str]] = []
    for run in runs:
        for suite, res in run.get("suites", {}).items():
            for metric in res.get("metrics", {}):
                if (suite, metric) not in keys:
                    keys.append((suite, metric))
    rows = []
    for suite, metric in keys:
        mvs = [run.get("suites", {}).get(suite, {}).get("metrics", {}).get(metric) for run in runs]
        cells = tuple(_fmt(metric, mv) if mv else "" for mv in mvs)
        scored = [(i, mv["value"]) for i, mv in enumerate(mvs) if mv and mv.get("value") is not None]
        best = None
        if len(scored) > 1 and same_conditions(mvs):  # never rank figures from different devices
            hib = next(mv for mv in mvs if mv).get("higher_is_better", True)
            best = (max if hib else min)(scored, key=lambda t: t[1])[0]
        rows.append(MetricRow(suite, metric, cells, best))
    counts = tuple(
        CountRow(suite, tuple(_counts(run.get("suites", {}).get(suite)) for run in runs))
        for suite in dict.fromkeys(s for run in runs for s in run.get("suites", {}))
    )
    notes = tuple(
        f"{label}: {suite}: {metric} unavailable: {note}"
        for label, run in zip(labels, runs, strict=True)
        for suite, res in run.get("suites", {}).items()
        for metric, note in res.get("notes", {}).items()
    )
    per_run = [_samples_by_key(d) for d in run_dirs]
    samples: list[SampleView] = []
    shown: dict[str, int] = {}
    for key in per_run[0] if per_run else {}:
        suite = key[0]
        if shown.get(suite, 0) >= samples_per_suite or per_run[0][key].get("generated_images"):
            continue  # generated images are shown in the gallery
        shown[suite] = shown.get(suite, 0) + 1
        first = per_run[0][key]
        image = first.get("image")
        first_image = image[0] if isinstance(image, list) and image else image
        image_path = str(first_image) if first_image else None
        preds = tuple(
            {
                "label": label,
                "output": recs.get(key, {}).get("output"),
                "answer": recs.get(key, {}).get("answer"),
                "error": recs.get(key, {}).get("error"),
                "scores": {
                    k: significant(v) if isinstance(v, float) else v
                    for k, v in recs.get(key, {}).get("scores", {}).items()
                },
            }
            for label, recs in zip(labels, per_run, strict=True)
        )
        samples.append(
            SampleView(
                suite=suite,
                sample_id=key[1],
                text=first.get("text", ""),
                image_data_uri=_thumbnail(image_path),
                references=tuple(first.get("references", [])),
                predictions=preds,
            )
        )
    title = "mllm-bench report: " + ", ".join(labels)
    return ReportView(
        title=title,
        runs=views,
        metric_rows=tuple(rows),
        samples=tuple(samples),
        notes=notes,
        gallery=tuple(build_gallery(run_dirs, labels, per_run)),
        unified=tuple(build_unified(runs, labels)),
        counts=counts,
    )


def _settings_text(generation: dict[str, Any]) -> str:
    """The knobs of a generated sample in one line (``steps=50 guidance=7.5 32x32 ...``)."""
    s = generation.get("settings") or {}
    parts = []
    for key, short in (("num_inference_steps", "steps"), ("guidance_scale", "guidance")):
        if s.get(key) is not None:
            parts.append(f"{short}={s[key]}")
    for key in ("temperature", "top_k"):
        if s.get(key) is not None:
            parts.append(f"{key}={s[key]}")
    if s.get("width") and s.get("height"):
        parts.append(f"{s['width']}x{s['height']}")
    if s.get("scheduler"):
        parts.append(str(s["scheduler"]))
    if generation.get("nfe") is not None:
        parts.append(f"nfe={generation['nfe']}")
    if generation.get("sequential_calls") is not None:
        parts.append(f"sequential_calls={generation['sequential_calls']}")
    if generation.get("image_tokens"):
        parts.append(f"image_tokens={generation['image_tokens']}")
    return " ".join(parts)


def _paths(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value] if isinstance(value, list | tuple) else []


def build_gallery(
    run_dirs: Sequence[Path],
    labels: Sequence[str],
    per_run: Sequence[dict[tuple[str, str], dict[str, Any]]],
    *,
    per_suite: int = GALLERY_PER_SUITE,
) -> list[GalleryRow]:
    """Text-to-image samples (lines with ``generated_images``): prompt, reference, each run's images.

    Samples come in the first run that has them; generated paths are relative to each run's
    directory, the reference is ``meta.reference_image``. Thumbnails are embedded as data URIs.
    """
    keys: list[tuple[str, str]] = []
    for recs in per_run:
        for key, rec in recs.items():
            if rec.get("generated_images") is not None and key not in keys:
                keys.append(key)
    rows: list[GalleryRow] = []
    shown: dict[str, int] = {}
    for key in keys:
        if shown.get(key[0], 0) >= per_suite:
            continue
        shown[key[0]] = shown.get(key[0], 0) + 1
        first = next(recs[key] for recs in per_run if key in recs)
        generated = []
        for run_dir, label, recs in zip(run_dirs, labels, per_run, strict=True):
            rec = recs.get(key, {})
            uris = [_thumbnail(str(Path(run_dir) / p)) for p in _paths(rec.get("generated_images"))]
            generation = rec.get("generation") or {}
            generated.append(
                GeneratedView(
                    label=label,
                    image_data_uris=tuple(u for u in uris if u),
                    error=rec.get("error") or (None if rec else "not run"),
                    seed=rec.get("seed"),
                    settings=_settings_text(generation),
                    rewritten_prompt=generation.get("rewritten_prompt"),
                    scores={
                        k: significant(v) if isinstance(v, float) else v
                        for k, v in rec.get("scores", {}).items()
                    },
                )
            )
        meta = first.get("meta") or {}
        rows.append(
            GalleryRow(
                suite=key[0],
                sample_id=key[1],
                prompt=str(first.get("text", "")),
                reference_data_uri=_thumbnail(meta.get("reference_image")),
                generated=tuple(generated),
            )
        )
    return rows


def build_unified(runs: Sequence[dict[str, Any]], labels: Sequence[str]) -> list[UnifiedRow]:
    """Per model (adapter and checkpoint), its understanding and text-to-image metrics side by side.

    Only models with both kinds of results are listed; they may come from one run with both
    kinds of suites or from separate runs of the same checkpoint.
    """
    models: dict[tuple[str, str], dict[str, Any]] = {}
    for run, label in zip(runs, labels, strict=True):
        adapter = run.get("adapter", {})
        config = run.get("config", {})
        ident = (str(config.get("adapter")), str(adapter.get("checkpoint_hash") or config.get("model")))
        entry = models.setdefault(ident, {"label": label, "understand": [], "generate": []})
        for suite, res in run.get("suites", {}).items():
            kind = res.get("requires")
            if kind not in ("understand", "generate"):
                continue
            for metric, mv in res.get("metrics", {}).items():
                entry[kind].append((f"{suite}/{metric}", _fmt(metric, mv)))
    return [
        UnifiedRow(e["label"], tuple(e["understand"]), tuple(e["generate"]))
        for e in models.values()
        if e["understand"] and e["generate"]
    ]


def render(view: ReportView) -> str:
    """Render the view model with the packaged template (autoescape on, strict undefined)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("mllmbench.reports", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env.get_template("report.html.j2").render(view=view)


def write_report(paths: PathLike | Iterable[PathLike], out: PathLike) -> Path:
    """Build and write the report for every run found under `paths`; returns the file path."""
    run_dirs = find_run_dirs(paths)
    html = render(build_view(run_dirs))
    return write_text_atomic(out, html)
