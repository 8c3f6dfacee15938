"""The leaderboard's view model: run directories -> named runs -> the index page's tables.

Everything is plain Python over the DataFrames of `frame.load_metrics`, `frame.load_samples`
and `leaderboard_frames`; the templates only loop and format. The comparability guards live
in `leaderboard_tables`, the trade-off figures in `leaderboard_plots` (understanding tables) and
`leaderboard_generation` (generation tables: quality against images/s and sequential calls), run pages in
`leaderboard_runs`, pairwise pages in `leaderboard_compare`, and writing the site in
`leaderboard_site`.

>>> from mllmbench.reports.leaderboard import build_index, load_data   # doctest: +SKIP
>>> index = build_index(load_data("runs/"))
>>> [t.title for s in index.sections for t in s.tables]
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from mllmbench.core.formatting import model_name
from mllmbench.reports.frame import PathLike, find_run_dirs, load_metrics, load_samples, read_run
from mllmbench.reports.leaderboard_frames import load_sample_extras, load_suite_runs
from mllmbench.reports.leaderboard_generation import generation_costs, with_tradeoff
from mllmbench.reports.leaderboard_model import (
    PALETTE,
    IndexView,
    LeaderboardData,
    RunEntry,
    Section,
    SuiteTable,
    paradigm_label,
    slug,
)
from mllmbench.reports.leaderboard_plots import with_plots
from mllmbench.reports.leaderboard_tables import efficiency, suite_tables

SECTIONS = (("understand", "Understanding"), ("generate", "Generation"))
"""Suites are grouped by the capability they require; a unified model has runs in both."""
LABEL_CONFIG_KEYS = (
    "model",
    "dtype",
    "device",
    "batch_size",
    "max_new_tokens",
    "seed",
    "limit",
    "trust_remote_code",
)
"""Config fields shown after a model's name when several runs of it would otherwise look alike."""


def load_data(paths: PathLike | Iterable[PathLike]) -> LeaderboardData:
    """Read every run under `paths` into DataFrames (the only file reading of the view model)."""
    run_dirs = tuple(find_run_dirs(paths))
    return LeaderboardData(
        run_dirs=run_dirs,
        runs={str(d): read_run(d) for d in run_dirs},
        metrics=load_metrics(run_dirs),
        samples=load_samples(run_dirs),
        suites=load_suite_runs(run_dirs),
        extras=load_sample_extras(run_dirs),
    )


def run_entries(data: LeaderboardData) -> tuple[RunEntry, ...]:
    """Every run with a unique key, a readable label and its paradigm colour, in a stable order.

    The order and the keys depend on the runs' contents and directory names, not on where the
    directories are, so the same runs give the same site.
    """

    def order(d: Path) -> tuple[str, ...]:
        run = data.runs[str(d)]
        cfg = run.get("config", {})
        return (
            str(cfg.get("adapter")),
            str(cfg.get("model")),
            json.dumps(cfg, sort_keys=True),
            str(run.get("run_id")),
            d.name,
            str(d),
        )

    dirs = sorted(data.run_dirs, key=order)
    runs = [data.runs[str(d)] for d in dirs]
    paradigms = sorted({_paradigm_of(run) for run in runs})
    colours = {p: PALETTE[i % len(PALETTE)] for i, p in enumerate(paradigms)}
    labels = run_labels(runs)
    id_counts = Counter(str(run.get("run_id")) for run in runs)
    seen: Counter[str] = Counter()
    entries = []
    for i, (d, run, label) in enumerate(zip(dirs, runs, labels, strict=True)):
        run_id = str(run.get("run_id"))
        seen[run_id] += 1
        adapter = run.get("adapter", {})
        par = adapter.get("paradigm", {})
        cfg = run.get("config", {})
        entries.append(
            RunEntry(
                key=slug(run_id) if id_counts[run_id] == 1 else f"{slug(run_id)}-{seen[run_id]}",
                tag=f"R{i + 1}",
                run_dir=str(d),
                dir_name=d.name,
                label=label,
                run_id=run_id,
                adapter=str(adapter.get("name", cfg.get("adapter", ""))),
                model=str(cfg.get("model", "")),
                connector=str(par.get("connector", "")),
                generation=str(par.get("generation", "")),
                paradigm=_paradigm_of(run),
                colour=colours[_paradigm_of(run)],
                capabilities=tuple(str(c) for c in adapter.get("capabilities", [])),
                device_name=str(run.get("provenance", {}).get("device_name", "")),
                status=str(run.get("status", "")),
                suites=tuple(run.get("suites", {})),
            )
        )
    return tuple(entries)


