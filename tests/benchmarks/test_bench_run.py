"""`mllm-bench run` on tiny local copies of VQAv2 (both layouts) and COCO Karpathy, and `list suites`."""

from __future__ import annotations

import json
from pathlib import Path

import benchmark_layouts as bl
import pytest

from mllmbench.cli.main import main

SUITES = (
    "vqav2",
    "textvqa",
    "vizwiz",
    "gqa",
    "okvqa",
    "coco_karpathy",
    "nocaps",
    "flickr30k",
    "coco_t2i",
)


def _run(tiny_llava: Path, suite: str, data: Path, out: Path, limit: int) -> dict:
    code = main(
        [
            "run",
            "--no-progress",
            "--no-report",
            "--adapter",
            "llava",
            "--model",
            str(tiny_llava),
            "--suite",
            suite,
            "--data",
            str(data),
            "--limit",
            str(limit),
            "--batch-size",
            "2",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    return json.loads((out / "run.json").read_text())


@pytest.mark.slow
@pytest.mark.parametrize("layout", ["official", "hf_parquet"])
def test_run_vqav2(tmp_path: Path, tiny_llava: Path, layout: str) -> None:
    data = (
        bl.vqav2_official(tmp_path / "data") if layout == "official" else bl.vqav2_parquet(tmp_path / "data")
    )
    run = _run(tiny_llava, "vqav2", data, tmp_path / "run", limit=3)
    res = run["suites"]["vqav2"]
    assert res["n_samples"] == 3 and res["n_done"] == 3 and res["n_errors"] == 0
    assert res["version"] == "1" and res["scoring"]["layout"] == layout
    assert res["dataset"]["fingerprint"] and 0.0 <= res["metrics"]["vqa_accuracy"]["value"] <= 100.0
    lines = [json.loads(x) for x in (tmp_path / "run" / "samples.jsonl").read_text().splitlines()]
    assert [r["sample_id"] for r in lines] == ["4200", "4201", "4300"]
    assert all(r["error"] is None and "Answer the question using a single word" in r["prompt"] for r in lines)
    assert not (tmp_path / "run" / "report.html").exists()


@pytest.mark.slow
def test_run_coco_karpathy(tmp_path: Path, tiny_llava: Path) -> None:
    data = bl.karpathy_coco(tmp_path / "data")
    run = _run(tiny_llava, "coco_karpathy", data, tmp_path / "run", limit=2)
    res = run["suites"]["coco_karpathy"]
    assert res["n_done"] == 2 and res["n_errors"] == 0
    assert {"Bleu_4", "METEOR", "ROUGE_L", "CIDEr"} <= res["metrics"].keys()
    assert res["scoring"]["prompt"] == "Describe the image briefly."


def test_run_without_data_names_the_files(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", "--no-progress", "--no-report", "--suite", "vqav2"])
    assert code == 2
    err = capsys.readouterr().err
    assert "--data" in err and "v2_mscoco_val2014_annotations.json" in err and "visualqa.org" in err


def test_list_suites_shows_every_benchmark(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "suites"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line for line in out.splitlines()[2:] if line.strip()}
    for name in SUITES:
        assert name in rows, name
        assert "unavailable" not in rows[name]
    assert "v2_OpenEnded_mscoco_val2014_questions.json" in rows["vqav2"] and "lmms-lab/VQAv2" in rows["vqav2"]
    assert "generate" in rows["coco_t2i"] and "fid,clip_score" in rows["coco_t2i"]
    assert "exact_match" in rows["gqa"]
