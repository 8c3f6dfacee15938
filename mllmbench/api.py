"""The Python API: run an evaluation and read runs back, with the CLI's defaults.

>>> import mllmbench
>>> result = mllmbench.evaluate("llava", suites=("vqa",), limit=8)       # doctest: +SKIP
>>> result.suites["vqa"].metrics["vqa_accuracy"].value                    # doctest: +SKIP
>>> mllmbench.load_run(result.run_dir).suites["vqa"].n_done               # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from mllmbench.core.config import RunConfig, field_names
from mllmbench.core.errors import ConfigError
from mllmbench.core.results import RunResult, load_run_json

_SET_BY_EVALUATE = {"adapter", "model", "suites", "data_dir", "suite_data", "limit", "out_dir"}
OPTIONS = tuple(n for n in field_names() if n not in _SET_BY_EVALUATE) + ("overwrite", "progress")
"""Keyword settings `evaluate` accepts: the `RunConfig` fields (batch_size, device, dtype, seed,
max_new_tokens, steps, guidance, ..., fid_extractor, fid_mode, clip_model, fail_fast,
response_cache, trust_remote_code) plus ``overwrite`` and ``progress``."""


def _data_args(data: str | Path | Mapping[str, str | Path] | None) -> dict[str, Any]:
    if data is None:
        return {}
    if isinstance(data, str | Path):
        return {"data_dir": str(data)}
    return {"suite_data": tuple(sorted((str(k), str(v)) for k, v in data.items()))}


def evaluate(
    adapter: str | None = None,
    model: str | Path | None = None,
    suites: Sequence[str] | str = ("vqa",),
    *,
    data: str | Path | Mapping[str, str | Path] | None = None,
    limit: int | None = None,
    out_dir: str | Path | None = None,
    **config: Any,
) -> RunResult:
    """Run `suites` through `adapter` and return the run's `RunResult`, exactly as ``mllm-bench run``.

    The defaults are the CLI's (`engine.plan.default_adapter_and_model`): no `adapter` runs
    ``llava`` on the shipped zoo LLaVA (``zoo:llava``), the embedded default; an `adapter` with
    `model` None uses that adapter's tiny checkpoint (built offline into the cache on first use),
    as ``mllm-bench run --adapter NAME`` without ``--model``. `data` is one directory for every suite, or a mapping
    suite -> directory (``--data SUITE=DIR``); None: each suite's own data. `config` takes the
    other settings by their `RunConfig` names (`OPTIONS`); defaults are `RunConfig`'s, the
    CLI's, and every value is validated (`ConfigError` names the setting).

    Nothing is written into the current directory unless asked: with `out_dir` None the run goes
    under the user cache, ``cache_root()/runs/<adapter>-<model>-<hash>`` (``$MLLMBENCH_CACHE`` or
    ``$XDG_CACHE_HOME/mllm-bench``); the same call again resumes there. Failed samples are counted
    in ``result.suites[name].n_errors`` (never scored), not raised, unless ``fail_fast=True``.
    """
    from mllmbench.core.device import resolve_device
    from mllmbench.core.paths import cache_root
    from mllmbench.engine.plan import default_adapter_and_model, resolve_run, run_name
    from mllmbench.engine.runner import Runner

    unknown = sorted(set(config) - set(OPTIONS))
    if unknown:
        raise ConfigError(f"evaluate() got an unknown setting {unknown[0]!r}; known: {', '.join(OPTIONS)}")
    overwrite = bool(config.pop("overwrite", False))
    progress = bool(config.pop("progress", False))
    names = (suites,) if isinstance(suites, str) else tuple(suites)
    adapter_name, model_name = default_adapter_and_model(adapter, None if model is None else str(model))
    run_config = RunConfig(
        adapter=adapter_name,
        model=model_name,
        suites=tuple(s.strip() for n in names for s in n.split(",") if s.strip()),
        limit=limit,
        **_data_args(data),
        **config,
    )
    resolve_device(run_config.device)
    run_config = resolve_run(run_config)
    out = Path(out_dir) if out_dir is not None else cache_root() / "runs" / run_name(run_config)
    run_config = replace(run_config, out_dir=str(out))
    outcome = Runner(run_config, overwrite=overwrite, progress=progress).run()
    if outcome.result is None:  # a torchrun rank other than 0 reads what rank 0 wrote
        return load_run(out)
    return outcome.result


def load_run(path: str | Path) -> RunResult:
    """The `RunResult` of a run directory (or its ``run.json``): schema checked, older migrated."""
    return load_run_json(path)
