"""Tests never read or write a developer's caches: tests/conftest.py redirects them all."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from mllmbench.core.paths import cache_root, default_tiny_dir

CONFTEST = Path(__file__).resolve().parents[1] / "conftest.py"


def test_every_cache_variable_points_into_the_session_directory(session_root: Path) -> None:
    for name in ("MLLMBENCH_CACHE", "XDG_CACHE_HOME", "HF_HOME", "TORCH_HOME"):
        assert Path(os.environ[name]).is_relative_to(session_root), (name, os.environ[name])
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    assert cache_root().is_relative_to(session_root)
    assert default_tiny_dir("llava").is_relative_to(session_root)
    assert not cache_root().is_relative_to(Path.home() / ".cache")


INNER_TEST = """
import os
from pathlib import Path

from mllmbench.core.paths import cache_root


def test_writes_only_to_the_session_cache(tiny_llava):
    root = cache_root()
    (root / "probe.txt").write_text("written by a test")
    assert tiny_llava.is_relative_to(root)
    for name in ("MLLMBENCH_CACHE", "XDG_CACHE_HOME", "HF_HOME", "TORCH_HOME"):
        assert not Path(os.environ[name]).is_relative_to(Path(os.environ["DEVELOPER_ROOT"])), name
    print("CACHE_ROOT=" + str(root))
"""


def test_a_session_leaves_the_developers_caches_untouched(tmp_path: Path) -> None:
    """A pytest session run with a developer's cache variables set writes nothing into them."""
    developer = tmp_path / "developer"
    env_dirs = {
        name: developer / name.lower()
        for name in ("MLLMBENCH_CACHE", "XDG_CACHE_HOME", "HF_HOME", "TORCH_HOME")
    }
    for path in env_dirs.values():
        path.mkdir(parents=True)
    home = developer / "home"
    (home / ".cache").mkdir(parents=True)
    suite = tmp_path / "suite"
    suite.mkdir()
    shutil.copy(CONFTEST, suite / "conftest.py")
    (suite / "test_inner.py").write_text(INNER_TEST)
    env = {
        **os.environ,
        **{name: str(path) for name, path in env_dirs.items()},
        "HOME": str(home),
        "HF_HUB_OFFLINE": "0",
        "DEVELOPER_ROOT": str(developer),
    }
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", str(suite / "test_inner.py")],
        cwd=suite,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout
    [used] = [line.split("=", 1)[1] for line in done.stdout.splitlines() if line.startswith("CACHE_ROOT=")]
    assert Path(used, "probe.txt").read_text() == "written by a test"
    assert (Path(used) / "tiny" / "llava" / "model.safetensors").is_file()
    left = sorted(str(p.relative_to(developer)) for p in developer.rglob("*") if p.is_file())
    assert left == [], f"the session wrote into the developer's caches: {left}"
    shutil.rmtree(Path(used).parent, ignore_errors=True)
