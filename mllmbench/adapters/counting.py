"""Counting what a model is made of and what it generated: parameters per part, output tokens."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def count_output_tokens(row: Sequence[int], eos_ids: set[int]) -> int:
    """Generated tokens up to and including the first EOS; all of `row` when there is none."""
    for index, token in enumerate(row):
        if token in eos_ids:
            return index + 1
    return len(row)


def count_parameters(model: Any, groups: Mapping[str, Sequence[str]]) -> dict[str, int]:
    """Parameters per group of submodules, plus ``other`` (if any) and ``total``.

    A parameter shared by two groups (tied weights) counts once, in the first group naming it,
    so the groups and ``other`` always add up to ``total``.
    """
    seen: set[int] = set()
    counts: dict[str, int] = {}
    for group, module_names in groups.items():
        counts[group] = 0
        for module_name in module_names:
            for param in model.get_submodule(module_name).parameters():
                if id(param) not in seen:
                    seen.add(id(param))
                    counts[group] += param.numel()
    total = sum(p.numel() for p in model.parameters())
    other = total - sum(counts.values())
    if other:
        counts["other"] = other
    counts["total"] = total
    return counts
