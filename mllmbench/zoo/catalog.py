"""What `mllm-bench zoo list` shows: one entry per member, read from its shipped directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mllmbench.core.jsonio import read_json
from mllmbench.core.zoo_paths import zoo_checkpoints_dir
from mllmbench.zoo.members import MEMBERS, Member
from mllmbench.zoo.train import RECIPE_FILE


def checkpoint_bytes(directory: Path) -> int:
    """Bytes of every file of a checkpoint directory."""
    return sum(p.stat().st_size for p in directory.rglob("*") if p.is_file())


def member_entry(spec: Member, *, load: bool = True) -> dict[str, Any]:
    """The list entry of `spec`; parameters and visual tokens come from loading it via its adapter."""
    directory = zoo_checkpoints_dir() / spec.name
    shipped = (directory / RECIPE_FILE).is_file()
    entry: dict[str, Any] = {
        "name": spec.name,
        "adapter": spec.adapter,
        "model": f"zoo:{spec.name}",
        "kind": spec.kind,
        "connector": spec.connector,
        "generation": spec.generation,
        "description": spec.description,
        "shipped": shipped,
        "parameters": None,
        "visual_tokens_per_image": None,
        "recipe": None,
        "checkpoint_bytes": checkpoint_bytes(directory) if shipped else None,
    }
    if not shipped:
        return entry
    record = read_json(directory / RECIPE_FILE, what="zoo recipe")
    entry["recipe"] = {
        "steps": record["steps"],
        "data_seeds": {
            "train": record["recipe"]["data"]["train_seed"],
            "tokenizer_corpus": record["recipe"]["data"]["tokenizer_corpus_seed"],
        },
        "wall_seconds": record["wall_seconds"],
        "threads": record["threads"],
        "final_loss": record["final_loss"],
        "recipe_hash": record["recipe_hash"],
    }
    if load:
        from mllmbench.adapters.registry import load_adapter_class

        adapter = load_adapter_class(spec.adapter)(f"zoo:{spec.name}")
        adapter.load()
        try:
            entry["parameters"] = dict(adapter.info.parameters)
            entry["visual_tokens_per_image"] = adapter.info.visual_tokens_per_image
        finally:
            adapter.close()
    return entry


def entries(*, load: bool = True) -> list[dict[str, Any]]:
    """`member_entry` of every member, in `MEMBERS` order."""
    return [member_entry(spec, load=load) for spec in MEMBERS.values()]
