"""`mllm-bench zoo`: the paradigm zoo (list the members, retrain one, compare them all).

* ``zoo list [--json]``: every member with its adapter, ``--model`` value, connector, parameters
  per component, visual tokens per image, recipe and checkpoint size;
* ``zoo train NAME|--all [--steps N] [--out DIR] [--captioner DIR] [--vq DIR] [--diffusion DIR]
  [--llm DIR]``: reproduce a member from its recipe (``expert`` packages a trained captioner: the
  shipped ``llava`` unless ``--captioner`` names another checkpoint; ``early_fusion`` builds on
  the VQ tokenizer ``vq``, the shipped one unless ``--vq`` names another, and so on for every
  member's tokenizer or autoencoder; ``diffusion_gpt`` names its drawer ``--diffusion``, ``seed``
  its LLM ``--llm``; with ``--all``, the ones trained in the same run);
* ``zoo report [--out DIR] [--suite vqa,caption,t2i]``: run every shipped member on the suites it
  can run (understanding suites for understanding and unified members, ``t2i`` for generating and
  unified ones), build the leaderboard site and print paired VQA tests against ``llava`` and
  ``blind``.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `zoo`."""
    sub = parser.add_subparsers(dest="zoo_command", metavar="ACTION", required=True)
    listing = sub.add_parser("list", help="list the members")
    listing.add_argument("--json", action="store_true", help="JSON instead of a table")
    train = sub.add_parser("train", help="train a member from its recipe")
    train.add_argument("name", nargs="?", help="member name (see `zoo list`)")
    train.add_argument("--all", action="store_true", help="train every member, one after another")
    train.add_argument("--steps", type=int, help="training steps (default: the recipe's)")
    train.add_argument("--out", type=Path, help="output folder (default: the cache's zoo/<name>)")
    train.add_argument("--threads", type=int, help="torch threads (the shipped recipes used 1)")
    train.add_argument(
        "--captioner",
        type=Path,
        metavar="DIR",
        help="captioner checkpoint the expert member packages (default: the shipped zoo llava)",
    )
    train.add_argument(
        "--vq",
        type=Path,
        metavar="DIR",
        help="tokenizer or autoencoder checkpoint a generating member builds on (early_fusion: vq, "
        "maskgit, show_o, var_vq: vqgan, var: var_vq, diffusion, transfusion, seed: vae; default: the "
        "shipped one)",
    )
    train.add_argument(
        "--llm",
        type=Path,
        metavar="DIR",
        help="token-emitting LLM the seed member's decoder renders (default: the shipped zoo early_fusion)",
    )
    train.add_argument(
        "--diffusion",
        type=Path,
        metavar="DIR",
        help="drawing pipeline the diffusion_gpt member's LLM writes for (default: the shipped zoo diffusion)",
    )
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    report = sub.add_parser("report", help="run every member and build the comparison leaderboard")
    report.add_argument("--out", type=Path, default=Path("zoo-report"), help="folder for runs and site")
    report.add_argument("--suite", default="vqa,caption", help="comma-separated suites (default vqa,caption)")
    report.add_argument("--data", help="data directory for every suite (default: the built-in Shapes set)")
    report.add_argument("--limit", type=int, help="at most N samples per suite")
    report.add_argument("--no-progress", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    """Dispatch to the zoo action."""
    if args.zoo_command == "list":
        return _list(args)
    if args.zoo_command == "train":
        return _train(args)
    return _report(args)


def _list(args: argparse.Namespace) -> int:
    from mllmbench.zoo.catalog import catalog_table, entries

    rows = entries()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(catalog_table(rows))
    return 0


def _train(args: argparse.Namespace) -> int:
    from mllmbench.core.errors import ConfigError
    from mllmbench.core.paths import cache_root
    from mllmbench.core.zoo_paths import zoo_checkpoints_dir
    from mllmbench.zoo.members import MEMBERS, member
    from mllmbench.zoo.train import train_member

    if args.all == bool(args.name):
        raise ConfigError("zoo train: give one member NAME or --all")
    if args.steps is not None and args.steps < 1:
        raise ConfigError("--steps must be at least 1")
    names = list(MEMBERS) if args.all else [member(args.name).name]
    given = {
        role: path
        for role, path in (
            ("captioner", args.captioner),
            ("vq", args.vq),
            ("diffusion", args.diffusion),
            ("llm", args.llm),
        )
        if path
    }
    trained: dict[str, Path] = {}
    for name in names:
        out = args.out / name if args.all and args.out else args.out or cache_root() / "zoo" / name
        parts = given
        if args.all:  # a member's parts: the directory given, else the one trained in this run
            wanted = member(name).packaging.parts
            parts = {role: given.get(role) or trained.get(source) for role, source in wanted.items()}
            parts = {role: path for role, path in parts.items() if path is not None}
        result = train_member(
            name,
            out,
            steps=args.steps,
            threads=args.threads,
            progress=not args.no_progress,
            shipped_dir=zoo_checkpoints_dir() / name,
            parts=parts,
        )
        trained[name] = result.out_dir
        print(
            f"{name}: {result.steps} steps in {result.wall_seconds:.1f} s, loss {result.first_loss:.3f} -> "
            f"{result.final_loss:.3f}, recipe {result.recipe_hash[:19]}, written to {result.out_dir}"
        )
    return 0


def _report(args: argparse.Namespace) -> int:
    from mllmbench.core.errors import ConfigError
    from mllmbench.core.jsonio import write_json_atomic
    from mllmbench.core.zoo_paths import shipped_members
    from mllmbench.reports.leaderboard_site import write_site
    from mllmbench.zoo.members import MEMBERS
    from mllmbench.zoo.report import (
        format_generation_table,
        format_table,
        generation_table,
        member_suites,
        paired_table,
        run_member,
    )

    shipped = [name for name in MEMBERS if name in shipped_members() and MEMBERS[name].kind != "tokenizer"]
    if not shipped:
        raise ConfigError("no zoo member is installed (mllmbench/zoo/checkpoints is empty)")
    suites = [s.strip() for s in args.suite.split(",") if s.strip()]
    plan = {name: member_suites(MEMBERS[name], suites) for name in shipped}
    runs = {
        name: run_member(
            name,
            MEMBERS[name].adapter,
            args.out / "runs",
            own,
            args.data,
            args.limit,
            not args.no_progress,
            MEMBERS[name].sampling,
        )
        for name, own in plan.items()
        if own
    }
    site = write_site(list(runs.values()), args.out / "leaderboard")
    rows = paired_table(runs) if "vqa" in suites else []
    write_json_atomic(args.out / "paired.json", rows)
    if rows:
        print(format_table(rows))
    generation = generation_table(runs)
    if generation:
        write_json_atomic(args.out / "generation.json", generation)
        print(format_generation_table(generation))
    print(f"leaderboard: {site.index}")
    return 0
