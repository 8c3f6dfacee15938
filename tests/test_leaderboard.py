"""The static leaderboard site: view model, guards, plots, pages and files, on real runs of the tiny LLaVA.

The runs are real (`mllm-bench run` on the built-in Shapes data). Where a guard needs a situation
that one CPU machine cannot produce (another GPU, another suite version, an unfinished run,
generated images), a test copies a real run and edits the one field concerned, and says so.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import scipy.stats

from mllmbench.cli.main import main
from mllmbench.core.errors import InputError
from mllmbench.reports import svg_plots
from mllmbench.reports.leaderboard import build_index, load_data, run_entries, run_labels, sections_of
from mllmbench.reports.leaderboard_compare import build_compare_page, holm
from mllmbench.reports.leaderboard_frames import memory_mib
from mllmbench.reports.leaderboard_model import SuiteTable
from mllmbench.reports.leaderboard_runs import build_run_page, reference_counts
from mllmbench.reports.leaderboard_site import MARKER, ImageStore, render_site, write_site
from mllmbench.reports.leaderboard_tables import Comparable, best_index, competition_ranks

# ---------------------------------------------------------------------------------------------
# Real runs, built once per session (shared with test_leaderboard_browser.py).


def build_runs(base: Path, model: Path) -> dict[str, Path]:
    """Real runs under `base`: ``main/{a,b,c}`` rank together, ``guards/*`` must not."""
    runs = {
        "a": base / "main" / "a",
        "b": base / "main" / "b",
        "c": base / "main" / "c",
        "subset": base / "guards" / "subset",
        "otherdata": base / "guards" / "otherdata",
    }
    done = base / "built"
    if done.exists():
        return runs
    other_data = base / "shapes-seed7"
    assert main(["-q", "data", "shapes", "--out", str(other_data), "--images", "12", "--seed", "7"]) == 0
    common = ["-q", "run", "--no-progress", "--no-report", "--model", str(model)]
    args = {
        "a": ["--suite", "vqa,caption", "--limit", "8"],
        "b": ["--suite", "vqa,caption", "--limit", "8", "--max-new-tokens", "4", "--batch-size", "2"],
        "c": ["--suite", "vqa", "--limit", "8", "--seed", "3", "--batch-size", "4"],
        "subset": ["--suite", "vqa", "--limit", "4"],
        "otherdata": ["--suite", "vqa", "--limit", "8", "--data", str(other_data)],
    }
    for name, extra in args.items():
        assert main([*common, *extra, "--out", str(runs[name])]) == 0, name
    done.touch()
    return runs


@pytest.fixture(scope="session")
def real_runs(
    tmp_path_factory: pytest.TempPathFactory, tiny_llava: Path, shapes_dir: Path
) -> dict[str, Path]:
    return build_runs(tmp_path_factory.getbasetemp() / "leaderboard-runs", tiny_llava)


def edited_copy(src: Path, dst: Path, edit: Callable[[dict[str, Any]], None]) -> Path:
    """A copy of a real run with one edit to its run.json."""
    shutil.copytree(src, dst)
    run = json.loads((dst / "run.json").read_text())
    edit(run)
    (dst / "run.json").write_text(json.dumps(run, indent=2))
    return dst


def _samples(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in (run_dir / "samples.jsonl").read_text().splitlines() if x.strip()]


# ---------------------------------------------------------------------------------------------
# Pure pieces, no runs needed.


def test_pareto_front_hand_computed() -> None:
    # x = latency (lower better), y = accuracy (higher better).
    pts = [(1.0, 0.5), (2.0, 0.7), (3.0, 0.6), (0.5, 0.2), (2.0, 0.7), (4.0, 0.9)]
    front = svg_plots.pareto_front(pts, x_higher_is_better=False, y_higher_is_better=True)
    # (3, .6) is beaten by (2, .7); the duplicate (2, .7) points do not dominate each other.
    assert front == [3, 0, 1, 4, 5]
    assert svg_plots.pareto_front(pts, x_higher_is_better=True, y_higher_is_better=True) == [5]


def test_nice_ticks_cover_the_range() -> None:
    for lo, hi in [(0, 1), (0.1, 0.7), (3e-19, 9e-19), (5, 5), (-3, 7), (0, 1328)]:
        ticks = svg_plots.nice_ticks(lo, hi)
        assert ticks[0] <= lo and ticks[-1] >= hi and ticks == sorted(set(ticks))
        assert 2 <= len(ticks) <= 12


def test_scatter_svg_is_well_formed_and_escapes_labels() -> None:
    evil = '<script>alert(1)</script>&"'
    pts = [
        svg_plots.PlotPoint(evil, "R1", 0.5, 0.4, "mlp connector", "runs/x.html"),
        svg_plots.PlotPoint("b", "R2", 0.2, 0.9, "qformer connector"),
        svg_plots.PlotPoint("c", "R3", 0.9, 0.3, "mlp connector"),
    ]
    svg = svg_plots.scatter_svg(
        pts,
        svg_plots.Axis("latency", False),
        svg_plots.Axis("acc", True),
        colours={"mlp connector": "#0072B2"},
        title=f"t {evil}",
        element_id="p1",
    )
    root = ET.fromstring(svg)  # parses: well-formed XML, no raw markup from labels
    ns = "{http://www.w3.org/2000/svg}"
    assert not list(root.iter(f"{ns}script"))
    points = {
        c.get("data-label"): c.get("data-pareto") for c in root.iter(f"{ns}circle") if c.get("data-label")
    }
    assert points == {evil: "false", "b": "true", "c": "false"}
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert svg == svg_plots.scatter_svg(
        pts,
        svg_plots.Axis("latency", False),
        svg_plots.Axis("acc", True),
        colours={"mlp connector": "#0072B2"},
        title=f"t {evil}",
        element_id="p1",
    )


def test_ranks_and_best() -> None:
    assert competition_ranks([0.5, None, 0.9, 0.5, 0.1], True) == [2, None, 1, 2, 4]
    assert competition_ranks([3.0, 1.0, 2.0], False) == [3, 1, 2]
    assert best_index([0.5, 0.9, None], True) == 1
    assert best_index([0.9, 0.9], True) is None
    assert best_index([0.2], True) is None


def test_holm_hand_computed() -> None:
    # sorted p: .01 (x3 = .03), .02 (x2 = .04), .04 (x1 = .04, kept monotone)
    assert holm([0.04, 0.01, 0.02]) == pytest.approx([0.04, 0.03, 0.04])
    assert holm([0.5, 0.6]) == pytest.approx([1.0, 1.0])


def test_labels_tell_runs_of_one_model_apart() -> None:
    def run(**cfg: Any) -> dict[str, Any]:
        return {"config": {"adapter": "llava", "model": "/x/tiny", "seed": 0, "max_new_tokens": 16, **cfg}}

    labels = run_labels([run(), run(max_new_tokens=4), run(), {"config": {"adapter": "blip2", "model": "m"}}])
    assert labels == [
        "llava · tiny (max_new_tokens=16) #1",
        "llava · tiny (max_new_tokens=4)",
        "llava · tiny (max_new_tokens=16) #2",
        "blip2 · m",
    ]


def test_comparability_reasons() -> None:
    table = Comparable("1", "fp1", '{"m": "1"}', "{}", "s1")
    assert table.differences(table, 8, 8) == []
    (why,) = Comparable("2", "fp1", '{"m": "1"}', "{}", "s1").differences(table, 8, 8)
    assert "suite version 2" in why
    (why,) = Comparable("1", "fp2", '{"m": "1"}', "{}", "s2").differences(table, 8, 8)
    assert "dataset fingerprint fp2" in why  # another dataset: the sample set is not named twice
    (why,) = Comparable("1", "fp1", '{"m": "1"}', "{}", "s2").differences(table, 4, 8)
    assert "different set of samples (4)" in why
    (why,) = Comparable("1", "fp1", '{"m": "1"}', '{"variant": "official"}', "s1").differences(table, 8, 8)
    assert "scoring settings" in why


def test_unified_model_tables_land_in_both_sections() -> None:
    def table(suite: str, requires: str) -> SuiteTable:
        return SuiteTable(suite, suite, requires, suite, "1", "fp", 8, True, "m", "cpu", (), (), (), (), ())

    sections = sections_of([table("vqa", "understand"), table("t2i", "generate"), table("x", "other")])
    assert [(s.name, [t.suite for t in s.tables]) for s in sections] == [
        ("Understanding", ["vqa"]),
        ("Generation", ["t2i"]),
        ("Other", ["x"]),
    ]


def test_memory_from_efficiency_fields() -> None:
    run = {
        "suites": {"vqa": {"efficiency": {"peak_memory_bytes": 3 * 2**20}}},
        "efficiency": {"peak_rss_mib": 7},
    }
    assert memory_mib(run, "vqa") == (3.0, "suites.vqa.efficiency.peak_memory_bytes")
    assert memory_mib(run, "caption") == (7.0, "efficiency.peak_rss_mib")
    assert memory_mib({"suites": {}}, "vqa") == (None, "")


def test_reference_counts() -> None:
    assert reference_counts(["no", "no", "No.", "no"]) == ("no (\u00d73)", "No.")


# ---------------------------------------------------------------------------------------------
# The site, on real runs.


@pytest.mark.slow
def test_site_files_and_index(real_runs: dict[str, Path], tmp_path: Path) -> None:
    main_dir = real_runs["a"].parent
    out = tmp_path / "site"
    summary = write_site([main_dir], out)
    entries = run_entries(load_data([main_dir]))
    assert summary.n_runs == 3
    expected = {"index.html", "compare/vqa-1.html", "compare/caption-1.html", *(e.href for e in entries)}
    assert expected <= set(summary.files)
    assert (out / MARKER).read_text().splitlines()[1:] == sorted(summary.files)
    index = (out / "index.html").read_text()
    # One table per suite; runs as rows; intervals shown.
    assert index.count('id="tbl-vqa-1"') == 1 and index.count('id="tbl-caption-1"') == 1
    vqa_rows = re.findall(
        r'<tr data-group="[^"]*" data-order="\d+" data-run="([^"]+)"', _between(index, "tbl-vqa-1")
    )
    assert sorted(vqa_rows) == sorted(e.key for e in entries)
    assert "vqa_accuracy" in index and "latency (s/sample)" in index and "CIDEr" in index
    # No network: nothing is fetched from anywhere but the folder itself.
    for rel in summary.files:
        if rel.endswith(".html"):
            html = (out / rel).read_text()
            urls = re.findall(r'(?:src|href)="([^"]*)"', html)
            assert all(not re.match(r"[a-z]+:", u) or u.startswith("data:") for u in urls), (rel, urls)
            assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
            assert "https://" not in html
            _assert_script_hash_matches_csp(html)
            for u in urls:
                target = u.split("#")[0]
                if target:
                    assert (out / rel).parent.joinpath(target).resolve().is_file(), (rel, u)
    # Plots: inline SVG, one point per run, memory unavailable with the reason.
    assert index.count("<svg") == 4  # latency and throughput for vqa and caption
    assert "unavailable: none of these runs records peak memory" in index


@pytest.mark.slow
def test_same_runs_give_same_bytes(real_runs: dict[str, Path], tmp_path: Path) -> None:
    main_dir = real_runs["a"].parent
    first = render_site([main_dir], iterations=200)
    moved = tmp_path / "elsewhere"
    for name in ("c", "a", "b"):
        shutil.copytree(real_runs[name], moved / name)
    second = render_site([moved / "c", moved / "b", moved / "a"], iterations=200)
    assert first.keys() == second.keys()
    for name in first:
        assert first[name] == second[name], name
    text = b"".join(v for k, v in first.items() if k.endswith(".html")).decode()
    assert str(main_dir) not in text and str(moved) not in text  # no absolute run locations


@pytest.mark.slow
def test_guards_leave_runs_out_and_say_why(real_runs: dict[str, Path], tmp_path: Path) -> None:
    # Edited copies of a real run: another suite version, another device, an unfinished run.
    edited = tmp_path / "edited"
    v2 = edited_copy(real_runs["c"], edited / "v2", lambda r: r["suites"]["vqa"].update(version="2"))
    gpu = edited_copy(
        real_runs["c"], edited / "gpu", lambda r: r["provenance"].update(device_name="NVIDIA H100 80GB HBM3")
    )
    unfinished = edited_copy(real_runs["b"], edited / "unfinished", lambda r: r.update(status="incomplete"))
    # Every metric failed: ranked with its group but without a rank.
    failed = edited_copy(
        real_runs["subset"], edited / "failed", lambda r: r["suites"]["vqa"].update(metrics={})
    )
    paths = [real_runs["a"].parent, real_runs["subset"].parent, v2, gpu, unfinished, failed]
    data = load_data(paths)
    entries = run_entries(data)
    by_dir = {Path(e.run_dir).name: e for e in entries}
    index = build_index(data, entries)
    vqa = [t for s in index.sections for t in s.tables if t.suite == "vqa"]
    main_table = vqa[0]
    assert main_table.main and main_table.title == "vqa"
    ranked = {r.run.dir_name for r in main_table.rows}
    assert ranked == {"a", "b", "c", "gpu"}
    reasons = {x.run.dir_name: x.reason for x in main_table.excluded}
    assert set(reasons) == {"subset", "otherdata", "v2", "unfinished", "failed"}
    assert "different set of samples (4)" in reasons["subset"]
    assert "dataset fingerprint" in reasons["otherdata"]
    assert "suite version 2 differs" in reasons["v2"]
    assert "'incomplete'" in reasons["unfinished"]
    # The other groups get their own tables, never ranked with the main one.
    assert {tuple(sorted(r.run.dir_name for r in t.rows)) for t in vqa[1:]} == {
        ("failed", "subset"),
        ("otherdata",),
        ("v2",),
    }
    subset_table = next(t for t in vqa if "subset" in {r.run.dir_name for r in t.rows})
    assert [(r.run.dir_name, r.rank) for r in subset_table.rows] == [("subset", 1), ("failed", None)]
    # Efficiency is compared only on the table's device.
    assert main_table.device_name.startswith("cpu")
    gpu_row = next(r for r in main_table.rows if r.run.dir_name == "gpu")
    eff = [c for c, col in zip(gpu_row.cells, main_table.columns, strict=True) if col.efficiency]
    assert eff and all(c.text == "other device" and c.sort == "" for c in eff)
    assert any("efficiency not compared, measured on NVIDIA H100" in n for n in main_table.notes)
    latency_plot = next(p for p in main_table.plots if "latency" in p.title)
    assert any("NVIDIA H100" in x for x in latency_plot.left_out)
    assert {tag for tag, _ in latency_plot.points} == {by_dir[n].tag for n in ("a", "b", "c")}
    # The rendered page says it too, and the run page of a left-out run links back with the reason.
    files = render_site(paths, iterations=50)
    html = files["index.html"].decode()
    assert "suite version 2 differs from this table" in html and "other device" in html
    page = files[by_dir["subset"].href].decode()
    assert "different set of samples (4)" in page


@pytest.mark.slow
def test_run_page_breakdowns_explorer_and_gallery(real_runs: dict[str, Path], tmp_path: Path) -> None:
    # A copy of a real run whose first caption sample carries a generated image (relative path).
    def with_generated(run_dir: Path) -> Path:
        dst = tmp_path / "gen"
        shutil.copytree(run_dir, dst)
        lines = _samples(dst)
        (dst / "gen").mkdir()
        first_caption = next(i for i, r in enumerate(lines) if r["suite"] == "caption")
        shutil.copy(lines[first_caption]["image"], dst / "gen" / "x.png")
        lines[first_caption]["generated_images"] = ["gen/x.png", "gen/missing.png"]
        (dst / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
        return dst

    gen = with_generated(real_runs["a"])
    data = load_data([real_runs["b"], gen])
    entries = run_entries(data)
    index = build_index(data, entries)
    store = ImageStore()
    pages = {
        Path(e.run_dir).name: build_run_page(data, e, index, store, samples_per_suite=5) for e in entries
    }
    vqa = next(s for s in pages["b"].suites if s.name == "vqa")
    recs = [r for r in _samples(real_runs["b"]) if r["suite"] == "vqa"]
    # Breakdowns agree with the sample log.
    by_qt = {b.field: {row.value: row.n for row in b.rows} for b in vqa.breakdowns}
    assert by_qt["question_type"] == dict(Counter(r["meta"]["question_type"] for r in recs))
    assert by_qt["answer_type"] == dict(Counter(r["meta"]["answer_type"] for r in recs))
    # Explorer: first rows, images stored, prediction, references and scores shown.
    assert vqa.samples_total == len(recs) and len(vqa.samples) == 5
    first = vqa.samples[0]
    assert first.sample_id == recs[0]["sample_id"] and first.output == recs[0]["output"]
    assert first.images and first.images[0].startswith("../img/") and not first.missing_images
    assert first.scores[0].name == "vqa_accuracy"
    assert first.images[0].removeprefix("../") in store.files
    assert store.files[first.images[0].removeprefix("../")].startswith(b"\x89PNG")
    assert not any(s.gallery for s in pages["b"].suites)  # no generated images: no gallery
    cap = next(s for s in pages["gen"].suites if s.name == "caption")
    assert len(cap.gallery) == 1 and len(cap.gallery[0].images) == 1
    assert cap.gallery[0].missing_images == (str((gen / "gen" / "missing.png").resolve()),)
    files = render_site([real_runs["b"], gen], iterations=50)
    b_page = files[next(e.href for e in entries if e.dir_name == "b")].decode()
    gen_page = files[next(e.href for e in entries if e.dir_name == "gen")].decode()
    assert "Generated images" not in b_page and "Generated images" in gen_page
    assert "By question type" in b_page and "Provenance" in b_page and "git_commit" in b_page


@pytest.mark.slow
def test_compare_page_paired_tests(real_runs: dict[str, Path]) -> None:
    data = load_data([real_runs["a"].parent])
    index = build_index(data)
    vqa = next(t for s in index.sections for t in s.tables if t.suite == "vqa")
    page = build_compare_page(data, vqa, iterations=200)
    acc = next(m for m in page.metrics if m.metric == "vqa_accuracy")
    assert acc.unavailable is None and len(acc.pairs) == 3
    for pair in acc.pairs:
        a = {
            r["sample_id"]: r["scores"]["vqa_accuracy"]
            for r in _samples(Path(pair.a.run_dir))
            if r["suite"] == "vqa"
        }
        b = {
            r["sample_id"]: r["scores"]["vqa_accuracy"]
            for r in _samples(Path(pair.b.run_dir))
            if r["suite"] == "vqa"
        }
        assert pair.n == len(set(a) & set(b)) == 8
        if all(v in (0, 1) for v in [*a.values(), *b.values()]):
            only_a = sum(1 for k in a if a[k] == 1 and b[k] == 0)
            only_b = sum(1 for k in a if a[k] == 0 and b[k] == 1)
            expected = (
                scipy.stats.binomtest(min(only_a, only_b), only_a + only_b).pvalue if only_a + only_b else 1.0
            )
            assert float(pair.p_value) == pytest.approx(expected, rel=1e-2)
            assert f"only A right: {only_a}, only B right: {only_b}" in pair.detail
        assert len(acc.matrix) == 3 and all(len(cells) == 3 for _, cells in acc.matrix)
    by_type = next(m for m in page.metrics if m.metric == "vqa_accuracy/yes/no")
    assert by_type.unavailable is None and all(p.n >= 1 for p in by_type.pairs)
    cap = next(t for s in index.sections for t in s.tables if t.suite == "caption")
    cider = next(m for m in build_compare_page(data, cap, iterations=50).metrics if m.metric == "CIDEr")
    assert cider.unavailable and "computed over the whole set" in cider.unavailable


@pytest.mark.slow
def test_escaping_rebuild_and_cli(real_runs: dict[str, Path], tmp_path: Path) -> None:
    evil = tmp_path / "evil"
    shutil.copytree(real_runs["c"], evil)
    lines = _samples(evil)
    lines[0]["output"] = '<script>window.__xss=1</script><img src=x onerror="window.__xss=2">'
    (evil / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    out = tmp_path / "site"
    assert main(["-q", "leaderboard", str(evil), str(real_runs["subset"]), "-o", str(out)]) == 0
    page = next((out / "runs").glob("*.html")).read_text()
    pages = "".join(p.read_text() for p in (out / "runs").glob("*.html"))
    assert "&lt;script&gt;window.__xss=1&lt;/script&gt;&lt;img src=x onerror=" in pages
    assert "<script>window.__xss" not in pages and "<img src=x" not in pages
    assert page.count("<script>") == 1  # only the site's own script
    # A rebuild removes its own stale files and nothing else.
    (out / "notes.txt").write_text("mine")
    assert main(["-q", "leaderboard", str(evil), "-o", str(out)]) == 0
    assert len(list((out / "runs").glob("*.html"))) == 1 and (out / "notes.txt").read_text() == "mine"
    # A non-empty folder that is not a site is refused.
    other = tmp_path / "other"
    other.mkdir()
    (other / "keep.txt").write_text("x")
    with pytest.raises(InputError, match="not empty"):
        write_site([evil], other)
    assert main(["-q", "leaderboard", str(tmp_path / "nothing-here"), "-o", str(tmp_path / "s2")]) == 2


def _between(html: str, table_id: str) -> str:
    start = html.index(f'id="{table_id}"')
    return html[start : html.index("</table>", start)]


def _assert_script_hash_matches_csp(html: str) -> None:
    (script,) = re.findall(r"<script>(.*?)</script>", html, flags=re.S)
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html)
    assert csp is not None and f"script-src 'sha256-{digest}'" in csp.group(1)
    assert "default-src 'none'" in csp.group(1)


def test_paradigm_label_names_the_blind_baseline_and_unknown_apart() -> None:
    from mllmbench.reports.leaderboard_model import paradigm_label

    assert paradigm_label("none", "none") == "no connector (text only)"
    assert paradigm_label("", "") == "unknown connector"
    assert paradigm_label("mlp", "none") == "mlp connector"
    assert paradigm_label("none", "diffusion") == "diffusion generation"
