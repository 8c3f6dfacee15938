"""Quality against cost across generation paradigms, on real runs of tiny checkpoints.

Four real runs (`mllm-bench run`, built-in Shapes, 2 prompts, no FID extractor): amused on t2i
(masked_tokens), glm_image on t2i at 32x32 (llm_tokens_diffusion_decoder), janus and emu3 on vqa
and t2i (autoregressive_vq, unified). Every number the
tests expect is recomputed from the runs' own samples.jsonl and run.json. One test copies a real
run and edits the one field concerned (its device name), and says so.
"""

from __future__ import annotations

import json
import math
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from mllmbench.cli.main import main
from mllmbench.reports.leaderboard import build_index, load_data, run_entries
from mllmbench.reports.leaderboard_gallery import build_gallery_page
from mllmbench.reports.leaderboard_generation import GENERATION_COLOURS, IMAGES_PER_S, SEQUENTIAL_CALLS
from mllmbench.reports.leaderboard_model import IndexView, SuiteTable
from mllmbench.reports.leaderboard_site import ImageStore, render_site

SVG = "{http://www.w3.org/2000/svg}"
RUNS = {
    "amused": ("t2i",),
    "glm_image": ("t2i", "--image-size", "32"),
    "janus": ("vqa,t2i",),
    "emu3": ("vqa,t2i",),
}
PARADIGMS = {"masked_tokens", "llm_tokens_diffusion_decoder", "autoregressive_vq"}


def build_generation_runs(base: Path) -> dict[str, Path]:
    """One real run per adapter of `RUNS` under `base` (built once per session)."""
    runs = {name: base / name for name in RUNS}
    if (base / "built").exists():
        return runs
    for name, (suites, *extra) in RUNS.items():
        args = ["-q", "run", "--no-progress", "--no-report", "--adapter", name, "--suite", suites, *extra]
        args += ["--limit", "2", "--fid-extractor", "none", "--out", str(runs[name])]
        assert main(args) == 0, name
    (base / "built").touch()
    return runs


@pytest.fixture(scope="session")
def gen_runs(tmp_path_factory: pytest.TempPathFactory, shapes_dir: Path) -> dict[str, Path]:
    return build_generation_runs(tmp_path_factory.getbasetemp() / "generation-runs")


def _records(run_dir: Path, suite: str) -> list[dict[str, Any]]:
    lines = (run_dir / "samples.jsonl").read_text().splitlines()
    return [r for r in (json.loads(x) for x in lines if x.strip()) if r["suite"] == suite]


def _table(index: IndexView, suite: str) -> SuiteTable:
    (table,) = [t for s in index.sections for t in s.tables if t.suite == suite]
    return table


def _points(svg: str) -> dict[str, tuple[float, float]]:
    root = ET.fromstring(svg)
    return {
        c.get("data-label", ""): (float(c.get("cx", "nan")), float(c.get("cy", "nan")))
        for c in root.iter(f"{SVG}circle")
        if c.get("class") == "point"
    }