def _paradigm_of(run: dict[str, Any]) -> str:
    par = run.get("adapter", {}).get("paradigm", {})
    return paradigm_label(str(par.get("connector", "")), str(par.get("generation", "")))


def run_labels(runs: Sequence[dict[str, Any]]) -> list[str]:
    """``adapter · model-name`` (`core.formatting.model_name`), plus the config fields that tell apart runs of the same model.

    Runs whose configs are identical too (copies of one run) get ``#1``, ``#2``... in order.
    """
    bases = []
    for run in runs:
        cfg = run.get("config", {})
        adapter = str(cfg.get("adapter", ""))
        bases.append(f"{adapter} · {model_name(adapter, str(cfg.get('model', '')))}")
    labels = list(bases)
    for base in sorted(set(bases)):
        idx = [i for i, b in enumerate(bases) if b == base]
        if len(idx) == 1:
            continue
        cfgs = [runs[i].get("config", {}) for i in idx]
        differing = [k for k in LABEL_CONFIG_KEYS if len({json.dumps(c.get(k)) for c in cfgs}) > 1]
        if differing:
            for i, cfg in zip(idx, cfgs, strict=True):
                labels[i] = base + " (" + ", ".join(f"{k}={cfg.get(k)}" for k in differing) + ")"
        counts = Counter(labels[i] for i in idx)
        nth: Counter[str] = Counter()
        for i in idx:
            if counts[labels[i]] > 1:
                nth[labels[i]] += 1
                labels[i] = f"{labels[i]} #{nth[labels[i]]}"
    return labels


def sections_of(tables: Sequence[SuiteTable]) -> tuple[Section, ...]:
    """Tables grouped by the capability their suite requires: understanding first, then generation."""
    known = [req for req, _ in SECTIONS]
    extra = sorted({t.requires for t in tables} - set(known))
    named = [*SECTIONS, *((req, req.capitalize()) for req in extra)]
    sections = (Section(title, tuple(t for t in tables if t.requires == req)) for req, title in named)
    return tuple(s for s in sections if s.tables)


def build_index(data: LeaderboardData, entries: Sequence[RunEntry] | None = None) -> IndexView:
    """The index page: one section per capability, tables per suite and comparable group."""
    entries = tuple(entries) if entries is not None else run_entries(data)
    by_dir = {e.run_dir: e for e in entries}
    order = {e.run_dir: i for i, e in enumerate(entries)}
    eff = efficiency(data.samples)
    costs = generation_costs(data.samples)
    per_suite: dict[str, list[dict[str, Any]]] = {}
    for rec in data.suites.to_dict("records") if len(data.suites) else []:
        per_suite.setdefault(str(rec["suite"]), []).append(rec)
    tables: list[SuiteTable] = []
    for suite in sorted(per_suite):
        recs = sorted(per_suite[suite], key=lambda r: order[r["run_dir"]])
        tables.extend(
            with_tradeoff(t, costs) if t.requires == "generate" else with_plots(t)
            for t in suite_tables(data, suite, recs, by_dir, eff)
        )
    paradigms = tuple(sorted({(e.paradigm, e.colour) for e in entries}))
    title = f"mllm-bench leaderboard: {len(entries)} run{'s' if len(entries) != 1 else ''}"
    return IndexView(title=title, runs=entries, sections=sections_of(tables), paradigms=paradigms)
