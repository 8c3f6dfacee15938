"""`mllm-bench list adapters|suites`: what is installed, with paradigms, versions and files."""

from __future__ import annotations

import argparse

from mllmbench.adapters.registry import load_adapter_class
from mllmbench.core import registry
from mllmbench.core.text_table import text_table
from mllmbench.suites.registry import load_suite_class


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `list`."""
    parser.add_argument("what", choices=["adapters", "suites"])


def run(args: argparse.Namespace) -> int:
    """Print one row per registered adapter or suite (this imports their modules, not torch)."""
    if args.what == "adapters":
        header: tuple[str, ...] = (
            "adapter",
            "connector",
            "generation",
            "capabilities",
            "package",
            "description",
        )
        rows: list[tuple[str, ...]] = []
        for e in registry.entries(registry.ADAPTER_GROUP):
            try:
                cls = load_adapter_class(e.name)
            except Exception as exc:  # noqa: BLE001 - one broken plugin must not hide the others
                rows.append(
                    (e.name, "?", "?", "?", e.distribution, f"unavailable: {type(exc).__name__}: {exc}")
                )
                continue
            caps = ",".join(
                c.name.lower() for c in type(cls.capabilities) if c in cls.capabilities and c.name
            )
            rows.append(
                (e.name, str(cls.connector), str(cls.generation), caps, e.distribution, cls.description)
            )
    else:
        header = ("suite", "version", "requires", "metrics", "expected files", "description")
        rows = []
        for e in registry.entries(registry.SUITE_GROUP):
            try:
                suite_cls = load_suite_class(e.name)
            except Exception as exc:  # noqa: BLE001 - one broken plugin must not hide the others
                rows.append((e.name, "?", "?", "?", "?", f"unavailable: {type(exc).__name__}: {exc}"))
                continue
            rows.append(
                (
                    e.name,
                    suite_cls.version,
                    (suite_cls.requires.name or "").lower(),
                    ",".join(suite_cls.metric_names),
                    " ".join(suite_cls.expected_files),
                    suite_cls.description,
                )
            )
    print(text_table(header, rows))
    return 0
