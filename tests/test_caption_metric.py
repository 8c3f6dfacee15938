"""Caption metrics against the pycocoevalcap golden vectors and against pycocoevalcap itself.

Java is slow to start (METEOR loads its paraphrase table in seconds), so one METEOR process is
shared by the whole module and each case tokenises once.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import numpy as np
import pytest
from golden_paths import load_golden

from mllmbench.core.errors import InputError
from mllmbench.suites.base import Sample
from mllmbench.suites.formats.coco_captions import load_caption_results, load_coco_captions
from mllmbench.suites.metrics import caption as caption_mod
from mllmbench.suites.metrics import caption_bootstrap as cb
from mllmbench.suites.metrics.caption import (
    CAPTION_METRICS,
    CaptionMetrics,
    MeteorSession,
    score_captions,
    score_tokenized,
)
from mllmbench.suites.metrics.caption_tokenize import ptb_tokenize

TOLERANCE = {"METEOR": 1e-9}  # golden README: METEOR 1e-9 (same jar); BLEU, ROUGE-L, CIDEr 1e-12


@pytest.fixture(scope="module")
def meteor():  # type: ignore[no-untyped-def]
    with MeteorSession() as session:
        yield session


@pytest.fixture(scope="module")
def golden_cases() -> dict:
    return load_golden("coco_caption_golden.json")["cases"]


def _random_set(seed: int, n: int) -> tuple[dict[str, list[str]], dict[str, str]]:
    rng = random.Random(seed)
    vocabulary = (
        "A a the cat dog sits on mat red blue big small runs near tree car bus, street man . café 日本 don't"
    )
    words = vocabulary.split(" ")

    def sentence(lo: int) -> str:
        return " ".join(rng.choice(words) for _ in range(rng.randint(lo, 12)))

    refs = {f"img{i}": [sentence(1) for _ in range(rng.randint(1, 5))] for i in range(n)}
    hyps = {k: sentence(0) for k in refs}
    hyps["img0"] = ""  # an empty caption is valid
    return refs, hyps


@pytest.mark.slow
def test_golden_cases(golden_cases: dict, meteor: MeteorSession) -> None:
    # One tokenizer launch for all cases: with -preserveLines every line is tokenised on its own.
    raw = {}
    for name, case in golden_cases.items():
        raw.update({(name, "gts", k): v for k, v in case["input"]["gts"].items()})
        raw.update({(name, "res", k): v for k, v in case["input"]["res"].items()})
    tokens = ptb_tokenize(raw)
    for name, case in golden_cases.items():
        out = case["output"]
        gts = {k: tokens[(name, "gts", k)] for k in case["input"]["gts"]}
        res = {k: tokens[(name, "res", k)] for k in case["input"]["res"]}
        assert gts == out["tokenized_gts"], name
        assert res == out["tokenized_res"], name
        scores = score_tokenized(gts, res, meteor=meteor)
        assert set(scores.corpus) == set(CAPTION_METRICS) | (
            {"SPICE"} if "SPICE" not in scores.notes else set()
        )
        for metric in CAPTION_METRICS:
            tol = TOLERANCE.get(metric, 1e-12)
            assert scores.corpus[metric] == pytest.approx(out["corpus"][metric], abs=tol), (name, metric)
            for image_id, value in out["per_image"][metric].items():
                assert scores.per_image[image_id][metric] == pytest.approx(value, abs=tol), (
                    name,
                    metric,
                    image_id,
                )


def test_tokenizer_output_is_identical_to_pycocoevalcap() -> None:
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    refs, hyps = _random_set(3, 12)
    captions = {**refs, "edge": ['(a) "quoted" -- U.S. $5 e-mail; ok?!', "", "...", "Ünïcode café — 日本"]}
    captions["last"] = [hyps["img1"], ""]
    expected = PTBTokenizer().tokenize({k: [{"caption": c} for c in v] for k, v in captions.items()})
    assert ptb_tokenize(captions) == expected


def test_line_breaks_inside_captions_stay_on_their_image() -> None:
    # pycocoevalcap would split these lines and shift every later caption to the wrong image.
    out = ptb_tokenize({1: ["a\rb", "c\u2028d"], 2: ["e\x0cf"], 3: ["g"]})
    assert out == {1: ["a b", "c d"], 2: ["e f"], 3: ["g"]}


@pytest.fixture(scope="module")
def random_scored(meteor: MeteorSession):  # type: ignore[no-untyped-def]
    refs, hyps = _random_set(7, 25)
    return refs, hyps, score_captions(refs, hyps, meteor=meteor)


@pytest.mark.slow
def test_matches_pycocoevalcap_pipeline_on_random_captions(random_scored, meteor: MeteorSession) -> None:  # type: ignore[no-untyped-def]
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    refs, hyps, scores = random_scored
    tok = PTBTokenizer()
    gts = tok.tokenize({k: [{"caption": c} for c in v] for k, v in refs.items()})
    res = tok.tokenize({k: [{"caption": hyps[k]}] for k in refs})
    assert scores.tokenized_references == gts and scores.tokenized_hypotheses == res
    expected: dict[str, tuple[float, list[float]]] = {}
    bleu, bleus = Bleu(4).compute_score(gts, res, verbose=0)
    for k in range(4):
        expected[f"Bleu_{k + 1}"] = (bleu[k], bleus[k])
    expected["METEOR"] = meteor.meteor.compute_score(gts, res)
    expected["ROUGE_L"] = Rouge().compute_score(gts, res)
    expected["CIDEr"] = Cider().compute_score(gts, res)
    for metric, (corpus, per_image) in expected.items():
        assert scores.corpus[metric] == corpus, metric
        assert [scores.per_image[k][metric] for k in refs] == list(per_image), metric
    assert scores.per_image["img0"]["Bleu_1"] == 0.0


@pytest.mark.slow
def test_bootstrap_replicates_equal_pycocoevalcap_on_each_resample(
    random_scored, meteor: MeteorSession
) -> None:  # type: ignore[no-untyped-def]
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge

    _, _, scores = random_scored
    gts, res = scores.tokenized_references, scores.tokenized_hypotheses
    ids = list(gts)
    indices = cb.resample_indices(len(ids), 4, seed=5)
    weights = cb.index_weights(indices, len(ids))
    bleu = cb.bleu_replicates(gts, res, ids, weights)
    cider = cb.cider_replicates(gts, res, ids, weights)
    rouge = cb.mean_replicates([scores.per_image[k]["ROUGE_L"] for k in ids], weights)
    met = cb.meteor_replicates(meteor.meteor, gts, res, ids, indices)
    assert len({tuple(row) for row in indices}) == 4 and any(len(set(row)) < len(ids) for row in indices)
    for b, row in enumerate(indices):
        # the same resample as its own corpus: duplicated images become separate documents
        g = {f"{pos}:{ids[j]}": gts[ids[j]] for pos, j in enumerate(row)}
        r = {f"{pos}:{ids[j]}": res[ids[j]] for pos, j in enumerate(row)}
        ref_bleu = Bleu(4).compute_score(g, r, verbose=0)[0]
        for k in range(4):
            assert bleu[f"Bleu_{k + 1}"][b] == pytest.approx(ref_bleu[k], abs=1e-12)
        assert cider[b] == pytest.approx(Cider().compute_score(g, r)[0], abs=1e-12)
        assert rouge[b] == pytest.approx(Rouge().compute_score(g, r)[0], abs=1e-12)
        assert met[b] == pytest.approx(meteor.meteor.compute_score(g, r)[0], abs=1e-12)
    whole = cb.index_weights(np.arange(len(ids))[None, :], len(ids))
    assert cb.cider_replicates(gts, res, ids, whole)[0] == pytest.approx(scores.corpus["CIDEr"], abs=1e-12)


def _samples(refs: dict[str, list[str]], hyps: dict[str, str]) -> list[tuple[Sample, str]]:
    return [(Sample(k, (), "caption?", references=tuple(v)), hyps[k]) for k, v in refs.items()]


@pytest.mark.slow
def test_streaming_metric_intervals_and_merge(random_scored, meteor: MeteorSession) -> None:  # type: ignore[no-untyped-def]
    refs, hyps, direct = random_scored
    whole = CaptionMetrics(resamples=40, seed=1, meteor=meteor)
    left, right = (
        CaptionMetrics(resamples=40, seed=1, meteor=meteor),
        CaptionMetrics(resamples=40, seed=1, meteor=meteor),
    )
    for i, (sample, hyp) in enumerate(_samples(refs, hyps)):
        assert whole.update(sample, hyp) == {}
        (left if i < 9 else right).update(sample, hyp)
    left.merge(right)
    result = whole.compute()
    assert left.compute() == result
    for metric in CAPTION_METRICS:
        value = result.values[metric]
        assert value.value == direct.corpus[metric] and value.n == len(refs)
        assert value.ci_low <= value.ci_high and value.ci_method == "bootstrap-percentile (B=40)"
        assert value.stderr is not None and value.stderr >= 0
    assert result.values["CIDEr"].ci_low < result.values["CIDEr"].ci_high
    assert result.per_sample["img3"] == direct.per_image["img3"]
    assert ("SPICE" in result.values) != ("SPICE" in result.notes)
    with pytest.raises(ValueError):
        whole.update(*_samples(refs, hyps)[0])
    with pytest.raises(ValueError):
        left.merge(right)
    assert CaptionMetrics().compute().values == {}


def test_child_output_can_be_kept_off_stdout(capfd: pytest.CaptureFixture[str]) -> None:
    import subprocess
    import sys

    with caption_mod.stdout_to_stderr():
        subprocess.run([sys.executable, "-c", "print('jar chatter')"], check=True)
    print("result")
    captured = capfd.readouterr()
    assert captured.out == "result\n" and "jar chatter" in captured.err


def test_spice_availability_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lib = tmp_path / "spice" / "lib"
    lib.mkdir(parents=True)
    monkeypatch.setattr(caption_mod, "corenlp_lib_dir", lambda: lib)
    reason = caption_mod.spice_unavailable_reason()
    assert reason is not None and "stanford-corenlp-3.6.0.jar" in reason and str(lib) in reason
    assert "\n" not in reason
    for name in caption_mod.SPICE_JARS:
        (lib / name).write_bytes(b"")
    assert caption_mod.spice_unavailable_reason() is None


@pytest.mark.slow
def test_single_image_gives_cider_zero_and_bad_inputs_are_refused(meteor: MeteorSession) -> None:
    scores = score_tokenized({1: ["a small cat", "one cat"]}, {1: ["a cat"]}, meteor=meteor)
    assert scores.corpus["CIDEr"] == 0.0  # quirk Q11
    assert scores.corpus["ROUGE_L"] > 0
    with pytest.raises(ValueError):
        score_captions({1: ["a"]}, {2: "a"}, meteor=meteor)
    with pytest.raises(ValueError):
        score_captions({1: []}, {1: "a"}, meteor=meteor)
    with pytest.raises(ValueError):
        score_tokenized({1: ["a"]}, {1: ["a", "b"]}, meteor=meteor)


# --- loaders --------------------------------------------------------------------------------


def _write(path: Path, obj: object) -> Path:
    path.write_text(json.dumps(obj, ensure_ascii=False), encoding="utf-8")
    return path


def _coco(tmp_path: Path) -> dict:
    return {
        "images": [
            {"id": 1, "file_name": "a.jpg"},
            {"id": 2, "file_name": "b.jpg"},
            {"id": 3, "file_name": "c.jpg"},
        ],
        "annotations": [
            {"id": 10, "image_id": 1, "caption": "A cat."},
            {"id": 11, "image_id": 2, "caption": "Un café."},
            {"id": 12, "image_id": 1, "caption": ""},
        ],
    }


def test_coco_loader_order_paths_and_uncaptioned_images(tmp_path: Path) -> None:
    path = _write(tmp_path / "c.json", _coco(tmp_path))
    data = load_coco_captions(path, image_dir=tmp_path / "img")
    assert data.image_ids == (1, 2)  # image 3 has no caption and is not evaluated
    assert data.references() == {1: ["A cat.", ""], 2: ["Un café."]}
    assert data.images[1].image_path == (tmp_path / "img" / "b.jpg").absolute()
    with pytest.raises(InputError, match="image id 1: image file not found"):
        load_coco_captions(path, image_dir=tmp_path / "img", check_images=True)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["images"].append({"id": 1, "file_name": "x.jpg"}), "duplicate image id 1"),
        (
            lambda d: d["annotations"].append({"id": 10, "image_id": 2, "caption": "x"}),
            "duplicate annotation id 10",
        ),
        (
            lambda d: d["annotations"].append({"image_id": 9, "caption": "x"}),
            "(image id 9) refers to an image id that is not",
        ),
        (lambda d: d["annotations"][0].update(caption=None), "'caption' must be a string"),
        (lambda d: d["images"][0].update(file_name="../../etc/passwd"), "escapes the dataset root"),
        (lambda d: d.pop("images"), "no 'images' list"),
    ],
)
def test_coco_loader_errors(tmp_path: Path, mutate, message: str) -> None:  # type: ignore[no-untyped-def]
    doc = _coco(tmp_path)
    mutate(doc)
    path = _write(tmp_path / "c.json", doc)
    with pytest.raises(InputError, match=re.escape(message)) as info:
        load_coco_captions(path, image_dir=tmp_path)
    assert str(path) in str(info.value)


def test_caption_results_loader(tmp_path: Path) -> None:
    ok = _write(
        tmp_path / "ok.json",
        [{"image_id": 1, "caption": "", "score": 0.1}, {"image_id": 2, "caption": "日本"}],
    )
    assert load_caption_results(ok, [1, 2]) == {1: "", 2: "日本"}
    cases = {
        "dup": (
            [{"image_id": 1, "caption": "a"}, {"image_id": 1, "caption": "b"}],
            "more than one caption for image id 1",
        ),
        "missing": ([{"image_id": 1, "caption": "a"}], "no result for image id(s) 2"),
        "unknown": (
            [
                {"image_id": 1, "caption": "a"},
                {"image_id": 2, "caption": "b"},
                {"image_id": "2", "caption": "c"},
            ],
            "image id(s) not in the annotations: '2'",
        ),
        "type": (
            [{"image_id": 1, "caption": ["a"]}, {"image_id": 2, "caption": "b"}],
            "image id 1: 'caption' must be a string",
        ),
        "noid": ([{"caption": "a"}], "result 0 has no 'image_id'"),
    }
    for name, (doc, message) in cases.items():
        path = _write(tmp_path / f"{name}.json", doc)
        with pytest.raises(InputError, match=re.escape(message)) as info:
            load_caption_results(path, [1, 2])
        assert str(path) in str(info.value)
