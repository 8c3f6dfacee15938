"""BLIP-2 adapter on a tiny random checkpoint: contract, prompt format, Q-Former tokens, batching."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mllmbench.adapters.blip2 import PROMPT_FORMAT, Blip2Adapter
from mllmbench.adapters.tiny.blip2 import QUERY_TOKENS as TINY_QUERY_TOKENS
from mllmbench.core.errors import ConfigError, InputError
from mllmbench.core.types import GenerationSettings, UnderstandRequest
from mllmbench.testing.adapter_contract import (
    check_batching,
    check_fidelity,
    sample_requests,
    synthetic_image,
)

SETTINGS = GenerationSettings(max_new_tokens=8)


@pytest.fixture(scope="module")
def tiny_blip2_dir(tiny_checkpoint: Callable[[str], Path]) -> Path:
    """The session's tiny blip2 checkpoint (shared: copy it before changing files)."""
    return tiny_checkpoint("blip2")


@pytest.fixture(scope="module")
def blip2_adapter(tiny_blip2_dir: Path) -> Iterator[Blip2Adapter]:
    """The adapter loaded on the tiny checkpoint, float32 on the CPU."""
    adapter = Blip2Adapter(str(tiny_blip2_dir))
    adapter.load()
    yield adapter
    adapter.close()


def test_prompt_is_question_answer_and_the_image_is_num_query_tokens(blip2_adapter: Blip2Adapter) -> None:
    text = "What colour is the circle?\nAnswer the question using a single word or phrase."
    [response] = blip2_adapter.understand([UnderstandRequest("a", (synthetic_image(0),), text)], SETTINGS)
    assert response.prompt == f"Question: {text} Answer:"
    assert blip2_adapter.info.chat_template == PROMPT_FORMAT
    config = blip2_adapter.model.config
    assert response.usage.image_tokens == TINY_QUERY_TOKENS == config.num_query_tokens
    assert blip2_adapter.info.visual_tokens_per_image == TINY_QUERY_TOKENS
    tokenizer = blip2_adapter.tokenizer
    text_ids = tokenizer(response.prompt)["input_ids"]
    assert text_ids[0] == tokenizer.bos_token_id == config.text_config.bos_token_id
    # The query tokens go in front of the BOS token; the text is not expanded.
    assert response.usage.input_tokens == TINY_QUERY_TOKENS + len(text_ids)


def test_query_count_does_not_depend_on_the_image_size(blip2_adapter: Blip2Adapter) -> None:
    from PIL import Image

    requests = [
        UnderstandRequest(f"s{i}", (Image.new("RGB", size, (200, 10, 10)),), "Describe the image.")
        for i, size in enumerate([(16, 16), (300, 40), (640, 480)])
    ]
    counts = {r.usage.image_tokens for r in blip2_adapter.understand(requests, SETTINGS)}
    assert counts == {TINY_QUERY_TOKENS}


def test_info_parameter_groups_match_the_model(blip2_adapter: Blip2Adapter) -> None:
    model = blip2_adapter.model

    def count(module: object) -> int:
        return sum(p.numel() for p in module.parameters())  # type: ignore[attr-defined]

    params = blip2_adapter.info.parameters
    assert params["vision"] == count(model.vision_model)
    queries = model.query_tokens.numel()
    assert queries == TINY_QUERY_TOKENS * model.config.qformer_config.hidden_size
    assert params["connector"] == count(model.qformer) + count(model.language_projection) + queries
    assert params["llm"] == count(model.language_model)
    assert "other" not in params
    assert params["total"] == count(model) == params["vision"] + params["connector"] + params["llm"]
    paradigm = blip2_adapter.info.paradigm
    assert (paradigm.vision_encoder, paradigm.llm_backbone) == ("Blip2VisionModel", "OPTForCausalLM")
    assert str(paradigm.connector) == "qformer"


