"""InstructBLIP adapter on a tiny random checkpoint: contract, two tokenizers, Q-Former tokens, batching."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mllmbench.adapters.instructblip import (
    PROMPT_FORMAT,
    InstructBlipAdapter,
)
from mllmbench.adapters.tiny.blip2 import QUERY_TOKENS as TINY_QUERY_TOKENS
from mllmbench.adapters.tiny.instructblip import qformer_tokenizer as build_tiny_qformer_tokenizer
from mllmbench.core.errors import InputError
from mllmbench.core.types import GenerationSettings, UnderstandRequest
from mllmbench.testing.adapter_contract import (
    check_batching,
    check_fidelity,
    sample_requests,
    synthetic_image,
)

SETTINGS = GenerationSettings(max_new_tokens=8)


@pytest.fixture(scope="module")
def tiny_instructblip_dir(tiny_checkpoint: Callable[[str], Path]) -> Path:
    """The session's tiny instructblip checkpoint (shared: copy it before changing files)."""
    return tiny_checkpoint("instructblip")


@pytest.fixture(scope="module")
def instructblip_adapter(tiny_instructblip_dir: Path) -> Iterator[InstructBlipAdapter]:
    """The adapter loaded on the tiny checkpoint, float32 on the CPU."""
    adapter = InstructBlipAdapter(str(tiny_instructblip_dir))
    adapter.load()
    yield adapter
    adapter.close()


def test_prompt_is_the_instruction_and_the_image_is_num_query_tokens(
    instructblip_adapter: InstructBlipAdapter,
) -> None:
    text = "What colour is the circle?\nAnswer the question using a single word or phrase."
    request = UnderstandRequest("a", (synthetic_image(0),), text)
    [response] = instructblip_adapter.understand([request], SETTINGS)
    assert response.prompt == text
    assert instructblip_adapter.info.chat_template == PROMPT_FORMAT
    assert (
        response.usage.image_tokens == TINY_QUERY_TOKENS == instructblip_adapter.model.config.num_query_tokens
    )
    assert instructblip_adapter.info.visual_tokens_per_image == TINY_QUERY_TOKENS
    tokenizer = instructblip_adapter.tokenizer
    text_ids = tokenizer(text)["input_ids"]
    assert text_ids[0] == tokenizer.bos_token_id
    assert response.usage.input_tokens == TINY_QUERY_TOKENS + len(text_ids)


def test_the_instruction_also_goes_to_the_qformer(instructblip_adapter: InstructBlipAdapter) -> None:
    import torch

    processor, model = instructblip_adapter.processor, instructblip_adapter.model
    text = "Is there a red square on the left?"
    inputs = instructblip_adapter.processor_inputs([text], [[synthetic_image(0)]])
    qformer_tokens = processor.qformer_tokenizer.convert_ids_to_tokens(inputs["qformer_input_ids"][0])
    assert qformer_tokens == ["[CLS]", "is", "there", "a", "red", "square", "on", "the", "left", "?", "[SEP]"]
    # Same image, another instruction: other query outputs, hence other LLM inputs.
    other = instructblip_adapter.processor_inputs(["How many shapes are there?"], [[synthetic_image(0)]])
    with torch.inference_mode():
        features = [
            model.get_image_features(
                x["pixel_values"],
                qformer_input_ids=x["qformer_input_ids"],
                qformer_attention_mask=x["qformer_attention_mask"],
                return_dict=True,
            ).pooler_output
            for x in (inputs, other)
        ]
    assert features[0].shape == (1, TINY_QUERY_TOKENS, model.config.text_config.hidden_size)
    assert (features[0] - features[1]).abs().max().item() > 1e-2


def test_qformer_tokenizer_comes_from_its_subdirectory(
    instructblip_adapter: InstructBlipAdapter, tiny_instructblip_dir: Path
) -> None:
    assert (tiny_instructblip_dir / "qformer_tokenizer" / "tokenizer.json").is_file()
    loaded = instructblip_adapter.processor.qformer_tokenizer
    assert loaded.get_vocab() == build_tiny_qformer_tokenizer().get_vocab()
    assert len(loaded) == instructblip_adapter.model.config.qformer_config.vocab_size
    # BERT-style right padding for the Q-Former, left padding for the LLM.
    assert (loaded.padding_side, instructblip_adapter.tokenizer.padding_side) == ("right", "left")


def test_info_parameter_groups_match_the_model(instructblip_adapter: InstructBlipAdapter) -> None:
    model = instructblip_adapter.model

    def count(module: object) -> int:
        return sum(p.numel() for p in module.parameters())  # type: ignore[attr-defined]

    params = instructblip_adapter.info.parameters
    assert params["vision"] == count(model.vision_model)
    assert params["connector"] == (
        count(model.qformer) + count(model.language_projection) + model.query_tokens.numel()
    )
    assert params["llm"] == count(model.language_model)
    assert params["total"] == count(model) == params["vision"] + params["connector"] + params["llm"]
    paradigm = instructblip_adapter.info.paradigm
    assert (paradigm.vision_encoder, paradigm.llm_backbone) == ("InstructBlipVisionModel", "LlamaForCausalLM")
    assert str(paradigm.connector) == "qformer"


def test_fidelity_against_direct_transformers(instructblip_adapter: InstructBlipAdapter) -> None:
    for request in sample_requests(3):
        check_fidelity(instructblip_adapter, request, SETTINGS)


def test_batch_of_eight_equals_one_at_a_time(instructblip_adapter: InstructBlipAdapter) -> None:
    requests = sample_requests(8)
    batched = check_batching(instructblip_adapter, requests, SETTINGS)
    assert len({r.usage.input_tokens for r in batched}) > 1, "no padding happened in the batch"


def test_requests_need_exactly_one_image(instructblip_adapter: InstructBlipAdapter) -> None:
    two = UnderstandRequest("two", (synthetic_image(0), synthetic_image(1)), "Hi?")
    with pytest.raises(InputError, match=r"sample 'two'.*instructblip takes exactly one image"):
        instructblip_adapter.understand([two], SETTINGS)
