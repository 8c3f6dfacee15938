"""The leaderboard site in headless Chromium (Playwright, system Chromium), opened from disk.

These tests never skip: without Chromium or Playwright they fail and say what to install.
Set ``MLLMBENCH_UPDATE_DOCS=1`` to refresh the screenshot kept in ``docs/leaderboard.png``.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_leaderboard import build_runs
from test_leaderboard_generation import build_generation_runs

from mllmbench.reports.leaderboard_site import write_site

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
XSS = '<script>window.__xss=1</script><img src=x onerror="window.__xss=2">'
DOCS_SCREENSHOT = Path(__file__).resolve().parents[1] / "docs" / "leaderboard.png"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, tiny_llava: Path, shapes_dir: Path) -> Path:
    """A site from real runs plus a copy of one whose first output is hostile markup."""
    runs = build_runs(tmp_path_factory.getbasetemp() / "leaderboard-runs", tiny_llava)
    root = tmp_path_factory.mktemp("browser-site")
    evil = root / "runs" / "xss"
    shutil.copytree(runs["c"], evil)
    lines = [json.loads(x) for x in (evil / "samples.jsonl").read_text().splitlines() if x.strip()]
    lines[0]["output"] = XSS  # a test of escaping: the edited copy is otherwise the real run
    (evil / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    out = root / "site"
    write_site([runs["a"].parent, runs["subset"], evil], out, iterations=200)
    return out


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail(f"browser tests need Chromium at {CHROMIUM}: apt-get install -y chromium chromium-driver")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("browser tests need Playwright: pip install -e '.[dev]' (never `playwright install`)")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


class Page:
    """A page opened from disk that records console messages, page errors and requests."""

    def __init__(self, browser: Any, url: str) -> None:
        self.page = browser.new_page(viewport={"width": 1400, "height": 1000})
        self.messages: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", lambda m: self.messages.append(f"{m.type}: {m.text}"))
        self.page.on("pageerror", lambda e: self.messages.append(f"pageerror: {e}"))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.goto(url)
        self.page.wait_for_load_state("load")

    def rows(self, table: str) -> list[Any]:
        return self.page.locator(f"#{table} tbody tr").all()

    def visible_runs(self, table: str) -> list[str]:
        return self.page.eval_on_selector_all(
            f"#{table} tbody tr", "rows => rows.filter(r => !r.hidden).map(r => r.dataset.run)"
        )

    def column(self, table: str, index: int) -> list[str]:
        return self.page.eval_on_selector_all(
            f"#{table} tbody tr",
            f"rows => rows.filter(r => !r.hidden).map(r => r.cells[{index}].dataset.sort)",
        )


def _pages(site: Path) -> list[Path]:
    return sorted(p for p in site.rglob("*.html"))


def test_every_page_loads_without_console_errors_or_network(browser: Any, site: Path) -> None:
    pages = _pages(site)
    assert len(pages) >= 6  # index, 4 run pages, compare pages
    for path in pages:
        p = Page(browser, path.as_uri())
        assert p.messages == [], (path.name, p.messages)
        assert all(u.startswith(("file://", "data:")) for u in p.requests), (path.name, p.requests)
        counts = p.page.eval_on_selector_all(".count", "els => els.map(e => e.textContent)")
        assert all(c.endswith("rows shown") for c in counts), counts  # the script ran
        p.page.close()


def test_sorting_and_filtering(browser: Any, site: Path) -> None:
    p = Page(browser, (site / "index.html").as_uri())
    table = "tbl-vqa-1"
    heads = p.page.locator(f"#{table} thead th").all_inner_texts()
    latency = next(i for i, h in enumerate(heads) if h.startswith("latency"))
    header = p.page.locator(f"#{table} thead th").nth(latency)
    n_rows = len(p.rows(table))
    assert n_rows == 4  # runs a, b, c and the copy of c
    header.locator("button").click()
    values = [float(v) for v in p.column(table, latency)]
    assert len(values) == n_rows and values == sorted(values) and values != sorted(values, reverse=True)
    assert header.get_attribute("aria-sort") == "ascending"
    header.locator("button").click()
    values = [float(v) for v in p.column(table, latency)]
    assert values == sorted(values, reverse=True)
    assert header.get_attribute("aria-sort") == "descending"
    # Text filter: one run by its distinguishing setting.
    label_of = {
        r: p.page.locator(f'#{table} tr[data-run="{r}"] td').nth(1).inner_text()
        for r in p.visible_runs(table)
    }
    target = next(r for r, label in label_of.items() if "max_new_tokens=4" in label)
    p.page.locator(f'[data-controls-for="{table}"] .filter-text').fill("max_new_tokens=4")
    assert p.visible_runs(table) == [target]
    assert p.page.locator(f'[data-controls-for="{table}"] .count').inner_text() == f"1 of {n_rows} rows shown"
    p.page.locator(f'[data-controls-for="{table}"] .filter-text').fill("")
    assert len(p.visible_runs(table)) == n_rows
    # Paradigm filter and grouping.
    p.page.locator(f'[data-controls-for="{table}"] .filter-group').select_option("mlp connector")
    assert len(p.visible_runs(table)) == n_rows
    p.page.locator(f'[data-controls-for="{table}"] .group-toggle').check()
    assert len(p.visible_runs(table)) == n_rows
    assert p.messages == []


def test_images_show(browser: Any, site: Path) -> None:
    run_pages = sorted((site / "runs").glob("*.html"))
    for path in run_pages:
        p = Page(browser, path.as_uri())
        sizes = p.page.eval_on_selector_all(
            ".explorer img", "imgs => imgs.map(i => [i.complete, i.naturalWidth, i.naturalHeight])"
        )
        assert sizes and all(c and w > 0 and h > 0 for c, w, h in sizes), (path.name, sizes)
        assert p.page.locator(".explorer img").first.is_visible()
        p.page.close()
    index = Page(browser, (site / "index.html").as_uri())
    assert index.page.locator("svg.tradeoff circle.point").count() > 0
    assert index.page.locator("svg.tradeoff").first.is_visible()


def test_model_output_stays_inert_text(browser: Any, site: Path) -> None:
    found = False
    for path in sorted((site / "runs").glob("*.html")):
        p = Page(browser, path.as_uri())
        assert p.page.evaluate("typeof window.__xss") == "undefined"
        texts = p.page.locator("pre.prediction").all_inner_texts()
        if XSS in texts:
            found = True
            assert p.page.locator('.explorer img[src="x"]').count() == 0
        assert p.messages == [], p.messages
        p.page.close()
    assert found, "the hostile output was not shown as text on any run page"


def test_index_screenshot(
    browser: Any, tmp_path_factory: pytest.TempPathFactory, tiny_llava: Path, tmp_path: Path
) -> None:
    runs = build_runs(tmp_path_factory.getbasetemp() / "leaderboard-runs", tiny_llava)
    clean = write_site([runs["a"].parent, runs["subset"]], tmp_path / "site", iterations=200)
    p = Page(browser, clean.index.as_uri())
    assert p.messages == []
    shot = tmp_path / "leaderboard.png"
    p.page.screenshot(path=str(shot), full_page=False)
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG") and len(data) > 20_000
    if os.environ.get("MLLMBENCH_UPDATE_DOCS") == "1":
        DOCS_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, DOCS_SCREENSHOT)
    assert DOCS_SCREENSHOT.is_file(), "docs/leaderboard.png is missing: rerun with MLLMBENCH_UPDATE_DOCS=1"


def test_generation_tradeoff_and_gallery(
    browser: Any, tmp_path_factory: pytest.TempPathFactory, shapes_dir: Path, tmp_path: Path
) -> None:
    # Real amused, glm_image, janus and emu3 runs (test_leaderboard_generation): the table sorts,
    # both figures show a point per run, and the gallery's generated images load.
    runs = build_generation_runs(tmp_path_factory.getbasetemp() / "generation-runs")
    site = write_site(list(runs.values()), tmp_path / "site", iterations=50)
    p = Page(browser, site.index.as_uri())
    table = "tradeoff-tbl-t2i-1"
    heads = p.page.locator(f"#{table} thead th").all_inner_texts()
    calls = next(i for i, h in enumerate(heads) if h.startswith("sequential calls"))
    p.page.locator(f"#{table} thead th").nth(calls).locator("button").click()
    values = [float(v) for v in p.column(table, calls)]
    assert len(values) == len(runs) and values == sorted(values) and len(set(values)) > 1
    for fig in ("plot-t2i-1-ips", "plot-t2i-1-calls"):
        assert p.page.locator(f"#{fig} circle.point").count() == len(runs)
        assert p.page.locator(f"#{fig}").is_visible()
    assert p.messages == [] and all(u.startswith(("file://", "data:")) for u in p.requests)
    g = Page(browser, (site.out_dir / "gallery.html").as_uri())
    sizes = g.page.eval_on_selector_all(
        ".gallery-compare img", "imgs => imgs.map(i => [i.complete, i.naturalWidth])"
    )
    assert len(sizes) == 2 * len(runs) and all(c and w > 0 for c, w in sizes), sizes
    assert "masked_tokens" in g.page.locator(".gallery-compare thead").inner_text()
    assert g.messages == []
