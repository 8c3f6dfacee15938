"""The metrics the benchmark suites add, each against an independent reference.

- EvalAI-processed VQA accuracy: the golden vectors made by running lmms-eval's own code.
- lmms-eval exact match: its numpy implementation, transcribed here operation by operation.
- Per-domain caption metrics: pycocoevalcap's tokenizer and scorers called directly on each
  domain's images.
"""

from __future__ import annotations

import string
from typing import Any

import numpy as np
import pytest
from golden_paths import load_golden

from mllmbench.suites.base import Sample
from mllmbench.suites.metrics.evalai_vqa import EvalAIVQAAccuracy, evalai_accuracy, evalai_normalize
from mllmbench.suites.metrics.exact_match import ExactMatch, exact_match


@pytest.fixture(scope="module")
def vqa_golden() -> dict:
    return load_golden("vqa_accuracy_golden.json")


def _sample(sid: str, refs: tuple[str, ...], **meta: object) -> Sample:
    return Sample(sample_id=sid, image_paths=(), text="", references=refs, meta=meta)


# ------------------------------------------------------------------------------ EvalAI accuracy
def test_evalai_matches_lmms_eval_golden(vqa_golden: dict) -> None:
    for case in vqa_golden["cases"]:
        acc = evalai_accuracy(case["prediction"], case["gt_answers"])
        assert 100 * acc == case["lmms_eval_textvqa_style"], case["question_id"]
        assert evalai_normalize(case["prediction"]) == case["lmms_eval_textvqa_style_normalised_pred"]


def test_evalai_metric_aggregate_matches_golden(vqa_golden: dict) -> None:
    full, a, b = EvalAIVQAAccuracy(), EvalAIVQAAccuracy(), EvalAIVQAAccuracy()
    for k, case in enumerate(vqa_golden["cases"]):
        s = _sample(str(case["question_id"]), tuple(case["gt_answers"]), answer_type=case["answer_type"])
        full.update(s, case["prediction"])
        (a if k % 2 else b).update(s, case["prediction"])
    a.merge(b)
    expected = vqa_golden["aggregates"]["lmms_eval_textvqa_style_overall"]
    for metric in (full, a):
        values = metric.compute().values
        assert values["vqa_accuracy"].value == pytest.approx(expected, abs=1e-9)
        assert values["vqa_accuracy"].n == len(vqa_golden["cases"])
        assert set(values) == {
            "vqa_accuracy",
            "vqa_accuracy/yes/no",
            "vqa_accuracy/number",
            "vqa_accuracy/other",
        }


def test_evalai_empty_answers_and_misuse() -> None:
    with pytest.raises(ValueError, match="no reference answers"):
        EvalAIVQAAccuracy().update(_sample("1", ()), "x")
    assert EvalAIVQAAccuracy("zero").update(_sample("1", ()), "x") == {"vqa_accuracy": 0.0}
    m = EvalAIVQAAccuracy()
    m.update(_sample("1", ("a",) * 10), "a")
    with pytest.raises(ValueError, match="scored twice"):
        m.update(_sample("1", ("a",) * 10), "a")
    with pytest.raises(TypeError):
        m.merge(EvalAIVQAAccuracy("zero"))
    assert EvalAIVQAAccuracy().compute().notes == {"vqa_accuracy": "no samples were scored"}


# ------------------------------------------------------------------------------ exact match
def lmms_eval_exact_match(predictions: list[str], references: list[str]) -> np.ndarray:
    """lmms-eval ``exact_match_hf_evaluate`` with ignore_case and ignore_punctuation, per item."""
    preds: Any = np.asarray(predictions)
    refs: Any = np.asarray(references)
    preds = np.char.lower(preds)
    refs = np.char.lower(refs)
    repl_table: Any = string.punctuation.maketrans("", "", string.punctuation)
    preds = np.char.translate(preds, table=repl_table)
    refs = np.char.translate(refs, table=repl_table)
    return np.asarray(preds == refs)


CASES = [
    ("yes", "yes"),
    ("Yes.", "yes"),
    ("yes ", "yes"),
    ("left side", "left"),
    ("T-shirt", "tshirt"),
    ("t shirt", "tshirt"),
    ("Brown!", "brown"),
    ("the man", "man"),
    ("ÉTÉ", "été"),
    ("", ""),
    ("3.5", "35"),
    ("don't", "dont"),
    ("no", "No"),
]


