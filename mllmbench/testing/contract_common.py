"""Checks shared by the understanding and the generation contracts: registration, lazy loading."""

from __future__ import annotations

from pathlib import Path

from mllmbench.adapters.base import Adapter


def check_registered(adapter_cls: type[Adapter]) -> None:
    """The entry point named `adapter_cls.name` loads exactly `adapter_cls`."""
    from mllmbench.adapters.registry import load_adapter_class

    found = load_adapter_class(adapter_cls.name)
    assert found is adapter_cls, f"entry point {adapter_cls.name!r} loads {found!r}, not {adapter_cls!r}"


def check_lazy_load(adapter_cls: type[Adapter], model_dir: Path) -> Adapter:
    """Construction is cheap and `load` does the work: the loaded adapter on `model_dir`.

    A missing local path constructs fine and raises `ConfigError` naming it at `load`; `info`
    raises `RuntimeError` before `load`.
    """
    from mllmbench.core.errors import ConfigError

    missing = adapter_cls(str(Path(model_dir) / "does-not-exist"))
    try:
        missing.load()
    except ConfigError as exc:
        assert "does-not-exist" in str(exc), f"ConfigError does not name the path: {exc}"
    else:
        raise AssertionError("load() of a missing local path did not raise ConfigError")

    adapter = adapter_cls(str(model_dir))
    try:
        _ = adapter.info
    except RuntimeError:
        pass
    else:
        raise AssertionError("info did not raise RuntimeError before load()")
    adapter.load()
    return adapter