def test_quality_against_cost_from_the_records(gen_runs: dict[str, Path]) -> None:
    data = load_data(list(gen_runs.values()))
    entries = {e.adapter: e for e in run_entries(data)}
    index = build_index(data)
    t2i = _table(index, "t2i")
    assert t2i.primary_metric == "shapes_eval" and t2i.columns[0].name == "shapes_eval"
    run_json = {name: json.loads((d / "run.json").read_text()) for name, d in gen_runs.items()}
    quality = {
        name: run["suites"]["t2i"]["metrics"]["shapes_eval"]["value"] for name, run in run_json.items()
    }
    ranked = sorted(quality.values(), reverse=True)
    assert [float(r.cells[0].sort) for r in t2i.rows] == ranked  # ranked by quality, not by speed
    assert t2i.tradeoff is not None and t2i.tradeoff.quality_metric == "shapes_eval"
    cols = [c.name for c in t2i.tradeoff.cost_columns]
    rows = {r.run.adapter: r for r in t2i.tradeoff.rows}
    assert set(rows) == set(RUNS)
    expected_x: dict[str, dict[str, float]] = {IMAGES_PER_S: {}, SEQUENTIAL_CALLS: {}}
    for name, run_dir in gen_runs.items():
        recs = _records(run_dir, "t2i")
        assert len(recs) == 2 and all(r["error"] is None for r in recs)
        seconds = math.fsum(r["timing"]["call_seconds"] / r["timing"]["call_requests"] for r in recs)
        ips = sum(len(r["generated_images"]) for r in recs) / seconds
        calls = sum(r["generation"]["sequential_calls"] for r in recs) / len(recs)
        nfe = sum(r["generation"]["nfe"] for r in recs) / len(recs)
        steps = sum(r["generation"]["steps"] for r in recs) / len(recs)
        cells = dict(zip(cols, rows[name].cost, strict=True))
        assert float(cells[IMAGES_PER_S].sort) == pytest.approx(ips, rel=1e-12)
        # The same rule as the suite's own images_per_second and sequential_calls in run.json.
        metrics = run_json[name]["suites"]["t2i"]["metrics"]
        assert float(cells[IMAGES_PER_S].sort) == pytest.approx(
            metrics["images_per_second"]["value"], rel=1e-9
        )
        assert float(cells[SEQUENTIAL_CALLS].sort) == calls == metrics["sequential_calls"]["value"]
        assert float(cells["NFE/image"].sort) == nfe and float(cells["steps"].sort) == steps
        assert cells["seeds"].text == "2 of 2 images"
        assert float(rows[name].quality.sort) == quality[name]
        assert rows[name].run.generation == run_json[name]["adapter"]["paradigm"]["generation"]
        expected_x[IMAGES_PER_S][name] = ips
        expected_x[SEQUENTIAL_CALLS][name] = calls
    assert {rows[n].run.generation for n in RUNS} == PARADIGMS
    # Two figures, every run a point labelled with its generation paradigm, placed by its numbers.
    assert [p.title.split(" against ")[1].split(" on ")[0].split(" (")[0] for p in t2i.plots] == [
        IMAGES_PER_S,
        SEQUENTIAL_CALLS,
    ]
    for plot, axis in zip(t2i.plots, (IMAGES_PER_S, SEQUENTIAL_CALLS), strict=True):
        assert plot.svg is not None and plot.left_out == ()
        points = _points(plot.svg)
        for name in RUNS:
            e = entries[name]
            assert f"{e.tag} {e.generation}" in dict(plot.points)
            assert f"{e.label} [{e.generation}]" in points
        xs = {n: points[f"{entries[n].label} [{entries[n].generation}]"][0] for n in RUNS}
        assert sorted(xs, key=xs.__getitem__) == sorted(RUNS, key=expected_x[axis].__getitem__)
        ys = {n: points[f"{entries[n].label} [{entries[n].generation}]"][1] for n in RUNS}
        for a in RUNS:  # SVG y grows downwards: higher quality, smaller y
            for b in RUNS:
                assert (quality[a] > quality[b]) == (ys[a] < ys[b])
        legend = {t.text for t in ET.fromstring(plot.svg).iter(f"{SVG}text")}
        assert legend >= PARADIGMS
        fills = {
            c.get("fill") for c in ET.fromstring(plot.svg).iter(f"{SVG}circle") if c.get("class") == "point"
        }
        assert fills == {GENERATION_COLOURS[p] for p in PARADIGMS}


