"""The visual-expert reference model (CogVLM design): copied expert = LLaVA, routing, batching, cache, I/O."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")

from mllmbench.adapters.tiny import visual_expert as tiny  # noqa: E402
from mllmbench.testing.adapter_contract import synthetic_image  # noqa: E402

QUESTIONS = ("What colour is the circle?", "How many shapes are there? Answer with one number please.")


@pytest.fixture(scope="module")
def processor() -> Any:
    return tiny.build_processor()


@pytest.fixture(scope="module")
def fresh(processor: Any) -> Any:
    """A fresh model: vision experts are exact copies of the language experts."""
    from mllmbench.adapters.reference.visual_expert import VisualExpertForConditionalGeneration
    from mllmbench.adapters.tiny.language_models import llama_config
    from mllmbench.adapters.tiny.vision_towers import clip_vision_config

    return VisualExpertForConditionalGeneration.from_zoo_parts(
        clip_vision_config(),
        llama_config(processor.tokenizer),
        processor.image_token_id,
        image_seq_length=tiny.IMAGE_TOKENS,
        seed=0,
    )


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny.build(tmp_path_factory.mktemp("tiny-visual-expert"), seed=0)


@pytest.fixture(scope="module")
def trained_like(tiny_dir: Path) -> Any:
    """The tiny checkpoint (experts differ) loaded through AutoModelForImageTextToText."""
    from transformers import AutoModelForImageTextToText

    import mllmbench.adapters.reference.visual_expert  # noqa: F401  (registers the Auto classes)

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


def llava_with_same_weights(model: Any) -> Any:
    """A real LlavaForConditionalGeneration holding the visual-expert model's language-expert weights."""
    from transformers import LlavaConfig, LlavaForConditionalGeneration

    config = model.config
    llava = LlavaForConditionalGeneration(
        LlavaConfig(
            vision_config=config.vision_config.to_dict(),
            text_config=config.text_config.to_dict(),
            image_token_index=config.image_token_id,
            image_seq_length=config.image_seq_length,
            vision_feature_layer=config.vision_feature_layer,
            vision_feature_select_strategy=config.vision_feature_select_strategy,
        )
    ).eval()
    state = {
        re.sub(r"\.(self_attn|mlp)\.language_expert\.", r".\1.", key): value
        for key, value in model.state_dict().items()
        if ".vision_expert." not in key
    }
    llava.load_state_dict(state, strict=True)
    return llava


def test_copied_expert_equals_plain_llava(fresh: Any, processor: Any) -> None:
    llava = llava_with_same_weights(fresh)
    inputs = inputs_for(processor, (0, 1))
    assert int(inputs["attention_mask"].eq(0).sum()) > 0, "want left padding in the batch"
    with torch.inference_mode():
        ours = fresh(**inputs).logits
        theirs = llava(**inputs).logits
    assert ours.shape == theirs.shape
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-5)
    with torch.inference_mode():
        a = fresh.generate(**inputs, max_new_tokens=6, do_sample=False)
        b = llava.generate(**inputs, max_new_tokens=6, do_sample=False)
    assert torch.equal(a, b)


def test_routing_by_token_type(fresh: Any, processor: Any) -> None:
    import copy

    perturbed = copy.deepcopy(fresh)
    tiny.perturb_vision_experts(perturbed, 0.5)
    text_only = processor.tokenizer(["USER: What colour is the circle? ASSISTANT:"], return_tensors="pt")
    inputs = inputs_for(processor, (0,))
    with torch.inference_mode():
        text_a = fresh(**text_only).logits
        text_b = perturbed(**text_only).logits
        img_a = fresh(**inputs).logits[0]
        img_b = perturbed(**inputs).logits[0]
    # Text-only input never reaches the vision expert.
    assert torch.equal(text_a, text_b)
    # Positions before the first image token see no image token: unchanged (causal attention).
    ids = inputs["input_ids"][0]
    first = int((ids == processor.image_token_id).nonzero()[0])
    assert first > 0
    torch.testing.assert_close(img_a[:first], img_b[:first], atol=1e-6, rtol=0)
    # Image positions and every later text position (which attends to them) change.
    diff = (img_a[first:] - img_b[first:]).abs().amax(dim=-1)
    assert bool((diff > 1e-3).all()), diff


def test_image_changes_the_output(trained_like: Any, processor: Any) -> None:
    with torch.inference_mode():
        a = trained_like(**inputs_for(processor, (0,))).logits[0, -1]
        b = trained_like(**inputs_for(processor, (1,))).logits[0, -1]
    assert float((a - b).abs().max()) > 1e-3