def test_exact_match_equals_lmms_eval_numpy() -> None:
    expected = lmms_eval_exact_match([p for p, _ in CASES], [r for _, r in CASES])
    got = [exact_match(p, [r]) for p, r in CASES]
    assert got == [float(e) for e in expected]
    assert 0 < sum(got) < len(got)


def test_exact_match_metric_breakdown_and_merge() -> None:
    a, b = ExactMatch(breakdown="structural"), ExactMatch(breakdown="structural")
    for k, (pred, ref) in enumerate(CASES):
        s = _sample(str(k), (ref,), structural="verify" if k < 5 else "query")
        (a if k % 2 else b).update(s, pred)
    a.merge(b)
    values = a.compute().values
    hits = lmms_eval_exact_match([p for p, _ in CASES], [r for _, r in CASES])
    assert values["exact_match"].value == pytest.approx(100 * hits.mean())
    assert values["exact_match/verify"].value == pytest.approx(100 * hits[:5].mean())
    assert values["exact_match/query"].value == pytest.approx(100 * hits[5:].mean())
    with pytest.raises(TypeError):
        a.merge(ExactMatch())
    with pytest.raises(ValueError, match="no reference"):
        ExactMatch().update(_sample("x", ()), "a")


# ------------------------------------------------------------------------------ caption domains
DOMAIN_REFS = {
    "0": (
        "a baby is standing in front of a house .",
        "a little girl in a white jacket",
        "a child stands by a house",
    ),
    "1": (
        "a red and white bus driving down the street",
        "a big bus is on a city street",
        "a double decker bus on a road",
    ),
    "2": (
        "a jellyfish floating in dark blue water",
        "a purple jellyfish in the ocean",
        "an orange jelly fish swims",
    ),
    "3": (
        "a man riding a horse on a beach",
        "a person on a brown horse near the water",
        "someone rides a horse by the sea",
    ),
    "4": (
        "a red bus parked near a building",
        "a bus on the road in the city",
        "a city bus waiting at a stop",
    ),
}
DOMAIN_OF = {"0": "in-domain", "1": "near-domain", "2": "out-domain", "3": "near-domain", "4": "near-domain"}
HYPS = {
    "0": "A small child standing in front of a house.",
    "1": "A red bus on a city street.",
    "2": "A jellyfish in the blue ocean.",
    "3": "A man on a horse on the beach.",
    "4": "A bus in the city.",
}


@pytest.mark.slow
def test_domain_caption_metrics_equal_pycocoevalcap_per_domain() -> None:
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    from mllmbench.suites.metrics.caption_domains import DomainCaptionMetrics

    metric = DomainCaptionMetrics(resamples=0, spice=False)
    for sid, refs in DOMAIN_REFS.items():
        metric.update(_sample(sid, refs, domain=DOMAIN_OF[sid]), HYPS[sid])
    result = metric.compute()
    for domain in ("in-domain", "near-domain", "out-domain", None):
        ids = [k for k in DOMAIN_REFS if domain is None or DOMAIN_OF[k] == domain]
        tok = PTBTokenizer()
        gts = tok.tokenize({k: [{"caption": c} for c in DOMAIN_REFS[k]] for k in ids})
        res = tok.tokenize({k: [{"caption": HYPS[k]}] for k in ids})
        suffix = "" if domain is None else f"/{domain}"
        bleu, _ = Bleu(4).compute_score(gts, res, verbose=0)
        cider, _ = Cider().compute_score(gts, res)
        rouge, _ = Rouge().compute_score(gts, res)
        assert result.values[f"Bleu_4{suffix}"].value == pytest.approx(bleu[3], abs=1e-12)
        assert result.values[f"CIDEr{suffix}"].value == pytest.approx(cider, abs=1e-12)
        assert result.values[f"ROUGE_L{suffix}"].value == pytest.approx(rouge, abs=1e-12)
        assert result.values[f"METEOR{suffix}"].n == len(ids)
    # CIDEr of a domain is not the mean of the overall per-image values (idf of the subset).
    near = [k for k in DOMAIN_REFS if DOMAIN_OF[k] == "near-domain"]
    mean_overall = sum(result.per_sample[k]["CIDEr"] for k in near) / len(near)
    assert result.values["CIDEr/near-domain"].value != pytest.approx(mean_overall, abs=1e-6)
