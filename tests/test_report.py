"""The HTML report and the DataFrame loaders, on real runs of the tiny LLaVA."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from mllmbench.cli.main import main
from mllmbench.reports import load_metrics, load_samples


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory, tiny_llava: Path, shapes_dir: Path) -> list[Path]:
    root = tmp_path_factory.mktemp("runs")
    runs = []
    for tokens in ("4", "8"):
        out = root / f"tok{tokens}"
        code = main(
            [
                "run",
                "--no-progress",
                "--no-report",
                "--model",
                str(tiny_llava),
                "--suite",
                "vqa",
                "--limit",
                "6",
                "--max-new-tokens",
                tokens,
                "--out",
                str(out),
            ]
        )
        assert code == 0
        runs.append(out)
    return runs


def test_dataframes_load_with_one_call(two_runs: list[Path]) -> None:
    samples = load_samples(two_runs[0].parent)
    assert len(samples) == 12
    for col in (
        "run_id",
        "adapter",
        "family",
        "connector",
        "suite",
        "sample_id",
        "answer",
        "score.vqa_accuracy",
        "tokens.output",
        "timing.seconds_per_sample",
        "meta.answer_type",
        "timing.ttft_seconds",
        "memory.weights_bytes",
    ):
        assert col in samples.columns, col
    # accuracy-per-cost is a query on the same rows
    assert (samples["timing.ttft_seconds"] > 0).all() and (samples["memory.weights_bytes"] > 0).all()
    assert set(samples["connector"]) == {"mlp"}
    assert samples.groupby("run_id")["tokens.output"].max().max() <= 8
    metrics = load_metrics(two_runs)
    row = metrics[(metrics.metric == "vqa_accuracy")]
    assert len(row) == 2 and set(row["n"]) == {6}
    # the DataFrame agrees with the per-sample log
    per_run = samples.groupby("run_id")["score.vqa_accuracy"].mean() * 100
    for _, r in row.iterrows():
        assert r["value"] == pytest.approx(per_run[r["run_id"]])


def test_report_is_self_contained_and_escapes_model_output(two_runs: list[Path], tmp_path: Path) -> None:
    evil = tmp_path / "evil"
    shutil.copytree(two_runs[0], evil)
    lines = [json.loads(x) for x in (evil / "samples.jsonl").read_text().splitlines()]
    lines[0]["output"] = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    (evil / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    out = tmp_path / "report.html"
    assert main(["report", str(evil), str(two_runs[1]), "-o", str(out)]) == 0
    html = out.read_text()
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(" in html
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html), "report must not load anything remote"
    assert html.count("data:image/png;base64,") >= 6
    assert "vqa_accuracy" in html and "mlp" in html


def test_report_on_missing_dir_is_a_clear_error(tmp_path: Path, capsys) -> None:
    assert main(["report", str(tmp_path / "none"), "-o", str(tmp_path / "r.html")]) == 2
    assert "not a run directory" in capsys.readouterr().err


def test_efficiency_figures_from_different_devices_are_not_ranked(
    two_runs: list[Path], tmp_path: Path
) -> None:
    from mllmbench.reports.html import build_view

    copies = []
    for i, run in enumerate(two_runs):
        dst = tmp_path / f"r{i}"
        shutil.copytree(run, dst)
        run_json = json.loads((dst / "run.json").read_text())
        for mv in run_json["suites"]["vqa"]["metrics"].values():
            mv["context"] = {"device_name": f"GPU-{i}", "dtype": "float32", "batch_size": 8}
        (dst / "run.json").write_text(json.dumps(run_json))
        copies.append(dst)
    rows = {r.metric: r for r in build_view(copies).metric_rows}
    assert rows["vqa_accuracy"].best is None
    assert "GPU-0" in rows["vqa_accuracy"].cells[0]
    same = {r.metric: r for r in build_view(two_runs).metric_rows}
    assert same["vqa_accuracy"].best is not None
