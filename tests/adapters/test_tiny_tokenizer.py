"""The offline tiny tokenizer shared by every family's tiny checkpoint."""

from __future__ import annotations

from pathlib import Path

from mllmbench.adapters.tiny.tokenizer import COLOURS, SHAPES, build_tiny_tokenizer, default_corpus


def test_same_arguments_give_the_same_tokenizer() -> None:
    first = build_tiny_tokenizer(extra_special_tokens=["<image>"])
    second = build_tiny_tokenizer(extra_special_tokens=["<image>"])
    assert first.backend_tokenizer.to_str() == second.backend_tokenizer.to_str()
    assert len(first) == 500
    assert default_corpus() == default_corpus()


def test_special_tokens_have_the_lowest_ids_and_are_single_tokens() -> None:
    tokenizer = build_tiny_tokenizer(extra_special_tokens={"image_token": "<image>", "boi_token": "<boi>"})
    ids = tokenizer.convert_tokens_to_ids(["<unk>", "<s>", "</s>", "<pad>", "<image>", "<boi>"])
    assert ids == [0, 1, 2, 3, 4, 5]
    assert (tokenizer.image_token, tokenizer.boi_token) == ("<image>", "<boi>")
    encoded = tokenizer("USER: <image><boi>\nHi")["input_ids"]
    assert encoded[0] == tokenizer.bos_token_id
    assert 4 in encoded and 5 in encoded
    assert tokenizer.decode(encoded, skip_special_tokens=True) == "USER: \nHi"


def test_shapes_words_are_single_tokens_and_text_round_trips() -> None:
    tokenizer = build_tiny_tokenizer(add_bos_token=False)
    for word in (*COLOURS, *SHAPES[:5], "yes", "no", "three", "ASSISTANT"):
        assert len(tokenizer(" " + word)["input_ids"]) == 1, word
    text = "Is there a purple triangle? ASSISTANT: no, 3 stars (ünïcödé)"
    assert tokenizer.decode(tokenizer(text)["input_ids"]) == text


def test_without_bos_and_with_added_tokens() -> None:
    tokenizer = build_tiny_tokenizer(bos_token=None, unk_token=None, added_tokens=["<row_1_col_1>"])
    assert tokenizer.bos_token is None
    assert tokenizer.convert_tokens_to_ids(["</s>", "<pad>"]) == [0, 1]
    encoded = tokenizer("a <row_1_col_1> b")["input_ids"]
    assert tokenizer.convert_tokens_to_ids("<row_1_col_1>") in encoded
    assert tokenizer.decode(encoded, skip_special_tokens=True) == "a <row_1_col_1> b"


def test_save_and_reload_offline(tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = build_tiny_tokenizer(extra_special_tokens={"image_token": "<image>"})
    tokenizer.save_pretrained(tmp_path)
    reloaded = AutoTokenizer.from_pretrained(tmp_path)
    text = "USER: <image>\nWhat colour is the circle? ASSISTANT:"
    assert reloaded(text)["input_ids"] == tokenizer(text)["input_ids"]
    assert reloaded.image_token == "<image>" and reloaded.pad_token == "<pad>"
    assert "token_type_ids" not in reloaded(text)


def test_old_module_name_still_imports_with_a_deprecation_warning() -> None:
    import importlib
    import sys

    import pytest

    from mllmbench.adapters.tiny import tokenizer

    sys.modules.pop("mllmbench.adapters.tiny_tokenizer", None)
    with pytest.warns(DeprecationWarning, match=r"mllmbench\.adapters\.tiny\.tokenizer"):
        old = importlib.import_module("mllmbench.adapters.tiny_tokenizer")
    assert old.build_tiny_tokenizer is tokenizer.build_tiny_tokenizer
