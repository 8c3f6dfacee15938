"""Multiple choice: VLMEvalKit's rule-based extraction (golden vectors), CircularEval, the TSV/xlsx/
parquet layouts of MMBench and the offline ``shapes_mc`` suite."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from mllmbench.core.errors import InputError
from mllmbench.suites.base import Sample
from mllmbench.suites.metrics.circular import MultipleChoiceAccuracy
from mllmbench.suites.metrics.mc_extract import can_infer, present_options

GOLDEN = Path(__file__).parent.parent / "data" / "golden_bench" / "mc_extract.json"


def _golden() -> list[tuple[str, dict[str, str], str | None]]:
    doc = json.loads(GOLDEN.read_text())
    return [(c["answer"], doc["choice_sets"][c["choices"]], c["expected"]) for c in doc["cases"]]


@pytest.mark.parametrize(("answer", "choices", "expected"), _golden())
def test_can_infer_golden(answer: str, choices: dict[str, str], expected: str | None) -> None:
    assert can_infer(answer, dict(choices)) == expected


def test_empty_option_columns_are_not_options() -> None:
    row = {"A": "cat", "B": "dog", "C": float("nan"), "D": None, "E": ""}
    assert present_options(row) == {"A": "cat", "B": "dog"}


def _sample(index: int, options: dict[str, str], answer: str, category: str = "c1") -> Sample:
    meta = {"index": index, "options": options, "answer": answer, "category": category}
    return Sample(str(index), (), "", (answer,), meta)


def test_circular_eval_groups_and_counts() -> None:
    """Question 1: all rotations right; 2: one rotation wrong; 3: one rotation unparsed.
    VLMEvalKit ``mcq_circular_eval`` (exact_matching): hit 1, 0, 0; vanilla uses base rows only."""
    m = MultipleChoiceAccuracy(circular=True)
    opts = {"A": "red", "B": "blue", "C": "green"}
    plan = {
        1: ["A", "B", "C"],  # answers given per rotation k; gold per rotation below
        2: ["B", "C", "C"],
        3: ["C", "hmm", "B"],
    }
    golds = {1: ["A", "B", "C"], 2: ["B", "C", "A"], 3: ["C", "A", "B"]}
    for q, answers in plan.items():
        for k, ans in enumerate(answers):
            m.update(_sample(q + k * 1_000_000, opts, golds[q][k], category=f"cat{q % 2}"), ans)
    v = m.compute().values
    assert v["circular_accuracy"].value == pytest.approx(100 / 3)
    assert v["vanilla_accuracy"].value == pytest.approx(100.0)
    assert v["unparsed"].value == 1 and v["unparsed"].n == 9
    assert v["circular_accuracy/category=cat1"].value == pytest.approx(50.0)
    assert v["circular_accuracy/category=cat0"].value == 0.0


def test_plain_accuracy_counts_unparsed_as_wrong() -> None:
    m = MultipleChoiceAccuracy(circular=False)
    opts = {"A": "cat", "B": "dog"}
    for i, ans in enumerate(["A", "A or B", "dog", "Sorry, I can't help with images of people yet."]):
        m.update(_sample(i, opts, "B" if i == 2 else "A"), ans)
    v = m.compute().values
    assert v["accuracy"].value == 50.0
    assert v["unparsed"].value == 1 and v["refused"].value == 1


# ------------------------------------------------------------------ layouts
def _png(color: str) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), color).save(buf, format="PNG")
    return buf.getvalue()


def _mmbench_rows() -> list[dict]:
    b64 = base64.b64encode(_png("red")).decode()
    rows = []
    for k, (opts, gold) in enumerate([(("red", "blue", "green"), "A"), (("blue", "green", "red"), "C")]):
        rows.append(
            {
                "index": 7 + k * 1_000_000,
                "question": "What color is it?",
                "hint": "A hint" if k == 0 else None,
                "A": opts[0],
                "B": opts[1],
                "C": opts[2],
                "D": None,
                "answer": gold,
                "category": "color",
                "l2-category": "FP-S",
                "image": b64 if k == 0 else "7",
            }
        )
    return rows


def test_mmbench_tsv_and_xlsx(tmp_path: Path) -> None:
    from mllmbench.suites.benchmarks.multiple_choice import MMBenchSuite

    frame = pd.DataFrame(_mmbench_rows())
    tsv = tmp_path / "MMBench_DEV_EN.tsv"
    frame.to_csv(tsv, sep="\t", index=False)
    xlsx = tmp_path / "x" / "mmbench.xlsx"
    xlsx.parent.mkdir()
    frame.to_excel(xlsx, index=False)
    for data in (tmp_path, xlsx):
        samples = MMBenchSuite(data).load_samples()
        assert [s.sample_id for s in samples] == ["7", "1000007"]
        assert samples[0].text.startswith("Hint: A hint\nQuestion: What color is it?\nOptions:\nA. red\n")
        assert "D." not in samples[0].text and samples[1].meta["options"] == {
            "A": "blue",
            "B": "green",
            "C": "red",
        }
        assert Image.open(samples[1].image_paths[0]).getpixel((0, 0)) == (255, 0, 0)


def test_mmbench_parquet_layout(tmp_path: Path) -> None:
    from mllmbench.suites.benchmarks.multiple_choice import MMBenchSuite

    rows = _mmbench_rows()
    for r in rows:
        r["image"] = {"bytes": _png("blue"), "path": None}
        r["L2-category"] = r.pop("l2-category")
    (tmp_path / "en").mkdir()
    pd.DataFrame(rows).to_parquet(tmp_path / "en" / "dev-00000-of-00001.parquet")
    suite = MMBenchSuite(tmp_path)
    samples = suite.load_samples()
    assert len(samples) == 2 and suite.scoring_info()["layout"] == "hf_parquet"
    assert Image.open(samples[0].image_paths[0]).getpixel((0, 0)) == (0, 0, 255)


def test_bad_tables_name_file_and_column(tmp_path: Path) -> None:
    from mllmbench.suites.benchmarks.multiple_choice import MMBenchSuite

    rows = _mmbench_rows()
    frame = pd.DataFrame(rows).drop(columns=["answer"])
    bad = tmp_path / "MMBench_DEV_EN.tsv"
    frame.to_csv(bad, sep="\t", index=False)
    with pytest.raises(InputError, match=r"MMBench_DEV_EN\.tsv: column\(s\) answer missing.*test split"):
        MMBenchSuite(tmp_path).load_samples()
    rows[1]["answer"] = "D"
    pd.DataFrame(rows).to_csv(bad, sep="\t", index=False)
    with pytest.raises(InputError, match=r"index 1000007: answer 'D' is not one of the options A, B, C"):
        MMBenchSuite(tmp_path).load_samples()
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match=r"no MMBench data in .*empty: expected MMBench_DEV_EN\.tsv"):
        MMBenchSuite(empty).load_samples()


def test_shapes_mc_table(shapes_dir: Path) -> None:
    from mllmbench.suites.shapes_mc import ShapesMCSuite

    samples = ShapesMCSuite().load_samples()
    groups: dict[int, list[Sample]] = {}
    for s in samples:
        groups.setdefault(s.meta["index"] % 1_000_000, []).append(s)
    assert len(groups) == 200
    for g, members in groups.items():
        n = len(members[0].meta["options"])
        assert len(members) == n and n == (3 if g % 3 == 0 else 4)
        golds = {m.meta["options"][m.meta["answer"]] for m in members}
        assert len(golds) == 1  # the same gold text, its letter rotated
        assert sorted(m.meta["answer"] for m in members) == sorted("ABCD"[:n])


@pytest.mark.slow
def test_run_shapes_mc_and_pope_end_to_end(tmp_path: Path, tiny_llava: Path) -> None:
    """``mllm-bench run --adapter llava --suite shapes_mc,shapes_pope`` with the tiny checkpoint."""
    from mllmbench.cli.main import main

    suites = "shapes_mc,shapes_pope" if _has_suite("shapes_pope") else "shapes_mc"
    out = tmp_path / "run"
    args = ["run", "--no-progress", "--no-report", "--adapter", "llava", "--model", str(tiny_llava)]
    code = main([*args, "--suite", suites, "--limit", "8", "--batch-size", "4", "--out", str(out)])
    assert code == 0
    run = json.loads((out / "run.json").read_text())
    mc = run["suites"]["shapes_mc"]
    assert mc["n_done"] == 8 and mc["n_errors"] == 0
    metrics = mc["metrics"]
    assert metrics["circular_accuracy"]["n"] == 2 and metrics["vanilla_accuracy"]["n"] == 2
    assert 0 <= metrics["unparsed"]["value"] <= 8
    assert mc["n_unparsed"] == metrics["unparsed"]["value"]  # run.json's count is the metric's
    lines = [json.loads(x) for x in (out / "samples.jsonl").read_text().splitlines()]
    mc_lines = [x for x in lines if x.get("suite", x.get("task")) == "shapes_mc"]
    # the per-sample unparsed flags agree with the corpus count
    assert sum(x["scores"]["unparsed"] for x in mc_lines) == metrics["unparsed"]["value"]
    # `score shapes_mc` on the run's own outputs gives the run's numbers
    preds = tmp_path / "mc_preds.jsonl"
    preds.write_text(
        "".join(json.dumps({"sample_id": x["sample_id"], "prediction": x["output"]}) + "\n" for x in mc_lines)
    )
    from mllmbench.cli.commands.score_bench import score

    scored = score("shapes_mc", None, preds)
    assert (
        scored["n"] == 66 * 3 + 134 * 4 and scored["failed"] == scored["n"] - 8
    )  # unanswered: failed, not wrong
    for name in ("circular_accuracy", "vanilla_accuracy", "unparsed"):
        assert scored["metrics"][name]["value"] == metrics[name]["value"]
    if "shapes_pope" in run["suites"]:
        pope = run["suites"]["shapes_pope"]["metrics"]
        assert pope["accuracy"]["n"] == 8
        assert {"precision", "recall", "f1", "yes_ratio", "unparsed"} <= set(pope)


def _has_suite(name: str) -> bool:
    from mllmbench.suites.registry import suite_names

    return name in suite_names()


def test_missing_images_are_named(tmp_path: Path) -> None:
    from mllmbench.suites.benchmarks.multiple_choice import MMBenchSuite

    rows = _mmbench_rows()
    frame = pd.DataFrame(rows).drop(columns=["image"])
    tsv = tmp_path / "MMBench_DEV_EN.tsv"
    frame.to_csv(tsv, sep="\t", index=False)
    with pytest.raises(
        InputError, match=r"MMBench_DEV_EN\.tsv: no image column \('image' as base64 or 'image_path'\)"
    ):
        MMBenchSuite(tmp_path).load_samples()
    frame["image_path"] = ["images/missing.png", "images/missing.png"]
    frame.to_csv(tsv, sep="\t", index=False)
    with pytest.raises(InputError, match=r"index 7: image file not found: .*missing\.png"):
        MMBenchSuite(tmp_path).load_samples()
    rows[0]["image"] = "12345"  # a reference to a row that does not exist
    rows[1]["image"] = "7"
    pd.DataFrame(rows).to_csv(tsv, sep="\t", index=False)
    with pytest.raises(InputError, match=r"index 7: 'image' refers to index 12345, which has no image"):
        MMBenchSuite(tmp_path).load_samples()
