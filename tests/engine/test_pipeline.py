"""The pipelined local engine: length sorting, preparing the next batch ahead, honest timings,
and answers equal to batch size 1 and to the unpipelined engine, in dataset order."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from mllmbench.cli.main import main
from mllmbench.engine.pipeline import length_sorted, prefetch, prompt_length
from mllmbench.suites.base import Sample
from mllmbench.testing.mixed_lengths import write_mixed_length_vqa


def _sample(i: int, text: str, images: int = 1) -> Sample:
    return Sample(str(i), tuple(f"/img/{i}-{k}.png" for k in range(images)), text)


def test_length_sorted_puts_the_longest_first_and_is_stable() -> None:
    texts = ["x" * n for n in (5, 1, 3, 1, 9, 2, 2, 7)]
    samples = [_sample(i, t) for i, t in enumerate(texts)]
    out = length_sorted(samples, batch_size=2)
    assert [s.sample_id for s in out] == ["4", "7", "0", "2", "5", "6", "1", "3"]


def test_length_sorted_puts_image_count_before_text_length_and_keeps_batch_1() -> None:
    samples = [_sample(0, "a much longer text", images=1), _sample(1, "short", images=2)]
    assert [s.sample_id for s in length_sorted(samples, batch_size=2)] == ["1", "0"]
    assert prompt_length(samples[1]) == (2, 5)
    assert length_sorted(samples, batch_size=1) == samples


def test_prefetch_prepares_the_next_item_while_the_caller_works() -> None:
    started = {k: threading.Event() for k in range(3)}
    threads: set[int] = set()

    def prepare(k: int) -> int:
        threads.add(threading.get_ident())
        started[k].set()
        return k * 10

    seen = []
    for k, result in prefetch(range(3), prepare):
        seen.append((k, result))
        if k < 2:
            # the next item's preparation runs while this one is being worked on
            assert started[k + 1].wait(timeout=10), f"item {k + 1} was not prepared during item {k}"
    assert seen == [(0, 0), (1, 10), (2, 20)]
    assert threading.get_ident() not in threads


def test_prefetch_raises_a_preparation_error_at_its_item() -> None:
    def prepare(k: int) -> int:
        if k == 1:
            raise ValueError("bad item 1")
        return k

    got = []
    with pytest.raises(ValueError, match="bad item 1"):
        for k, _ in prefetch(range(3), prepare):
            got.append(k)
    assert got == [0]


def test_prefetch_without_overlap_prepares_in_the_calling_thread() -> None:
    threads = []
    out = list(prefetch(range(2), lambda k: threads.append(threading.get_ident()) or k, overlap=False))
    assert out == [(0, 0), (1, 1)]
    assert set(threads) == {threading.get_ident()}


# --- end to end on the tiny LLaVA, mixed prompt lengths ----------------------------------------


@pytest.fixture(scope="module")
def mixed_dir(tmp_path_factory: pytest.TempPathFactory, shapes_dir: Path) -> Path:
    return write_mixed_length_vqa(shapes_dir, tmp_path_factory.mktemp("mixed"))


def _run(tiny_llava: Path, data: Path, out: Path, *extra: str) -> list[dict]:
    argv = ["run", "--no-progress", "--no-report", "--adapter", "llava", "--model", str(tiny_llava)]
    argv += ["--suite", "vqa", "--data", str(data), "--limit", "20", "--out", str(out), *extra]
    assert main(argv) == 0
    return [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def batch1(tiny_llava: Path, mixed_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    return _run(tiny_llava, mixed_dir, tmp_path_factory.mktemp("b1") / "run", "--batch-size", "1")


def test_pipelined_batch_8_equals_batch_1_in_dataset_order(
    batch1: list[dict], tiny_llava: Path, mixed_dir: Path, tmp_path: Path
) -> None:
    lines = _run(tiny_llava, mixed_dir, tmp_path / "run", "--batch-size", "8")
    assert [r["sample_id"] for r in lines] == [r["sample_id"] for r in batch1]
    assert [r["output"] for r in lines] == [r["output"] for r in batch1]
    assert [r["tokens"] for r in lines] == [r["tokens"] for r in batch1]
    assert all(r["error"] is None for r in lines)
    # the batches were length-sorted, longest first, so each batch's prompts are all longer than
    # the next batch's; and every line says its preprocessing ran ahead, in the worker
    by_batch: dict[float, list[int]] = {}
    for r in lines:
        assert r["timing"]["preprocess_ahead"] is True
        assert r["timing"]["preprocess_seconds"] > 0
        by_batch.setdefault(r["timing"]["batch_seconds"], []).append(r["tokens"]["input"])
    spans = sorted((min(v), max(v)) for v in by_batch.values())
    assert len(spans) == 3
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:], strict=False)), spans


def test_no_pipeline_gives_the_same_answers_in_dataset_order(
    batch1: list[dict], tiny_llava: Path, mixed_dir: Path, tmp_path: Path
) -> None:
    lines = _run(tiny_llava, mixed_dir, tmp_path / "run", "--batch-size", "8", "--no-pipeline")
    assert [(r["sample_id"], r["output"]) for r in lines] == [(r["sample_id"], r["output"]) for r in batch1]
    assert not any(r["timing"].get("preprocess_ahead") for r in lines)


def test_a_corrupt_image_fails_only_its_sample_in_a_pipelined_run(
    batch1: list[dict], tiny_llava: Path, mixed_dir: Path, tmp_path: Path
) -> None:
    import shutil

    data = tmp_path / "data"
    shutil.copytree(mixed_dir, data, symlinks=False)
    bad = Path(batch1[3]["image"]).name
    (data / "images" / bad).write_bytes(b"not a png")
    argv = ["run", "--no-progress", "--no-report", "--adapter", "llava", "--model", str(tiny_llava)]
    argv += ["--suite", "vqa", "--data", str(data), "--limit", "20", "--batch-size", "8"]
    assert main([*argv, "--out", str(tmp_path / "run")]) == 1
    lines = [json.loads(x) for x in (tmp_path / "run" / "samples.jsonl").read_text().splitlines()]
    failed = {r["sample_id"] for r in lines if r["error"] is not None}
    same_image = {r["sample_id"] for r in batch1 if Path(r["image"]).name == bad}
    assert failed == same_image
    want = {r["sample_id"]: r["output"] for r in batch1}
    assert all(r["output"] == want[r["sample_id"]] for r in lines if r["error"] is None)


def test_efficiency_suite_runs_unpipelined(tiny_llava: Path, tmp_path: Path) -> None:
    argv = ["run", "--no-progress", "--no-report", "--adapter", "llava", "--model", str(tiny_llava)]
    argv += ["--suite", "efficiency", "--limit", "2", "--batch-size", "2", "--out", str(tmp_path / "run")]
    assert main(argv) == 0
    lines = [json.loads(x) for x in (tmp_path / "run" / "samples.jsonl").read_text().splitlines()]
    assert lines and not any(r["timing"].get("preprocess_ahead") for r in lines)
