"""Records of the leaderboard's view model, and the small formatting helpers they share.

Built by `leaderboard` (index), `leaderboard_runs` (run pages) and `leaderboard_compare`
(pairwise pages); the templates only loop over them and format.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mllmbench.core.formatting import significant

if TYPE_CHECKING:
    import pandas as pd


PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#8C6D31", "#000000")
"""Okabe-Ito colours (colour-blind safe), given to paradigms in sorted order."""


@dataclass(frozen=True)
class LeaderboardData:
    """Everything loaded from the run directories, once."""

    run_dirs: tuple[Path, ...]
    runs: dict[str, dict[str, Any]]
    """``str(run_dir)`` -> parsed ``run.json``."""
    metrics: pd.DataFrame
    samples: pd.DataFrame
    suites: pd.DataFrame
    extras: pd.DataFrame


@dataclass(frozen=True)
class RunEntry:
    """One run as the whole site names it."""

    key: str
    """Unique slug: the run id, suffixed when two directories hold the same run id."""
    tag: str
    """Short name (``R1``, ``R2``...) used to mark the run's point in plots."""
    run_dir: str
    dir_name: str
    label: str
    run_id: str
    adapter: str
    model: str
    connector: str
    generation: str
    paradigm: str
    colour: str
    capabilities: tuple[str, ...]
    device_name: str
    status: str
    suites: tuple[str, ...]

    @property
    def unified(self) -> bool:
        """True for a model that both understands and generates images."""
        return {"understand", "generate"} <= set(self.capabilities)

    @property
    def href(self) -> str:
        """Its page, relative to the site root."""
        return f"runs/{self.key}.html"


@dataclass(frozen=True)
class Column:
    """A value column of a suite table."""

    name: str
    help: str
    higher_is_better: bool
    efficiency: bool = False


@dataclass(frozen=True)
class Cell:
    """One formatted value; `sort` is the raw number ('' when missing)."""

    text: str
    sort: str
    detail: str = ""
    title: str = ""
    css: str = ""


@dataclass(frozen=True)
class TableRow:
    """One run in a suite table."""

    run: RunEntry
    rank: int | None
    cells: tuple[Cell, ...]
    n_errors: int
    n_unparsed: int = 0
    """Finished samples whose answer no rule could read (scored wrong)."""


@dataclass(frozen=True)
class Exclusion:
    """A run of the suite that this table does not rank, and why."""

    run: RunEntry
    reason: str


@dataclass(frozen=True)
class PlotView:
    """One trade-off figure: inline SVG markup, or why it is unavailable."""

    title: str
    svg: str | None
    unavailable: str | None
    left_out: tuple[str, ...]
    """Runs of the table that are not plotted, with the reason."""
    points: tuple[tuple[str, str], ...] = ()
    """(tag, label) of the plotted runs: the key to the marks next to the points."""


@dataclass(frozen=True)
class TradeoffRow:
    """One run of a generation table: its quality and what its images cost, from its sample records."""

    run: RunEntry
    colour: str
    """The colour of the run's generation paradigm in the trade-off figures."""
    quality: Cell
    cost: tuple[Cell, ...]
    """One cell per `GenerationTradeoff.cost_columns`."""


@dataclass(frozen=True)
class GenerationTradeoff:
    """Quality against cost for the runs of one generation table, across generation paradigms."""

    quality_metric: str
    """The quality metric compared (`leaderboard_generation.QUALITY_METRICS`: shapes_eval first)."""
    quality_higher_is_better: bool
    cost_columns: tuple[Column, ...]
    rows: tuple[TradeoffRow, ...]
    plots: tuple[PlotView, ...]
    """Quality against images/s (same device only) and against sequential calls per image."""
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class SuiteTable:
    """One ranked table: runs of one suite that can be compared."""

    suite: str
    anchor: str
    requires: str
    title: str
    version: str
    fingerprint: str
    n_samples: int
    main: bool
    """False for a table of runs on another suite or dataset version than the suite's main table."""
    primary_metric: str
    device_name: str
    columns: tuple[Column, ...]
    rows: tuple[TableRow, ...]
    excluded: tuple[Exclusion, ...]
    notes: tuple[str, ...]
    plots: tuple[PlotView, ...]
    tradeoff: GenerationTradeoff | None = None
    """Generation tables only: quality against cost per generation paradigm."""

    @property
    def compare_href(self) -> str | None:
        """The pairwise comparison page, when the table has two runs or more."""
        return f"compare/{self.anchor}.html" if len(self.rows) > 1 else None


@dataclass(frozen=True)
class Section:
    """Understanding or generation suites."""

    name: str
    tables: tuple[SuiteTable, ...]


@dataclass(frozen=True)
class IndexView:
    """The index page."""

    title: str
    runs: tuple[RunEntry, ...]
    sections: tuple[Section, ...]
    paradigms: tuple[tuple[str, str], ...]
    """(paradigm label, colour) in legend order."""


def num(value: Any) -> float | None:
    """A finite float, or None for missing, NaN and non-numbers."""
    if value is None or isinstance(value, bool):
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def fmt(value: float | None, digits: int = 4) -> str:
    """`digits` significant digits in plain notation (`core.formatting.significant`, never
    ``1e-05``); an en dash for missing values."""
    return "\u2013" if value is None else significant(value, digits)


def slug(text: str) -> str:
    """Lower-case letters, digits and dashes: safe in file names and HTML ids."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "x"


def paradigm_label(connector: str, generation: str) -> str:
    """How a run's paradigm is written and grouped: connector kind and generation paradigm."""
    gen = generation if generation and generation != "none" else ""
    con = connector if connector and connector != "none" else ""
    if con and gen:
        return f"{con} connector + {gen} generation"
    if gen:
        return f"{gen} generation"
    if connector == "none":  # recorded as none: the LLM alone, never shown the image (blind)
        return "no connector (text only)"
    return f"{con or 'unknown'} connector"
