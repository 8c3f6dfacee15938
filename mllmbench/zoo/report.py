"""`mllm-bench zoo report`: every shipped member on the built-in suites, paired against llava and blind.

Each member runs through the normal `Runner` (its adapter, ``--model zoo:NAME``) on the same
data; the run directories then feed the existing leaderboard site (`write_site`), and
`paired_table` adds per-member paired tests of VQA accuracy (paired bootstrap over the same
questions, `mllmbench.reports.paired`) against ``llava`` and against ``blind``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mllmbench.core.jsonio import read_jsonl

log = logging.getLogger(__name__)

BASELINES = ("llava", "blind")


def member_suites(spec: Any, suites: Sequence[str]) -> list[str]:
    """The suites of `suites` that member `spec` can run (its kind's capabilities)."""
    from mllmbench.core.types import Capability
    from mllmbench.suites.registry import load_suite_class

    can = {
        "understand": Capability.UNDERSTAND,
        "generate": Capability.GENERATE,
        "unified": Capability.UNDERSTAND | Capability.GENERATE,
    }.get(spec.kind)
    if can is None:
        return []
    needs = {name: load_suite_class(name).requires for name in suites}
    return [name for name in suites if needs[name] & can == needs[name]]


def run_member(
    name: str,
    adapter: str,
    out_dir: Path,
    suites: Sequence[str],
    data_dir: str | None,
    limit: int | None,
    progress: bool,
    sampling: dict[str, Any] | None = None,
) -> Path:
    """Run one member on `suites` into ``out_dir/name`` (resuming a finished run) and return it;
    `sampling`: the member's image-generation settings (`Member.sampling`)."""
    from dataclasses import replace

    from mllmbench.core.config import RunConfig
    from mllmbench.engine.plan import resolve_run
    from mllmbench.engine.runner import Runner

    config = RunConfig(
        adapter=adapter,
        model=f"zoo:{name}",
        suites=tuple(suites),
        data_dir=data_dir,
        limit=limit,
        batch_size=16,
        **(sampling or {}),
    )
    config = replace(resolve_run(config), out_dir=str(out_dir / name))
    return Path(Runner(config, progress=progress).run().run_dir)


def vqa_scores(run_dir: Path) -> dict[str, tuple[float, str]]:
    """sample id -> (VQA accuracy, question type) of a run's VQA samples (failed ones left out)."""
    out = {}
    for row in read_jsonl(run_dir / "samples.jsonl"):
        if row.get("suite") == "vqa" and row.get("error") is None and "vqa_accuracy" in row["scores"]:
            out[row["sample_id"]] = (
                float(row["scores"]["vqa_accuracy"]),
                row["meta"].get("question_type", ""),
            )
    return out


def paired_table(runs: dict[str, Path]) -> list[dict[str, Any]]:
    """Per member that answered VQA: accuracy overall and per question type, and paired tests vs
    the baselines."""
    from mllmbench.reports.paired import paired_bootstrap

    scores = {name: vqa_scores(path) for name, path in runs.items()}
    scores = {name: mine for name, mine in scores.items() if mine}  # generating members ran no VQA
    rows = []
    for name, mine in scores.items():
        types = sorted({t for _, t in mine.values()})
        row: dict[str, Any] = {
            "member": name,
            "n": len(mine),
            "vqa": sum(s for s, _ in mine.values()) / max(1, len(mine)),
            "per_type": {t: _mean([s for s, q in mine.values() if q == t]) for t in types},
        }
        for base in BASELINES:
            if base == name or base not in scores:
                continue
            common = sorted(set(mine) & set(scores[base]))
            result = paired_bootstrap([mine[i][0] for i in common], [scores[base][i][0] for i in common])
            row[f"vs_{base}"] = {
                "difference": result.difference,
                "ci": [result.ci_low, result.ci_high],
                "p_value": result.p_value,
                "n": result.n,
            }
        rows.append(row)
    return rows


GENERATION_COLUMNS = (
    "shapes_eval",
    "fd_shapes_judge",
    "kid_shapes_judge",
    "images_per_second",
    "sequential_calls",
    "nfe",
    "image_tokens",
)
"""The ``t2i`` metrics `generation_table` reads from each run (quality, then cost)."""


def generation_table(runs: dict[str, Path]) -> list[dict[str, Any]]:
    """Per member that ran ``t2i``: its `GENERATION_COLUMNS` and its shapes_eval per GenEval tag."""
    from mllmbench.core.jsonio import read_json

    rows = []
    for name, path in runs.items():
        suite = read_json(path / "run.json", what="run record")["suites"].get("t2i")
        if suite is None:
            continue
        metrics = {key: value.get("value") for key, value in suite["metrics"].items()}
        rows.append(
            {
                "member": name,
                "n": suite["n_done"],
                "failed": suite["n_errors"],
                **{key: metrics.get(key) for key in GENERATION_COLUMNS},
                "per_tag": {
                    k.split("/", 1)[1]: v for k, v in metrics.items() if k.startswith("shapes_eval/")
                },
            }
        )
    return rows


def format_generation_table(rows: list[dict[str, Any]]) -> str:
    """Plain-text table of `generation_table` rows."""
    from mllmbench.core.formatting import percent, significant
    from mllmbench.core.text_table import text_table

    def num(value: float | None) -> str:
        return "-" if value is None else significant(value)

    header = (
        "member",
        "n",
        "failed",
        "shapes_eval",
        "FD judge",
        "KID judge",
        "images/s",
        "sequential calls",
        "NFE",
    )
    table = [
        (
            row["member"],
            row["n"],
            row["failed"],
            percent(row["shapes_eval"]),
            num(row.get("fd_shapes_judge")),
            num(row.get("kid_shapes_judge")),
            num(row.get("images_per_second")),
            num(row.get("sequential_calls")),
            num(row.get("nfe")),
        )
        for row in rows
    ]
    return text_table(header, table, right=(1, 2, 3, 4, 5, 6, 7, 8))


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def format_table(rows: list[dict[str, Any]]) -> str:
    """Plain-text table of `paired_table` rows (`core.text_table`, numbers by `core.formatting`)."""
    from mllmbench.core.formatting import percent, significant
    from mllmbench.core.text_table import text_table

    def diff(test: dict[str, Any] | None) -> str:
        if test is None:
            return "-"
        low, high = test["ci"]
        return (
            f"{100 * test['difference']:+.1f} [{100 * low:+.1f}, {100 * high:+.1f}] "
            f"p={significant(test['p_value'])}"
        )

    header = ("member", "n", "VQA", *(f"vs {base} [95% CI] p" for base in BASELINES))
    table = [
        (row["member"], row["n"], percent(100 * row["vqa"]), *(diff(row.get(f"vs_{b}")) for b in BASELINES))
        for row in rows
    ]
    return text_table(header, table, right=(1, 2))
