"""Counting what a model is made of and what it generated: parameters per part, output tokens."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def eos_id_set(eos: Any) -> set[int]:
    """A generation config's ``eos_token_id`` (one id, a list of ids or None) as a set of ids."""
    if eos is None:
        return set()
    return {int(e) for e in eos} if isinstance(eos, (list, tuple)) else {int(eos)}


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


_BATCH_KEYS = ("sample", "hidden_states", "x", "inputs_embeds", "input_ids")
"""Keyword arguments that carry a network's batched input, in the order they are looked for."""


class ForwardCounter:
    """Counts a module's forward calls and the batch rows they ran (a forward pre-hook).

    ``calls`` is the number of sequential evaluations of the network (what a step count is
    measured by); ``rows`` the rows they processed, so ``rows / images`` is the NFE per image
    and ``rows / calls / images`` the classifier-free guidance multiplier.
    """

    def __init__(self, module: Any) -> None:
        self.module = module
        self.calls = 0
        self.rows = 0
        self._handle: Any = None

    def __enter__(self) -> ForwardCounter:
        self._handle = self.module.register_forward_pre_hook(self._count, with_kwargs=True)
        return self

    def __exit__(self, *exc: object) -> None:
        self._handle.remove()

    def _count(self, module: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        tensor: Any = args[0] if args else None
        for key in _BATCH_KEYS:
            if kwargs.get(key) is not None:
                tensor = kwargs[key]
                break
        self.calls += 1
        self.rows += int(tensor.shape[0]) if hasattr(tensor, "shape") else 1
