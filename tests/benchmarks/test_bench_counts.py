"""Failed and unparsed samples of a benchmark run are counted in run.json, the HTML report and the
leaderboard; a run on MMBench's test split saves the submission file and scores nothing."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from test_judge import _mmbench

from mllmbench.cli.main import main
from mllmbench.core import registry


@pytest.fixture(scope="module")
def tiny_text_llm(tiny_checkpoint: Callable[[str], Path]) -> Path:
    return tiny_checkpoint("text_llm")


def _make_failing() -> type:
    from mllmbench.adapters.text_llm import TextLLMAdapter

    class FailingTextLLM(TextLLMAdapter):
        """The text LLM, raising for the sample ids listed in a marker file (a real failure)."""

        name = "failing_text_llm"

        def understand(self, batch, settings):  # type: ignore[no-untyped-def]
            bad = Path(os.environ["MLLMBENCH_TEST_FAIL_MARKER"]).read_text().split()
            if any(r.sample_id in bad for r in batch):
                raise RuntimeError("simulated failure")
            return super().understand(batch, settings)

    return FailingTextLLM


FailingTextLLM = _make_failing()


def test_failed_and_unparsed_are_counted_everywhere(
    tmp_path: Path, tiny_text_llm: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _mmbench(tmp_path / "data")
    marker = tmp_path / "fail"
    marker.write_text("1000001")
    monkeypatch.setenv("MLLMBENCH_TEST_FAIL_MARKER", str(marker))
    registry.register(registry.ADAPTER_GROUP, "failing_text_llm", f"{__name__}:FailingTextLLM")
    out = tmp_path / "run"
    try:
        code = main(["run", "--no-progress", "--adapter", "failing_text_llm", "--model", str(tiny_text_llm),
                     "--suite", "mmbench", "--data", str(data), "--batch-size", "1", "--max-new-tokens", "4",
                     "--out", str(out)])  # fmt: skip
    finally:
        registry.unregister(registry.ADAPTER_GROUP, "failing_text_llm")
    assert code == 1  # a failed sample
    res = json.loads((out / "run.json").read_text())["suites"]["mmbench"]
    assert res["n_samples"] == 9 and res["n_errors"] == 1 and res["n_done"] == 8
    unparsed = res["n_unparsed"]
    assert unparsed == res["metrics"]["unparsed"]["value"] and res["metrics"]["unparsed"]["n"] == 8
    html = (out / "report.html").read_text()
    assert f"<td>8 of 9 scored, 1 failed, {unparsed} unparsed</td>" in html
    site = tmp_path / "site"
    assert main(["-q", "leaderboard", str(out), "-o", str(site)]) == 0
    index = (site / "index.html").read_text()
    assert "unparsed" in index
    row = re.search(r'<td data-sort="1">1</td>\s*<td data-sort="(\d+)">', index)
    assert row is not None and int(row.group(1)) == unparsed
    pages = "".join(p.read_text() for p in site.rglob("*.html"))
    assert f"1 failed, {unparsed} unparsed" in pages


def test_run_on_mmbench_test_split_saves_the_submission(tmp_path: Path, tiny_text_llm: Path) -> None:
    data = _mmbench(tmp_path / "data")
    table = pd.read_csv(data / "MMBench_DEV_EN.tsv", sep="\t").drop(columns=["answer"])
    table.to_csv(data / "MMBench_TEST_EN.tsv", sep="\t", index=False)
    out = tmp_path / "run"
    code = main(["run", "--no-progress", "--no-report", "--adapter", "text_llm", "--model", str(tiny_text_llm),
                 "--suite", "mmbench", "--data", str(data / "MMBench_TEST_EN.tsv"), "--max-new-tokens", "4",
                 "--out", str(out)])  # fmt: skip
    assert code == 0
    res = json.loads((out / "run.json").read_text())["suites"]["mmbench"]
    assert "circular_accuracy" not in res["metrics"] and "not scored" in res["notes"]["circular_accuracy"]
    sub = pd.read_excel(out / res["scoring"]["submission"])
    outputs = {
        json.loads(x)["sample_id"]: json.loads(x)["output"]
        for x in (out / "samples.jsonl").read_text().splitlines()
    }
    assert [str(i) for i in sub["index"]] == list(outputs)
    assert list(sub["prediction"].fillna("")) == [outputs[str(i)] or "" for i in sub["index"]]