def test_fidelity_against_direct_transformers(blip2_adapter: Blip2Adapter) -> None:
    for request in sample_requests(3):
        check_fidelity(blip2_adapter, request, SETTINGS)


def test_batch_of_eight_equals_one_at_a_time(blip2_adapter: Blip2Adapter) -> None:
    requests = sample_requests(8)
    batched = check_batching(blip2_adapter, requests, SETTINGS)
    # Rows of different prompt lengths were padded inside the batch (between the query tokens
    # and the text), yet gave the single-request answers.
    assert len({r.usage.input_tokens for r in batched}) > 1


@pytest.mark.parametrize("n_images", [0, 2])
def test_requests_need_exactly_one_image(blip2_adapter: Blip2Adapter, n_images: int) -> None:
    images = tuple(synthetic_image(i) for i in range(n_images))
    with pytest.raises(InputError, match=r"sample 'bad'.*exactly one image.*got " + str(n_images)):
        blip2_adapter.understand([*sample_requests(1), UnderstandRequest("bad", images, "Hi?")], SETTINGS)


def test_processor_config_without_num_query_tokens_uses_the_model_config(
    tiny_blip2_dir: Path, blip2_adapter: Blip2Adapter, tmp_path: Path
) -> None:
    copy = Path(shutil.copytree(tiny_blip2_dir, tmp_path / "legacy-processor"))
    config = json.loads((copy / "processor_config.json").read_text())
    del config["num_query_tokens"]
    (copy / "processor_config.json").write_text(json.dumps(config))
    legacy = Blip2Adapter(str(copy))
    legacy.load()
    requests = sample_requests(2)
    expected = blip2_adapter.understand(requests, SETTINGS)
    answers = legacy.understand(requests, SETTINGS)
    assert [r.usage.image_tokens for r in answers] == [TINY_QUERY_TOKENS] * 2
    assert [r.text for r in answers] == [r.text for r in expected]


def test_model_config_without_image_token_index_is_a_config_error(
    tiny_blip2_dir: Path, tmp_path: Path
) -> None:
    copy = Path(shutil.copytree(tiny_blip2_dir, tmp_path / "legacy-model"))
    config = json.loads((copy / "config.json").read_text())
    del config["image_token_index"]
    (copy / "config.json").write_text(json.dumps(config))
    with pytest.raises(ConfigError, match="image_token_index"):
        Blip2Adapter(str(copy)).load()


def test_encoder_decoder_llm_is_a_config_error(tiny_blip2_dir: Path, tmp_path: Path) -> None:
    import torch
    from transformers import (
        Blip2Config,
        Blip2ForConditionalGeneration,
        Blip2QFormerConfig,
        Blip2VisionConfig,
        T5Config,
    )

    from mllmbench.adapters.tiny.blip2 import blip_vision_config, qformer_config

    opt_config = json.loads((tiny_blip2_dir / "config.json").read_text())
    config = Blip2Config(
        vision_config=blip_vision_config(Blip2VisionConfig),
        qformer_config=qformer_config(Blip2QFormerConfig, vocab_size=64),
        text_config=T5Config(
            vocab_size=opt_config["text_config"]["vocab_size"],
            d_model=32,
            d_kv=8,
            d_ff=64,
            num_layers=1,
            num_heads=4,
            decoder_start_token_id=0,
        ),
        num_query_tokens=TINY_QUERY_TOKENS,
        image_token_index=opt_config["image_token_index"],
    )
    with torch.random.fork_rng(devices=[]):
        Blip2ForConditionalGeneration(config).save_pretrained(tmp_path)
    for name in ("processor_config.json", "tokenizer.json", "tokenizer_config.json"):
        shutil.copy(tiny_blip2_dir / name, tmp_path / name)
    with pytest.raises(ConfigError, match="encoder-decoder LLM.*T5ForConditionalGeneration"):
        Blip2Adapter(str(tmp_path)).load()
