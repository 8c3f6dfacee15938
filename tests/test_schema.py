"""Schemas of samples.jsonl and run.json: field names and types, newer versions refused, v1 migrated."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mllmbench.cli.main import main
from mllmbench.core import samplelog
from mllmbench.core.errors import InputError
from mllmbench.core.records import SCHEMA_VERSION
from mllmbench.core.results import RunResult, load_run_json
from mllmbench.reports import load_metrics, load_samples

SAMPLE_TYPES: dict[str, tuple[type, ...]] = {
    "sample_id": (str,),
    "suite": (str,),
    "image": (str, list, type(None)),
    "prompt": (str, type(None)),
    "output": (str, type(None)),
    "answer": (str, type(None)),
    "references": (list,),
    "scores": (dict,),
    "timing": (dict,),
    "tokens": (dict,),
    "error": (str, type(None)),
    "text": (str,),
    "meta": (dict,),
    "memory": (dict,),
    "generated_images": (list, type(None)),
    "schema_version": (int,),
}
SUITE_TYPES: dict[str, tuple[type, ...]] = {
    "version": (str,),
    "requires": (str,),
    "dataset": (dict,),
    "n_samples": (int,),
    "n_done": (int,),
    "n_errors": (int,),
    "n_unparsed": (int,),
    "metrics": (dict,),
    "metric_versions": (dict,),
    "scoring": (dict,),
    "notes": (dict,),
    "timing": (dict,),
}
METRIC_TYPES = {
    "value": (float, int),
    "n": (int,),
    "stderr": (float, type(None)),
    "ci_low": (float, int, type(None)),
    "ci_high": (float, int, type(None)),
}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory, tiny_llava: Path, shapes_dir: Path) -> Path:
    out = tmp_path_factory.mktemp("schema") / "run"
    args = ["run", "--no-progress", "--no-report", "--model", str(tiny_llava), "--suite", "vqa,caption"]
    assert main([*args, "--limit", "4", "--out", str(out)]) == 0
    return out


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_sample_lines_have_the_schema_fields_and_types(run_dir: Path) -> None:
    lines = _lines(run_dir / "samples.jsonl")
    assert len(lines) == 8
    for rec in lines:
        assert set(rec) == set(SAMPLE_TYPES), set(rec) ^ set(SAMPLE_TYPES)
        for name, types in SAMPLE_TYPES.items():
            assert isinstance(rec[name], types), (name, rec[name])
        assert rec["schema_version"] == SCHEMA_VERSION and "task" not in rec
        assert rec["generated_images"] is None and isinstance(rec["answer"], str)
    for rec in _lines(run_dir / "sample_scores.jsonl"):
        assert set(rec) == {"suite", "sample_id", "scores", "schema_version"}


def test_run_json_has_the_schema_fields_and_types(run_dir: Path) -> None:
    run = json.loads((run_dir / "run.json").read_text())
    assert run["schema_version"] == SCHEMA_VERSION == 2
    for key in ("run_id", "status", "started_at", "finished_at"):
        assert isinstance(run[key], str)
    for key in ("config", "generation", "image_generation", "adapter", "provenance", "suites"):
        assert isinstance(run[key], dict)
    assert isinstance(run["load_seconds"], float)
    for res in run["suites"].values():
        assert set(res) == set(SUITE_TYPES)
        for name, types in SUITE_TYPES.items():
            assert isinstance(res[name], types), name
        for mv in res["metrics"].values():
            for name, types in METRIC_TYPES.items():
                assert isinstance(mv[name], types), name
    typed = load_run_json(run_dir)
    assert typed.to_dict() == run  # the file is exactly what the typed result writes
    assert (
        typed.suites["vqa"].metrics["vqa_accuracy"].value
        == run["suites"]["vqa"]["metrics"]["vqa_accuracy"]["value"]
    )


def test_a_newer_run_json_is_refused_naming_file_and_versions(run_dir: Path, tmp_path: Path) -> None:
    run = json.loads((run_dir / "run.json").read_text())
    path = tmp_path / "run.json"
    path.write_text(json.dumps({**run, "schema_version": SCHEMA_VERSION + 1}))
    with pytest.raises(InputError) as err:
        load_run_json(path)
    msg = str(err.value)
    assert str(path) in msg and f"schema_version {SCHEMA_VERSION + 1}" in msg and str(SCHEMA_VERSION) in msg


def test_a_newer_sample_line_is_refused(tmp_path: Path) -> None:
    line = {"sample_id": "1", "suite": "vqa", "schema_version": SCHEMA_VERSION + 1}
    (tmp_path / "samples.jsonl").write_text(json.dumps(line) + "\n")
    with pytest.raises(InputError, match="samples.jsonl"):
        samplelog.read_records(tmp_path)


def _v1_copy(run_dir: Path, out: Path) -> Path:
    """`run_dir` rewritten as schema 1 wrote it: ``task`` lines, no ``n_unparsed``, version 1."""
    out.mkdir()
    run = json.loads((run_dir / "run.json").read_text())
    run["schema_version"] = 1
    for res in run["suites"].values():
        del res["n_unparsed"]
    (out / "run.json").write_text(json.dumps(run))
    for name in ("samples.jsonl", "sample_scores.jsonl"):
        lines = []
        for rec in _lines(run_dir / name):
            rec["task"] = rec.pop("suite")
            rec.pop("generated_images", None)
            rec["schema_version"] = 1
            lines.append(json.dumps(rec))
        (out / name).write_text("\n".join(lines) + "\n")
    return out


def test_v1_run_and_samples_load_through_the_migration(run_dir: Path, tmp_path: Path) -> None:
    old = _v1_copy(run_dir, tmp_path / "v1")
    typed = load_run_json(old)
    assert isinstance(typed, RunResult) and typed.schema_version == 2
    assert typed.suites["vqa"].n_unparsed == 0
    assert typed.suites == load_run_json(run_dir).suites
    records = samplelog.read_samples(old)
    assert records == samplelog.read_samples(run_dir)
    assert all(rec["suite"] in {"vqa", "caption"} and "task" not in rec for rec in records.values())
    # late CIDEr scores are merged into the caption samples by the one reader
    assert all("CIDEr" in r["scores"] for (suite, _), r in records.items() if suite == "caption")
    assert load_metrics(old)["value"].tolist() == load_metrics(run_dir)["value"].tolist()
    assert set(load_samples(old)["suite"]) == {"vqa", "caption"}


def test_v1_generation_line_moves_the_image_out_of_answer(tmp_path: Path) -> None:
    line = {
        "sample_id": "1",
        "task": "t2i",
        "answer": "images/t2i/1_0.png",
        "generated_images": ["images/t2i/1_0.png"],
        "error": None,
        "schema_version": 1,
    }
    (tmp_path / "samples.jsonl").write_text(json.dumps(line) + "\n")
    rec = samplelog.read_records(tmp_path)[("t2i", "1")]
    assert (
        rec["answer"] is None and rec["generated_images"] == ["images/t2i/1_0.png"] and rec["suite"] == "t2i"
    )
