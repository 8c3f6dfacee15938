"""`checkpoint_hash` is remembered by the weight files' stat, so a run does not re-read a large
checkpoint before its first batch; a changed file is hashed again."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mllmbench.adapters import checkpoints
from mllmbench.core.hashing import tree_sha256
from mllmbench.core.paths import cache_root


@pytest.fixture
def ckpt(tmp_path: Path) -> Path:
    root = tmp_path / "ckpt"
    (root / "sub").mkdir(parents=True)
    (root / "model.safetensors").write_bytes(b"weights-1" * 1000)
    (root / "sub" / "extra.bin").write_bytes(b"more")
    (root / "config.json").write_text("{}")
    return root


def _no_reading(*args: object, **kwargs: object) -> str:
    raise AssertionError("the weight files were read again")


def test_the_memo_gives_the_same_digest_without_reading_the_files(
    ckpt: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = checkpoints.checkpoint_hash(ckpt)
    assert first == "sha256:" + str(tree_sha256(ckpt, suffixes=checkpoints.WEIGHT_SUFFIXES))
    assert (cache_root() / checkpoints.HASH_MEMO_FILE).is_file()
    monkeypatch.setattr(checkpoints, "tree_sha256", _no_reading)
    assert checkpoints.checkpoint_hash(ckpt) == first


def test_a_rewritten_weight_file_is_hashed_again(ckpt: Path) -> None:
    first = checkpoints.checkpoint_hash(ckpt)
    weights = ckpt / "model.safetensors"
    weights.write_bytes(b"weights-2" * 1000)  # same size, new bytes
    st = weights.stat()
    os.utime(weights, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    second = checkpoints.checkpoint_hash(ckpt)
    assert second != first
    assert second == "sha256:" + str(tree_sha256(ckpt, suffixes=checkpoints.WEIGHT_SUFFIXES))


def test_a_damaged_memo_is_ignored_and_rewritten(ckpt: Path) -> None:
    memo = cache_root() / checkpoints.HASH_MEMO_FILE
    memo.parent.mkdir(parents=True, exist_ok=True)
    memo.write_text("{not json")
    expected = "sha256:" + str(tree_sha256(ckpt, suffixes=checkpoints.WEIGHT_SUFFIXES))
    assert checkpoints.checkpoint_hash(ckpt) == expected
    assert expected in memo.read_text()


def test_no_weight_files_gives_none(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    assert checkpoints.checkpoint_hash(tmp_path) is None
