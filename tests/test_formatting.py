"""Golden strings of the one number formatter (core/formatting.py) and the one text table."""

from __future__ import annotations

import re

import pytest

from mllmbench.core import formatting as f
from mllmbench.core.text_table import text_table

SCIENTIFIC = re.compile(r"\d[eE][+-]?\d")


@pytest.mark.parametrize(
    ("name", "value", "unit", "expected"),
    [
        ("vqa_accuracy", 57.25, "%", "57.3%"),
        ("vqa_accuracy/yes/no", 100.0, "%", "100.0%"),
        ("vqa_accuracy", 0.0, "%", "0.0%"),
        ("exact_match", 3.3333, "%", "3.3%"),
        ("CIDEr", 1.254321, "", "1.25"),
        ("CIDEr", 0.00033144191050434106, "", "<0.001"),
        ("Bleu_1", 0.0026613000682383006, "", "0.00266"),
        ("Bleu_2", 4.056157771081435e-11, "", "<0.001"),
        ("Bleu_4", 0.6789, "", "0.679"),
        ("METEOR", 0.09996, "", "0.100"),
        ("ROUGE_L", 0.0, "", "0"),
        ("SPICE", 0.2, "", "0.200"),
        ("fid", 12.3456, "", "12.35"),
        ("fid", 0.123456, "", "0.123"),
        ("fid", -5.655e-17, "", "0.000"),
        ("fd_dinov2", 312.1, "", "312.10"),
        ("kid", 0.0123456, "", "0.0123"),
        ("clip_score", 31.234, "", "31.2"),
        ("clipscore", 0.7712, "", "0.771"),
        ("ttft", 0.01234, "s", "12.3 ms"),
        ("e2e_latency", 1.5, "s", "1.50 s"),
        ("time_decode", 123.4, "s", "123 s"),
        ("decode_tokens_per_s", 1234.5, "tokens/s", "1235 tokens/s"),
        ("throughput_samples_per_s", 3.21, "samples/s", "3.21 samples/s"),
        ("images_per_second", 0.5, "", "0.500 img/s"),
        ("peak_rss", 1536.0, "MiB", "1.5 GiB"),
        ("weights_memory", 0.5, "MiB", "512.0 KiB"),
        ("visual_tokens_per_image", 576.0, "tokens", "576 tokens"),
        ("nfe", 50.0, "", "50"),
        ("image_tokens", 12.5, "", "12.5"),
        ("CIDEr", None, "", "n/a"),
        ("CIDEr", float("nan"), "", "nan"),
        ("fid", float("inf"), "", "inf"),
    ],
)
def test_metric_golden_strings(name: str, value: float | None, unit: str, expected: str) -> None:
    assert f.format_metric(name, value, unit) == expected


def test_primitives() -> None:
    assert f.bytes_(0) == "0 B"
    assert f.bytes_(1023) == "1023 B"
    assert f.bytes_(1024) == "1.0 KiB"
    assert f.bytes_(5 * 2**30) == "5.0 GiB"
    assert f.significant(123456.7) == "123457"
    assert f.significant(-0.5) == "-0.500"
    assert f.significant(1e-300) == "<0.001"
    assert f.percent(-0.01) == "0.0%"
    assert f.seconds(0.0) == "0 s"
    assert f.format_interval("vqa_accuracy", 55.12, 59.49, "%") == "[55.1%, 59.5%]"
    assert f.format_interval("CIDEr", None, 1.0) == "-"
    assert f.format_metric_value("CIDEr", {"value": 2.0, "unit": ""}) == "2.00"


def test_no_scientific_notation_anywhere() -> None:
    """Across magnitudes from 1e-300 to 1e12, no kind of metric ever prints an exponent."""
    names = [
        ("vqa_accuracy", "%"),
        ("CIDEr", ""),
        ("fid", ""),
        ("kid", ""),
        ("ttft", "s"),
        ("peak_rss", "MiB"),
        ("decode_tokens_per_s", "tokens/s"),
        ("nfe", ""),
    ]
    for exp in range(-300, 13):
        for sign in (1, -1):
            for name, unit in names:
                text = f.format_metric(name, sign * 5.655 * 10.0**exp, unit)
                assert not SCIENTIFIC.search(text), (name, exp, text)


def test_run_labels() -> None:
    home = "/home/u/.cache/mllm-bench/tiny"
    assert f.run_labels([("llava", f"{home}/llava", "sha256:abcdef0123")]) == ["llava · tiny-llava"]
    assert f.run_labels([("llava", "llava-hf/llava-1.5-7b-hf", "")]) == ["llava · llava-1.5-7b-hf"]
    two = f.run_labels([("llava", "/a/ckpt", "sha256:111111ff"), ("llava", "/b/ckpt", "sha256:222222ff")])
    assert two == ["llava · ckpt · 111111", "llava · ckpt · 222222"]
    same = f.run_labels([("blip2", "/a/m", "abc123"), ("blip2", "/a/m", "abc123"), ("llava", "/a/m", "x")])
    assert same == ["blip2 · m · abc123 #1", "blip2 · m · abc123 #2", "llava · m"]


def test_text_table() -> None:
    table = text_table(["suite", "value"], [("vqa", "57.3%"), ("caption", "1.25")], right=[1])
    assert table.splitlines() == ["suite    value", "-------  -----", "vqa      57.3%", "caption   1.25"]
    with pytest.raises(ValueError, match="2 cells"):
        text_table(["a"], [("x", "y")])


def test_run_summary_table_reads_dicts_and_objects() -> None:
    from types import SimpleNamespace

    from mllmbench.core.text_table import run_summary_table

    suites = {
        "vqa": {
            "n_errors": 0,
            "metrics": {
                "vqa_accuracy": {"value": 57.25, "unit": "%", "ci_low": 50.0, "ci_high": 64.5, "n": 8}
            },
            "notes": {},
        },
        "caption": SimpleNamespace(
            n_errors=1,
            metrics={"Bleu_2": SimpleNamespace(value=4.056e-11, unit="", ci_low=1.9e-11, ci_high=6e-11, n=8)},
            notes={"SPICE": "jar missing"},
        ),
    }
    lines = run_summary_table(suites).splitlines()
    assert lines[0].split() == ["suite", "metric", "value", "95%", "interval", "n", "errors"]
    assert lines[2].split() == ["vqa", "vqa_accuracy", "57.3%", "[50.0%,", "64.5%]", "8", "0"]
    assert lines[3].split() == ["caption", "Bleu_2", "<0.001", "[<0.001,", "<0.001]", "8", "1"]
    assert lines[4].split()[:3] == ["caption", "SPICE", "n/a"]
    assert not SCIENTIFIC.search("\n".join(lines))