def test_unified_models_in_both_tables_of_one_run(gen_runs: dict[str, Path]) -> None:
    data = load_data(list(gen_runs.values()))
    index = build_index(data)
    sections = {s.name: s for s in index.sections}
    vqa = [t for t in sections["Understanding"].tables if t.suite == "vqa"][0]
    t2i = [t for t in sections["Generation"].tables if t.suite == "t2i"][0]
    for name in ("janus", "emu3"):
        run_dir = str(gen_runs[name].resolve())
        assert [r.run.unified for r in vqa.rows if r.run.run_dir == run_dir] == [True]
        assert [r.run.unified for r in t2i.rows if r.run.run_dir == run_dir] == [True]
        assert t2i.tradeoff is not None and any(r.run.run_dir == run_dir for r in t2i.tradeoff.rows)
    amused = str(gen_runs["amused"].resolve())
    assert not any(r.run.run_dir == amused for r in vqa.rows)
    assert [r.run.unified for r in t2i.rows if r.run.run_dir == amused] == [False]
    assert vqa.tradeoff is None and vqa.primary_metric == "vqa_accuracy"


def test_speed_of_another_device_is_left_out_but_calls_are_not(
    gen_runs: dict[str, Path], tmp_path: Path
) -> None:
    # A copy of the real amused run whose run.json names another device (the one edited field).
    copy = tmp_path / "amused-gpu"
    shutil.copytree(gen_runs["amused"], copy)
    run = json.loads((copy / "run.json").read_text())
    run["provenance"]["device_name"] = "cuda:NVIDIA H100"
    (copy / "run.json").write_text(json.dumps(run, indent=2))
    data = load_data([*gen_runs.values(), copy])
    t2i = _table(build_index(data), "t2i")
    assert t2i.tradeoff is not None
    cols = [c.name for c in t2i.tradeoff.cost_columns]
    (row,) = [r for r in t2i.tradeoff.rows if r.run.run_dir == str(copy.resolve())]
    cells = dict(zip(cols, row.cost, strict=True))
    assert cells[IMAGES_PER_S].text == "other device" and cells[IMAGES_PER_S].sort == ""
    assert cells[SEQUENTIAL_CALLS].text == "12"  # a count: shown whatever the device
    ips_plot, calls_plot = t2i.plots
    assert ips_plot.svg is not None and calls_plot.svg is not None
    assert any("measured on cuda:NVIDIA H100" in x for x in ips_plot.left_out)
    assert len(_points(ips_plot.svg)) == len(RUNS) and len(_points(calls_plot.svg)) == len(RUNS) + 1


def test_gallery_shows_the_same_prompts_side_by_side_with_costs(gen_runs: dict[str, Path]) -> None:
    data = load_data(list(gen_runs.values()))
    entries = run_entries(data)
    view = build_gallery_page(data, entries, ImageStore())
    (suite,) = view.suites
    assert suite.suite == "t2i" and [r.adapter for r in suite.runs] == [e.adapter for e in entries]
    assert suite.colours == tuple(GENERATION_COLOURS[e.generation] for e in entries)
    assert [row.sample_id for row in suite.rows] == ["1", "2"]
    for row in suite.rows:
        seeds = set()
        for cell in row.cells:
            (rec,) = [r for r in _records(Path(cell.run.run_dir), "t2i") if r["sample_id"] == row.sample_id]
            gen = rec["generation"]
            assert (
                cell.cost
                == f"seed {rec['seed']} · {gen['sequential_calls']} sequential calls · {gen['nfe']} NFE"
            )
            assert len(cell.images) == 1 and cell.missing == ()
            seeds.add(rec["seed"])
        assert len(seeds) == 1  # the same prompt is drawn with the same seed by every run


def test_site_pages_hold_the_tradeoff(gen_runs: dict[str, Path]) -> None:
    files = render_site(list(gen_runs.values()), iterations=50)
    index = files["index.html"].decode()
    assert 'id="tradeoff-tbl-t2i-1"' in index
    assert 'id="plot-t2i-1-ips"' in index and 'id="plot-t2i-1-calls"' in index
    assert "Quality against cost across generation paradigms" in index
    gallery = files["gallery.html"].decode()
    assert gallery.count("autoregressive_vq") >= 2 and "masked_tokens" in gallery
    assert "llm_tokens_diffusion_decoder" in gallery
    assert "sequential calls" in gallery
