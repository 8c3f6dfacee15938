"""The leaderboard gallery page: generated images side by side per prompt across runs, per-tag bars last."""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
from PIL import Image

from mllmbench.reports.leaderboard_gallery import build_gallery_page, tag_bars_svg
from mllmbench.reports.leaderboard_model import LeaderboardData, RunEntry


def _entry(run_dir: str, tag: str) -> RunEntry:
    values = {}
    for f in dataclasses.fields(RunEntry):
        values[f.name] = () if "tuple" in str(f.type) else ""
    values.update(
        key=tag.lower(),
        tag=tag,
        run_dir=run_dir,
        dir_name=Path(run_dir).name,
        label=f"model {tag}",
        colour="#0072B2",
    )
    return RunEntry(**values)


class _Store:
    def __init__(self) -> None:
        self.files: dict[str, str] = {}

    def add(self, path: str, size: int) -> str | None:
        if not Path(path).is_file():
            return None
        return self.files.setdefault(path, f"img/{len(self.files)}.png")


def test_gallery_rows_per_prompt_across_runs_and_tag_bars(tmp_path: Path) -> None:
    runs = {}
    samples, extras = [], []
    for tag, correct in (("R1", 1.0), ("R2", 0.0)):
        run_dir = tmp_path / tag
        run_dir.mkdir()
        for sid in ("1", "2"):
            if tag == "R2" and sid == "2":
                continue  # R2 never drew prompt 2
            img = run_dir / f"{sid}.png"
            Image.new("RGB", (8, 8), "red").save(img)
            samples.append(
                {
                    "run_dir": str(run_dir),
                    "suite": "t2i",
                    "sample_id": sid,
                    "text": f"prompt {sid}",
                    "score.shapes_eval_correct": correct,
                }
            )
            extras.append(
                {"run_dir": str(run_dir), "suite": "t2i", "sample_id": sid, "generated_images": [str(img)]}
            )
        runs[str(run_dir)] = {
            "suites": {
                "t2i": {
                    "metrics": {
                        "fid": {"value": 3.0},
                        "shapes_eval": {"value": 50.0},
                        "shapes_eval/colors": {"value": 100.0 * correct},
                        "shapes_eval/counting": {"value": 25.0},
                    }
                }
            }
        }
    data = LeaderboardData(
        run_dirs=tuple(Path(r) for r in runs),
        runs=runs,
        metrics=pd.DataFrame(),
        samples=pd.DataFrame(samples),
        suites=pd.DataFrame(),
        extras=pd.DataFrame(extras),
    )
    entries = [_entry(str(tmp_path / "R1"), "R1"), _entry(str(tmp_path / "R2"), "R2")]
    view = build_gallery_page(data, entries, _Store())
    (suite,) = view.suites
    assert suite.suite == "t2i" and [r.tag for r in suite.runs] == ["R1", "R2"]
    assert [row.sample_id for row in suite.rows] == ["1", "2"]
    first, second = suite.rows
    assert first.text == "prompt 1" and [len(c.images) for c in first.cells] == [1, 1]
    assert [float(c.scores[0].text) for c in first.cells] == [1.0, 0.0]
    assert second.cells[1].images == () and second.cells[1].missing == ("no image for this prompt",)
    ((family, svg),) = suite.bars
    assert family == "shapes_eval"
    root = ET.fromstring(svg)
    widths = [float(r.get("width")) for r in root.iter("{http://www.w3.org/2000/svg}rect")]
    assert widths == [320.0, 0.0, 80.0, 80.0]  # colors: R1 100, R2 0; counting: 25 each (of 320 px)


def test_tag_bars_escape_labels() -> None:
    svg = tag_bars_svg("x<y", ["a&b"], [(_entry("/r", "R<1>"), {"a&b": 50.0})])
    ET.fromstring(svg)
    assert "x&lt;y" in svg and "a&amp;b" in svg