def test_batch_one_equals_batch_n(trained_like: Any, processor: Any) -> None:
    questions = (*QUESTIONS, "Describe the image.", "Is the triangle on the top?")
    indices = (0, 1, 2, 3)
    batched = inputs_for(processor, indices, questions)
    with torch.inference_mode():
        rows = trained_like.generate(**batched, max_new_tokens=8, do_sample=False)
        singles = [
            trained_like.generate(
                **inputs_for(processor, (i,), (questions[k],)), max_new_tokens=8, do_sample=False
            )
            for k, i in enumerate(indices)
        ]
    width = batched["input_ids"].shape[1]
    for k, single in enumerate(singles):
        assert rows[k, width:].tolist() == single[0, single.shape[1] - 8 :].tolist(), k
    assert len({tuple(r[width:].tolist()) for r in rows}) > 1


def test_generate_with_cache_equals_without(trained_like: Any, processor: Any) -> None:
    inputs = inputs_for(processor, (2, 3))
    with torch.inference_mode():
        cached = trained_like.generate(**inputs, max_new_tokens=8, do_sample=False, use_cache=True)
        uncached = trained_like.generate(**inputs, max_new_tokens=8, do_sample=False, use_cache=False)
    assert torch.equal(cached, uncached)


def test_save_load_round_trip(trained_like: Any, processor: Any, tmp_path: Path) -> None:
    from mllmbench.adapters.reference.visual_expert import VisualExpertForConditionalGeneration

    trained_like.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").exists()
    again = VisualExpertForConditionalGeneration.from_pretrained(tmp_path).eval()
    inputs = inputs_for(processor, (0, 1))
    with torch.inference_mode():
        assert torch.equal(trained_like(**inputs).logits, again(**inputs).logits)
    state = again.state_dict()
    assert any(".vision_expert." in k for k in state) and any(".language_expert." in k for k in state)


def test_labels_give_the_shifted_lm_loss(trained_like: Any, processor: Any) -> None:
    inputs = inputs_for(processor, (0,))
    labels = inputs["input_ids"].clone()
    labels[labels == processor.image_token_id] = -100
    out = trained_like(**inputs, labels=labels)
    logits = out.logits[0, :-1]
    expected = torch.nn.functional.cross_entropy(logits, labels[0, 1:], ignore_index=-100)
    torch.testing.assert_close(out.loss, expected)
    out.loss.backward()
    grads = [p.grad for n, p in trained_like.named_parameters() if ".vision_expert." in n]
    assert any(g is not None and float(g.abs().max()) > 0 for g in grads)
    trained_like.zero_grad(set_to_none=True)


def test_mismatched_image_tokens_are_an_error(trained_like: Any, processor: Any) -> None:
    inputs = inputs_for(processor, (0,))
    ids = inputs["input_ids"]
    keep = torch.ones(ids.shape[1], dtype=torch.bool)
    keep[int((ids[0] == processor.image_token_id).nonzero()[0])] = False  # one image token fewer
    with pytest.raises(ValueError, match="image tokens and features do not match"):
        trained_like(input_ids=ids[:, keep], pixel_values=inputs["pixel_values"])


# --- the adapter ---------------------------------------------------------------------------------
def test_adapter_contract_fidelity_and_batching(tiny_dir: Path) -> None:
    from mllmbench.adapters.visual_expert import VisualExpertAdapter
    from mllmbench.core.types import GenerationSettings
    from mllmbench.testing.adapter_contract import (
        check_batching,
        check_fidelity,
        check_understanding_contract,
        sample_requests,
    )

    settings = GenerationSettings(max_new_tokens=8)
    adapter = check_understanding_contract(VisualExpertAdapter, tiny_dir, settings=settings)
    try:
        for request in sample_requests(3):
            response = check_fidelity(adapter, request, settings)
            assert response.usage.image_tokens == tiny.IMAGE_TOKENS
        check_batching(adapter, sample_requests(6), settings)
        info = adapter.info
        assert info.visual_tokens_per_image == tiny.IMAGE_TOKENS
        assert str(info.paradigm.connector) == "visual_expert"
        assert (info.paradigm.vision_encoder, info.paradigm.llm_backbone) == (
            "CLIPVisionModel",
            "VisualExpertTextModel",
        )
        model = adapter.model
        experts = sum(p.numel() for n, p in model.named_parameters() if ".vision_expert." in n)
        params = info.parameters
        assert params["vision_expert"] == experts > 0
        assert params["vision"] == sum(p.numel() for p in model.model.vision_tower.parameters())
        assert params["connector"] == sum(p.numel() for p in model.model.multi_modal_projector.parameters())
        assert (
            params["vision"] + params["connector"] + params["vision_expert"] + params["llm"]
            == params["total"]
        )
        assert "other" not in params
    finally:
        adapter.close()
