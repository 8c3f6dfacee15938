"""Every digest mllm-bench records or keys a cache by, pinned to the value it had before the
hashing schemes were folded into `mllmbench.core.hashing`.

Run ids, checkpoint hashes, dataset fingerprints, extractor weight hashes, reference-statistics
keys and response-cache keys name things on disk and in run.json: changing one silently orphans
caches and breaks resume, so these values must never move.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mllmbench.adapters.hf import checkpoint_hash
from mllmbench.adapters.two_stage import combined_hash
from mllmbench.core import hashing
from mllmbench.core.types import AdapterInfo, Capability, Connector, GenerationSettings, Paradigm
from mllmbench.engine.provenance import config_hash
from mllmbench.engine.response_cache import ResponseCache, file_sha256
from mllmbench.reports.leaderboard_frames import sample_set_digest
from mllmbench.suites.fingerprint import files_fingerprint
from mllmbench.suites.metrics.image_features import weights_hash
from mllmbench.suites.metrics.reference_stats import ReferenceStatsKey


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A fixed little checkpoint-like directory."""
    (tmp_path / "a.json").write_bytes(b'{"q": 1}\n')
    (tmp_path / "b.safetensors").write_bytes(bytes(range(256)) * 10)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.bin").write_bytes(b"weights\x00\x01")
    (tmp_path / "notes.txt").write_text("x")
    return tmp_path


def test_dataset_fingerprint_is_pinned(tree: Path) -> None:
    assert files_fingerprint([tree / "b.safetensors", tree / "a.json"]) == "a20263ac7a8997fd"


def test_extractor_weights_hash_is_pinned(tree: Path) -> None:
    dir_hash = "cc748c7f8149c789bb2205214da2e4430418cfd3643d5614e0ca43b27f8da725"
    assert weights_hash(tree) == dir_hash
    assert weights_hash(tree / "b.safetensors") == (
        "a88699815f22c3cd3d5cab132eaf43127d6d4caf1878fd4e4ddcc0bfbe3f2498"
    )


def test_file_sha256_is_pinned(tree: Path) -> None:
    expected = "727c16eb1b22614dc12c8605f65c1e40cf47b493998dff6537dd099b5b1b58d6"
    assert file_sha256(tree / "a.json") == expected
    assert hashing.file_sha256(tree / "a.json") == expected


def test_checkpoint_hashes_are_pinned(tree: Path) -> None:
    assert checkpoint_hash(tree) == "sha256:7be7f1cb20bc06856307d6d34b851a8cb60e6e5bd72ede55be1d3def3dfb9165"
    assert combined_hash(tree / "a.json", "sha256:aa", "sha256:bb") == (
        "sha256:14049b34db13c8e9a7344793dfa380873fea4278ebee1b651900e968f18f5efa"
    )
    assert combined_hash(tree / "a.json", "sha256:aa", None) is None
    assert checkpoint_hash(tree / "sub" / "..") is not None
    empty = tree / "empty"
    empty.mkdir()
    assert checkpoint_hash(empty) is None


def test_run_id_and_sample_set_are_pinned() -> None:
    assert config_hash({"b": [1, 2.5, None], "a": "é", "p": Path("/x")}) == "fa12804455f1"
    assert sample_set_digest({"z", "a", "m"}) == "6d1e9b07990d"


def test_reference_stats_key_is_pinned() -> None:
    key = ReferenceStatsKey("coco2014", "f" * 16, "val", "299", "clean", "inception_v3_tf2015", "ab" * 32)
    assert key.digest() == "4762bc694ff57c2b9f0160f79abb402c2766a6cbd0d59c49b01571e0799c08dd"


def test_response_cache_key_is_pinned(tree: Path, tmp_path: Path) -> None:
    info = AdapterInfo(
        name="llava",
        checkpoint="/ckpt",
        checkpoint_hash="sha256:" + "0" * 64,
        dtype="float32",
        device="cpu",
        capabilities=Capability.UNDERSTAND,
        paradigm=Paradigm("llava", Connector.MLP),
        chat_template="{{ messages }}",
    )
    settings = GenerationSettings(max_new_tokens=16, do_sample=False, temperature=1.0, top_k=None, seed=0)
    key = ResponseCache(tmp_path / "cache").key(info, "What colour?", (str(tree / "a.json"),), settings)
    assert key == "592f267e75679eb552260dc0817a531bbd989e64cac05dc6660d251f25d8b9c3"


def test_hashing_primitives(tree: Path) -> None:
    """The shared helpers agree with hashlib computed by hand."""
    import hashlib

    data = (tree / "b.safetensors").read_bytes()
    assert hashing.file_sha256(tree / "b.safetensors") == hashlib.sha256(data).hexdigest()
    assert hashing.text_sha256("é") == hashlib.sha256("é".encode()).hexdigest()
    by_hand = hashlib.sha256(b"x\0" + data + b"yz").hexdigest()
    assert hashing.sha256_of([b"x\0", tree / "b.safetensors", "y", b"z"]) == by_hand
    assert (
        hashing.named_files_sha256([("x", tree / "b.safetensors")])
        == hashlib.sha256(b"x\0" + data).hexdigest()
    )
    assert hashing.json_sha256({"b": 1, "a": 2}) == hashlib.sha256(b'{"a": 2, "b": 1}').hexdigest()
    assert hashing.tree_sha256(tree, suffixes=(".nothing",)) is None


def test_parquet_split_fingerprint_is_pinned(tmp_path: Path) -> None:
    from mllmbench.suites.formats.hf_parquet import ParquetSplit

    a = tmp_path / "val-00000-of-00002.parquet"
    a.write_bytes(bytes(range(256)) * 9000)  # longer than the hashed tail
    b = tmp_path / "val-00001-of-00002.parquet"
    b.write_bytes(b"tail")
    assert ParquetSplit("val", (a, b), tmp_path).fingerprint() == "dc09a892dba590ba"
