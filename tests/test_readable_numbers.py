"""Numbers people can read, end to end: a real run of the tiny random LLaVA (whose caption
metrics are tiny, e.g. BLEU-2 around 1e-11) prints and reports no scientific notation, and the
report labels runs shortly (``llava · <model>``), not ``adapter:model-hash`` repeated."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from mllmbench.cli.main import main
from mllmbench.reports.html import write_report

SCIENTIFIC = re.compile(r"\b\d+(?:\.\d+)?[eE][+-]\d+\b")
"""How Python writes a float in scientific notation (``5.655e-17``, ``1e+20``); hex digests do not match."""


def _visible_text(html: str) -> str:
    """The report's text: no data URIs (base64 may contain ``4e1``), scripts, styles or tags."""
    html = re.sub(r"data:[^\"']+", "", html)
    html = re.sub(r"<(script|style)\b.*?</\1>", "", html, flags=re.DOTALL)
    return re.sub(r"<[^>]+>", " ", html)


@pytest.fixture(scope="module")
def caption_run(tmp_path_factory: pytest.TempPathFactory, tiny_llava: Path, shapes_dir: Path) -> Path:
    out = tmp_path_factory.mktemp("readable") / "run"
    argv = ["run", "--no-progress", "--no-report", "--model", str(tiny_llava), "--suite", "vqa,caption"]
    assert main([*argv, "--limit", "3", "--max-new-tokens", "4", "--out", str(out)]) == 0
    return out


def test_summary_and_report_have_no_scientific_notation(
    caption_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_json = json.loads((caption_run / "run.json").read_text(encoding="utf-8"))
    raw = [mv["value"] for res in run_json["suites"].values() for mv in res["metrics"].values()]
    assert raw, "the run recorded metrics"
    capsys.readouterr()
    assert main(["rescore", str(caption_run)]) in (0, 1)
    summary = capsys.readouterr().out
    assert "vqa_accuracy" in summary and "%" in summary and not SCIENTIFIC.search(summary)
    html = write_report([caption_run], tmp_path / "report.html").read_text(encoding="utf-8")
    text = _visible_text(html)
    assert "CIDEr" in text and not SCIENTIFIC.search(text), SCIENTIFIC.findall(text)[:5]
    assert "llava · tiny-llava" in text and "llava:llava" not in text  # the old adapter:model label


def test_two_runs_of_one_checkpoint_get_distinct_short_labels(caption_run: Path, tmp_path: Path) -> None:
    from mllmbench.reports.frame import read_run
    from mllmbench.reports.html import report_labels

    run = read_run(caption_run)
    other = {**run, "run_id": "ffffff" + str(run.get("run_id", ""))[6:]}
    labels = report_labels([run, other])
    assert len(set(labels)) == 2 and all(label.startswith("llava · ") for label in labels)
    assert report_labels([run]) == [labels[0].rsplit(" · ", 1)[0]]
