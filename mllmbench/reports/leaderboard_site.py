"""Write the leaderboard as a static site: a folder to open from disk or push to any static host.

Layout of the output folder::

    index.html                 tables per suite, trade-off plots, runs left out and why
    runs/<run-key>.html        one page per run
    compare/<table>.html       pairwise paired tests between the runs of a table
    img/<sha256>.png           thumbnails of sample and generated images, named by content
    .mllm-bench-site           the list of files written (so a rebuild removes only its own files)

No network: CSS and the sort/filter script are inlined, plots are inline SVG, and a
Content-Security-Policy forbids any fetch. The inline script is allowed by its SHA-256 hash
only, so markup slipped into a model output could not run even if escaping failed.
Deterministic: the same runs give the same bytes (no build time, stable ordering and names).
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mllmbench.core.errors import InputError
from mllmbench.reports.frame import PathLike
from mllmbench.reports.html import thumbnail_png
from mllmbench.reports.leaderboard import build_index, load_data, run_entries
from mllmbench.reports.leaderboard_compare import build_compare_page
from mllmbench.reports.leaderboard_gallery import GALLERY_HREF, build_gallery_page
from mllmbench.reports.leaderboard_runs import SAMPLES_PER_SUITE, build_run_page
from mllmbench.reports.paired import BOOTSTRAP_ITERATIONS

log = logging.getLogger(__name__)

MARKER = ".mllm-bench-site"
MARKER_HEADER = "mllm-bench leaderboard site: files written by the last build\n"
SCRIPT_TEMPLATE = "leaderboard_sortfilter.js"
STYLE_TEMPLATE = "leaderboard_style.css"


@dataclass(frozen=True)
class SiteSummary:
    """What `write_site` wrote."""

    out_dir: Path
    index: Path
    n_runs: int
    files: tuple[str, ...]


class ImageStore:
    """Thumbnails written once under ``img/``, named by the hash of their bytes."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self._cache: dict[tuple[str, int], str | None] = {}

    def add(self, path: str, size: int) -> str | None:
        """Site-relative name of the image's thumbnail, or None when it cannot be read."""
        key = (path, size)
        if key not in self._cache:
            png = thumbnail_png(path, size)
            name = None
            if png is not None:
                name = f"img/{hashlib.sha256(png).hexdigest()[:20]}.png"
                self.files[name] = png
            else:
                log.warning("image not readable, shown as its path: %s", path)
            self._cache[key] = name
        return self._cache[key]


def _environment() -> Any:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("mllmbench.reports", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render_site(
    paths: PathLike | Iterable[PathLike],
    *,
    samples_per_suite: int = SAMPLES_PER_SUITE,
    iterations: int = BOOTSTRAP_ITERATIONS,
) -> dict[str, bytes]:
    """Every file of the site, by site-relative path (nothing is written)."""
    from markupsafe import Markup

    data = load_data(paths)
    entries = run_entries(data)
    index = build_index(data, entries)
    env = _environment()
    loader = env.loader
    script = loader.get_source(env, SCRIPT_TEMPLATE)[0]
    style = loader.get_source(env, STYLE_TEMPLATE)[0]
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
    common = {"script": Markup(script), "style": Markup(style), "script_hash": f"sha256-{digest}"}
    images = ImageStore()
    files: dict[str, bytes] = {}

    def put(name: str, template: str, **kw: Any) -> None:
        root = "../" if "/" in name else ""
        html = env.get_template(template).render(root=root, **common, **kw)
        files[name] = html.encode("utf-8")

    gallery = build_gallery_page(data, entries, images)
    gallery_href = GALLERY_HREF if gallery.suites else None
    put("index.html", "leaderboard_index.html.j2", view=index, gallery_href=gallery_href)
    if gallery_href:
        put(GALLERY_HREF, "leaderboard_gallery.html.j2", view=gallery)
    for entry in entries:
        page = build_run_page(data, entry, index, images, samples_per_suite=samples_per_suite)
        put(entry.href, "leaderboard_run.html.j2", view=page)
    for section in index.sections:
        for table in section.tables:
            if table.compare_href:
                put(
                    table.compare_href,
                    "leaderboard_compare.html.j2",
                    view=build_compare_page(data, table, iterations=iterations),
                )
    files.update(images.files)
    return files


def _prepare(out_dir: Path) -> None:
    """Refuse a non-empty folder that is not a site of ours; remove the files of the last build."""
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"site folder is a file: {out_dir}")
    if not out_dir.exists():
        return
    marker = out_dir / MARKER
    if not marker.is_file():
        if any(out_dir.iterdir()):
            raise InputError(
                f"refusing to write the site into {out_dir}: the folder is not empty and holds no "
                f"{MARKER} file from an earlier build; choose a new or empty folder"
            )
        return
    lines = marker.read_text(encoding="utf-8").splitlines()[1:]
    for rel in lines:
        target = (out_dir / rel).resolve()
        if out_dir.resolve() in target.parents and target.is_file():
            target.unlink()


def write_site(
    paths: PathLike | Iterable[PathLike],
    out_dir: PathLike,
    *,
    samples_per_suite: int = SAMPLES_PER_SUITE,
    iterations: int = BOOTSTRAP_ITERATIONS,
) -> SiteSummary:
    """Build the site from every run found under `paths` and write it to `out_dir`."""
    out = Path(out_dir)
    files = render_site(paths, samples_per_suite=samples_per_suite, iterations=iterations)
    _prepare(out)
    out.mkdir(parents=True, exist_ok=True)
    for rel in sorted(files):
        target = out / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(files[rel])
    (out / MARKER).write_text(MARKER_HEADER + "".join(f"{rel}\n" for rel in sorted(files)), encoding="utf-8")
    n_runs = sum(1 for rel in files if rel.startswith("runs/"))
    log.info("wrote %d files for %d runs to %s", len(files), n_runs, out)
    return SiteSummary(out, out / "index.html", n_runs, tuple(sorted(files)))
