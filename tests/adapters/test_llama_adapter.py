"""The LLaMA-Adapter reference model: zero gate = Llama, per-sample visual prompts, batching, cache, I/O."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

from mllmbench.adapters.tiny import llama_adapter as tiny  # noqa: E402
from mllmbench.testing.adapter_contract import synthetic_image  # noqa: E402

QUESTIONS = ("What colour is the circle?", "How many shapes are there? Answer with one number please.")


@pytest.fixture(scope="module")
def processor() -> Any:
    return tiny.build_processor()


def fresh_model(processor: Any, seed: int = 0) -> Any:
    """A fresh model: every adaption gate is zero."""
    from mllmbench.adapters.reference.adaption_prompt import LlamaAdapterForConditionalGeneration
    from mllmbench.adapters.tiny.language_models import llama_config
    from mllmbench.adapters.tiny.vision_towers import clip_vision_config

    return LlamaAdapterForConditionalGeneration.from_zoo_parts(
        clip_vision_config(),
        llama_config(processor.tokenizer),
        processor.image_token_id,
        adapter_len=tiny.ADAPTER_LEN,
        seed=seed,
    )


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny.build(tmp_path_factory.mktemp("tiny-llama-adapter"), seed=0)


@pytest.fixture(scope="module")
def gated(tiny_dir: Path) -> Any:
    """The tiny checkpoint (gates 0.5) loaded through AutoModelForImageTextToText."""
    from transformers import AutoModelForImageTextToText

    import mllmbench.adapters.reference.adaption_prompt  # noqa: F401  (registers the Auto classes)

    return AutoModelForImageTextToText.from_pretrained(tiny_dir).eval()


def inputs_for(processor: Any, indices: tuple[int, ...], questions: tuple[str, ...] = QUESTIONS) -> Any:
    prompts = [
        processor.apply_chat_template(
            [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": q}]}],
            add_generation_prompt=True,
        )
        for q in questions[: len(indices)]
    ]
    processor.tokenizer.padding_side = "left"
    images = [synthetic_image(i) for i in indices]
    return processor(text=prompts, images=images, return_tensors="pt", padding=True)


def plain_llama(model: Any) -> Any:
    """A real LlamaForCausalLM holding the adapter model's LLM weights (no prompts, no gates)."""
    from transformers import LlamaForCausalLM

    llama = LlamaForCausalLM(model.config.text_config).eval()
    state = {
        key.replace(".self_attn.model.", ".self_attn."): value
        for key, value in model.language_model.state_dict().items()
        if ".adaption_" not in key
    }
    llama.load_state_dict(state, strict=True)
    return llama


def test_one_placeholder_token_per_image(processor: Any) -> None:
    inputs = inputs_for(processor, (0, 1))
    assert (inputs["input_ids"] == processor.image_token_id).sum(dim=1).tolist() == [1, 1]


def test_zero_gate_equals_the_base_llama(processor: Any) -> None:
    model = fresh_model(processor)
    assert all(float(layer.adaption_gate.detach()) == 0.0 for layer in model.adapted_attentions())
    assert len(model.adapted_attentions()) == model.config.text_config.num_hidden_layers
    llama = plain_llama(model)
    inputs = inputs_for(processor, (0, 1))
    assert int(inputs["attention_mask"].eq(0).sum()) > 0, "want left padding in the batch"
    text = {k: inputs[k] for k in ("input_ids", "attention_mask")}
    with torch.inference_mode():
        ours = model(**inputs).logits
        theirs = llama(**text).logits
        assert torch.equal(ours, theirs)
        a = model.generate(**inputs, max_new_tokens=6, do_sample=False)
        b = llama.generate(**text, max_new_tokens=6, do_sample=False)
    assert torch.equal(a, b)


