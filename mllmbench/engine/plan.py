"""Resolve a run before any weights load: names, capabilities, paths, and scoring settings.

Everything a user can get wrong fails here with a one-line `ConfigError`. Scoring settings that
come from the environment when not given (the FID extractor and mode, the CLIP model of the
text-to-image suites) are resolved into the returned config, so they are part of the run identity.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from mllmbench.adapters.base import Adapter
from mllmbench.adapters.registry import load_adapter_class
from mllmbench.core.config import RunConfig
from mllmbench.core.errors import ConfigError
from mllmbench.suites.base import Suite
from mllmbench.suites.registry import load_suite_class


@dataclass(frozen=True)
class Plan:
    """A resolved run: its config (scoring settings filled in), adapter class and suites."""

    config: RunConfig
    adapter_cls: type[Adapter]
    suites: list[Suite]


def _suite_classes(config: RunConfig, adapter_cls: type[Adapter]) -> list[type[Suite]]:
    """Each suite's class; a suite the adapter cannot serve is refused, naming what it has."""
    out = []
    for name in config.suites:
        suite_cls = load_suite_class(name)
        # Every flag the suite requires (understanding *and* video, say), not just one of them.
        if (suite_cls.requires & adapter_cls.capabilities) != suite_cls.requires:
            need = " and ".join(
                c.name.lower() for c in type(suite_cls.requires) if c in suite_cls.requires and c.name
            )
            have = ", ".join(
                c.name.lower() for c in type(suite_cls.requires) if c in adapter_cls.capabilities and c.name
            )
            raise ConfigError(
                f"suite {name!r} needs the {need} capability, but adapter {config.adapter!r} "
                f"supports only: {have or 'nothing'}"
            )
        out.append(suite_cls)
    return out


def _check_paths(config: RunConfig, check_model: bool) -> dict[str, str]:
    """The model path (when it looks local) and ``--data SUITE=DIR`` names; returns per-suite dirs."""
    if check_model:
        looks_local = config.model.startswith((".", "/", "~")) or Path(config.model).expanduser().exists()
        if looks_local and not Path(config.model).expanduser().exists():
            raise ConfigError(f"model path does not exist: {config.model}")
    per_suite = dict(config.suite_data)
    unknown = sorted(set(per_suite) - set(config.suites))
    if unknown:
        raise ConfigError(
            f"--data names suite {unknown[0]!r}, which is not in --suite {','.join(config.suites)}"
        )
    return per_suite


def resolve_scoring(config: RunConfig, suites: list[Suite]) -> RunConfig:
    """Fill in the generated-image scoring settings from the environment and hand them to the
    text-to-image suites; a run without such a suite is returned unchanged."""
    from mllmbench.suites.t2i import T2IFormatSuite

    t2i = [s for s in suites if isinstance(s, T2IFormatSuite)]
    if not t2i:
        return config
    resolved = None
    for suite in t2i:
        resolved = suite.use_scoring_settings(
            fid_extractor=config.fid_extractor, fid_mode=config.fid_mode, clip_model=config.clip_model
        )
    assert resolved is not None
    return replace(
        config,
        fid_extractor=resolved["fid_extractor"],
        fid_mode=resolved["fid_mode"],
        clip_model=resolved["clip_model"],
    )


def plan(config: RunConfig, *, check_model: bool = True) -> Plan:
    """Resolve `config`: adapter class, constructed suites and the resolved config.

    A suite without ``--data`` uses its default data directory (the built-in Shapes set is
    generated there on first use).
    """
    adapter_cls = load_adapter_class(config.adapter)
    classes = _suite_classes(config, adapter_cls)
    per_suite = _check_paths(config, check_model)
    suites = []
    for name, cls in zip(config.suites, classes, strict=True):
        data = per_suite.get(name) or config.data_dir
        suites.append(cls(Path(data) if data else None))
    return Plan(resolve_scoring(config, suites), adapter_cls, suites)


def prepare(config: RunConfig, *, check_model: bool = True) -> tuple[type[Adapter], list[Suite]]:
    """`plan`, as the adapter class and the suites."""
    p = plan(config, check_model=check_model)
    return p.adapter_cls, p.suites


DEFAULT_ADAPTER = "llava"
DEFAULT_MODEL = "zoo:llava"
"""The embedded default: the trained zoo LLaVA, shipped with the package."""


def default_adapter_and_model(adapter: str | None, model: str | None) -> tuple[str, str]:
    """The one rule for what runs when a choice is left out, for the CLI and the API alike.

    No adapter: `DEFAULT_ADAPTER` on `DEFAULT_MODEL` (unless a model is given). An adapter
    without a model: ``""``, which `resolve_run` fills with that adapter's tiny checkpoint.
    """
    if adapter is None:
        return DEFAULT_ADAPTER, model or DEFAULT_MODEL
    return adapter, model or ""


def resolve_run(config: RunConfig) -> RunConfig:
    """What `run` and `mllmbench.evaluate` do before loading: check everything (`plan`), then fill
    in the adapter's tiny checkpoint when no model is given (``model=""``) and resolve the scoring
    settings; returns the config whose identity names the run."""
    from mllmbench.engine.tiny_checkpoints import ensure_tiny

    resolved = plan(config, check_model=bool(config.model)).config
    if not config.model:
        resolved = replace(resolved, model=str(ensure_tiny(config.adapter)))
    return resolved


def run_name(config: RunConfig) -> str:
    """``<adapter>-<model folder>-<run id prefix>``: the default run directory's name."""
    from mllmbench.engine.provenance import config_hash

    stem = Path(config.model.rstrip("/")).name or "model"
    return f"{config.adapter}-{stem}-{config_hash(config.identity())[:8]}"
