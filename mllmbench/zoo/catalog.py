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
        "adapter": spec.adapter or None,
        "model": f"zoo:{spec.name}" if spec.adapter else None,
        "aliases": [f"zoo:{alias}" for alias in spec.aliases],
        "sampling": dict(spec.sampling),
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
        "cpu_seconds": record.get("cpu_seconds"),
        "threads": record["threads"],
        "final_loss": record["final_loss"],
        "recipe_hash": record["recipe_hash"],
    }
    if load and spec.kind == "tokenizer":
        entry["parameters"], entry["visual_tokens_per_image"] = tokenizer_size(spec, directory)
    elif load:
        from mllmbench.adapters.registry import load_adapter_class

        adapter = load_adapter_class(spec.adapter)(f"zoo:{spec.name}")
        adapter.load()
        try:
            entry["parameters"] = dict(adapter.info.parameters)
            entry["visual_tokens_per_image"] = adapter.info.visual_tokens_per_image
        finally:
            adapter.close()
    return entry


def tokenizer_size(spec: Member, directory: Path) -> tuple[dict[str, int], int]:
    """Parameters (all ``vision``) and positions per image (codes, or latent positions) of a
    tokenizer member, loaded with its own class (`Member.packaging`'s ``load_model``)."""
    model = spec.packaging.load_model(directory)  # type: ignore[union-attr]
    total = sum(p.numel() for p in model.parameters())
    return {"vision": total, "connector": 0, "llm": 0, "total": total}, spec.packaging.positions  # type: ignore[union-attr]


def entries(*, load: bool = True) -> list[dict[str, Any]]:
    """`member_entry` of every member, in `MEMBERS` order."""
    return [member_entry(spec, load=load) for spec in MEMBERS.values()]


def catalog_table(rows: list[dict[str, Any]]) -> str:
    """`entries` as the plain-text table of ``zoo list`` (one table layout: `core.text_table`)."""
    from mllmbench.core.formatting import bytes_, count, seconds, significant
    from mllmbench.core.text_table import text_table

    header = (
        "name",
        "kind",
        "adapter",
        "connector",
        "generation",
        "params",
        "visual tokens",
        "steps",
        "train time",
        "CPU time",
        "loss",
        "size",
    )
    table = []
    for row in rows:
        recipe = row["recipe"] or {}
        params = (row["parameters"] or {}).get("total")
        size = row["checkpoint_bytes"]
        table.append(
            (
                row["name"],
                row["kind"],
                row["adapter"] or "-",
                row["connector"],
                row["generation"],
                count(params) if params else "-",
                count(row["visual_tokens_per_image"]) if row["visual_tokens_per_image"] is not None else "-",
                recipe.get("steps", "-"),
                seconds(recipe["wall_seconds"]) if "wall_seconds" in recipe else "-",
                seconds(recipe["cpu_seconds"]) if recipe.get("cpu_seconds") is not None else "-",
                significant(recipe["final_loss"]) if "final_loss" in recipe else "-",
                bytes_(size) if size else "not shipped",
            )
        )
    return text_table(header, table, right=(5, 6, 7, 8, 9, 10, 11))