def test_gated_prompt_depends_on_each_samples_image(gated: Any, processor: Any) -> None:
    same_question = (QUESTIONS[0], QUESTIONS[0])
    with torch.inference_mode():
        pair = gated(**inputs_for(processor, (0, 1), same_question)).logits[:, -1]
        swapped = gated(**inputs_for(processor, (1, 0), same_question)).logits[:, -1]
        alone = gated(**inputs_for(processor, (0,), same_question)).logits[0, -1]
    assert float((pair[0] - pair[1]).abs().max()) > 1e-3, "two images gave the same output"
    torch.testing.assert_close(pair[0], swapped[1], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(pair[0], alone, atol=1e-5, rtol=1e-5)
    llama = plain_llama(gated)
    text = inputs_for(processor, (0,), same_question)
    with torch.inference_mode():
        base = llama(input_ids=text["input_ids"], attention_mask=text["attention_mask"]).logits[0, -1]
    assert float((alone - base).abs().max()) > 1e-3, "a non-zero gate changed nothing"


def test_batch_one_equals_batch_n(gated: Any, processor: Any) -> None:
    questions = (*QUESTIONS, "Describe the image.", "Is the triangle on the top?")
    indices = (0, 1, 2, 3)
    batched = inputs_for(processor, indices, questions)
    with torch.inference_mode():
        rows = gated.generate(**batched, max_new_tokens=8, do_sample=False)
        singles = [
            gated.generate(**inputs_for(processor, (i,), (questions[k],)), max_new_tokens=8, do_sample=False)
            for k, i in enumerate(indices)
        ]
    width = batched["input_ids"].shape[1]
    for k, single in enumerate(singles):
        assert rows[k, width:].tolist() == single[0, single.shape[1] - 8 :].tolist(), k
    assert len({tuple(r[width:].tolist()) for r in rows}) > 1


def test_generate_with_cache_equals_without(gated: Any, processor: Any) -> None:
    inputs = inputs_for(processor, (2, 3))
    with torch.inference_mode():
        cached = gated.generate(**inputs, max_new_tokens=8, do_sample=False, use_cache=True)
        uncached = gated.generate(**inputs, max_new_tokens=8, do_sample=False, use_cache=False)
    assert torch.equal(cached, uncached)


def test_save_load_round_trip(gated: Any, processor: Any, tmp_path: Path) -> None:
    from mllmbench.adapters.reference.adaption_prompt import LlamaAdapterForConditionalGeneration

    gated.save_pretrained(tmp_path)
    again = LlamaAdapterForConditionalGeneration.from_pretrained(tmp_path).eval()
    assert [float(layer.adaption_gate.detach()) for layer in again.adapted_attentions()] == [tiny.GATE] * 2
    for a, b in zip(gated.adapted_attentions(), again.adapted_attentions(), strict=True):
        assert torch.equal(a.adaption_prompt, b.adaption_prompt)
    inputs = inputs_for(processor, (0, 1))
    with torch.inference_mode():
        assert torch.equal(gated(**inputs).logits, again(**inputs).logits)


def test_labels_loss_and_what_trains(processor: Any) -> None:
    model = fresh_model(processor, seed=3).train()
    with torch.no_grad():
        for layer in model.adapted_attentions():
            layer.adaption_gate.fill_(0.3)
    inputs = inputs_for(processor, (0,))
    labels = inputs["input_ids"].clone()
    out = model(**inputs, labels=labels)
    expected = torch.nn.functional.cross_entropy(out.logits[0, :-1], labels[0, 1:])
    torch.testing.assert_close(out.loss, expected)
    out.loss.backward()
    trainable = {n for n, p in model.language_model.named_parameters() if p.requires_grad}
    assert trainable and all(".adaption_" in n for n in trainable), "peft freezes the LLM but the prompts"
    assert model.visual_projection.weight.grad is not None
    assert float(model.visual_projection.weight.grad.abs().max()) > 0


def test_one_image_per_sample(gated: Any, processor: Any) -> None:
    inputs = inputs_for(processor, (0, 1))
    with pytest.raises(ValueError, match="one image per sample"):
        gated(input_ids=inputs["input_ids"][:1], pixel_values=inputs["pixel_values"])


# --- the adapter ---------------------------------------------------------------------------------
def test_adapter_contract_fidelity_and_batching(tiny_dir: Path) -> None:
    from mllmbench.adapters.llama_adapter import LlamaAdapterAdapter
    from mllmbench.core.types import GenerationSettings
    from mllmbench.testing.adapter_contract import (
        check_batching,
        check_fidelity,
        check_understanding_contract,
        sample_requests,
    )

    settings = GenerationSettings(max_new_tokens=8)
    adapter = check_understanding_contract(LlamaAdapterAdapter, tiny_dir, settings=settings)
    try:
        for request in sample_requests(3):
            response = check_fidelity(adapter, request, settings)
            assert response.usage.image_tokens == 1
        check_batching(adapter, sample_requests(6), settings)
        info = adapter.info
        assert info.visual_tokens_per_image == tiny.ADAPTER_LEN
        assert str(info.paradigm.connector) == "adaption_prompt"
        assert (info.paradigm.vision_encoder, info.paradigm.llm_backbone) == (
            "CLIPVisionModel",
            "LlamaForCausalLM",
        )
        model = adapter.model
        prompts = sum(p.numel() for n, p in model.named_parameters() if ".adaption_" in n)
        params = info.parameters
        assert prompts == 2 * (tiny.ADAPTER_LEN * model.config.text_config.hidden_size + 1)
        assert params["connector"] == prompts + sum(p.numel() for p in model.visual_projection.parameters())
        assert params["llm"] == sum(p.numel() for p in model.language_model.parameters()) - prompts
        assert params["vision"] + params["connector"] + params["llm"] == params["total"]
    finally:
        adapter.close()
