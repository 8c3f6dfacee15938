"""Janus adapter (understanding side) on a tiny random checkpoint: contract, fidelity, batching."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mllmbench.adapters.janus import JanusAdapter
from mllmbench.adapters.tiny.chat_templates import JANUS_CHAT_TEMPLATE
from mllmbench.adapters.tiny.janus import IMAGE_TOKENS as TINY_IMAGE_TOKENS
from mllmbench.adapters.tiny.janus import VQ_CODES as TINY_VQ_CODES
from mllmbench.core.types import Capability, GenerationParadigm, GenerationSettings, UnderstandRequest
from mllmbench.testing.adapter_contract import (
    check_fidelity,
    sample_requests,
    synthetic_image,
)

SETTINGS = GenerationSettings(max_new_tokens=8)


@pytest.fixture(scope="module")
def tiny_dir(tiny_checkpoint: Callable[[str], Path]) -> Path:
    """The session's tiny janus checkpoint (shared: copy it before changing files)."""
    return tiny_checkpoint("janus")


@pytest.fixture(scope="module")
def adapter(tiny_dir: Path) -> Iterator[JanusAdapter]:
    """The adapter loaded on the tiny checkpoint, float32 on the CPU."""
    loaded = JanusAdapter(str(tiny_dir))
    loaded.load()
    yield loaded
    loaded.close()


def test_prompt_system_prompt_and_image_tokens(adapter: JanusAdapter) -> None:
    from transformers.models.janus.processing_janus import DEFAULT_SYSTEM_PROMPT

    question = "What colour is the circle?"
    [response] = adapter.understand([UnderstandRequest("a", (synthetic_image(0),), question)], SETTINGS)
    assert response.prompt == f"<|User|>: <image_placeholder>\n{question}\n\n<|Assistant|>:"
    image = "<begin_of_image>" + "<image_placeholder>" * TINY_IMAGE_TOKENS + "<end_of_image>"
    expanded = f"{DEFAULT_SYSTEM_PROMPT}<|User|>: {image}\n{question}\n\n<|Assistant|>:"
    ids = adapter.tokenizer(expanded)["input_ids"]
    assert ids[0] == adapter.tokenizer.bos_token_id
    inputs = adapter.processor_inputs([response.prompt], [[synthetic_image(0)]])
    assert inputs["input_ids"][0].tolist() == ids
    assert response.usage.image_tokens == TINY_IMAGE_TOKENS == adapter.info.visual_tokens_per_image
    assert response.usage.input_tokens == len(ids)
    assert response.usage.profile is not None and response.usage.profile.vision_seconds


def test_paradigm_and_parameter_groups(adapter: JanusAdapter) -> None:
    model = adapter.model
    inner = model.model

    def count(*modules: Any) -> int:
        return sum(p.numel() for module in modules for p in module.parameters())

    params = adapter.info.parameters
    assert params["vision"] == count(inner.vision_model)
    assert params["connector"] == count(inner.aligner)
    assert params["llm"] == count(inner.language_model, model.lm_head)
    generation = (inner.vqmodel, inner.generation_embeddings, inner.generation_aligner, inner.generation_head)
    assert params["generation"] == count(*generation)
    assert params["total"] == count(model) == sum(v for k, v in params.items() if k != "total")
    info = adapter.info
    assert (info.paradigm.vision_encoder, info.paradigm.llm_backbone) == ("JanusVisionModel", "LlamaModel")
    assert str(info.paradigm.connector) == "mlp"
    assert info.paradigm.generation is GenerationParadigm.AUTOREGRESSIVE_VQ
    assert info.capabilities == Capability.UNDERSTAND | Capability.GENERATE  # a unified model
    assert info.chat_template == JANUS_CHAT_TEMPLATE


def test_fidelity_against_direct_transformers(adapter: JanusAdapter) -> None:
    for request in sample_requests(3):
        check_fidelity(adapter, request, SETTINGS)


def test_tiny_checkpoint_can_also_generate_images(adapter: JanusAdapter) -> None:
    """The generation path (for the image-generation side of this family) is consistent."""
    import torch

    model, processor = adapter.model, adapter.processor
    boi = processor.tokenizer.convert_tokens_to_ids("<begin_of_image>")
    # The image mode reads the begin-of-image id from the generation config (a copy here).
    config = copy.deepcopy(model.generation_config)
    config.generation_kwargs = {"boi_token_id": boi}
    inputs = processor(
        text=["<|User|>: A red circle\n\n<|Assistant|>:"], generation_mode="image", return_tensors="pt"
    )
    assert inputs["input_ids"][0, -1] == boi
    torch.manual_seed(0)
    with torch.inference_mode():
        codes = model.generate(
            **inputs, generation_config=config, generation_mode="image", do_sample=True, guidance_scale=2.0
        )
        pixels = model.decode_image_tokens(codes)
    assert tuple(codes.shape) == (1, TINY_IMAGE_TOKENS)
    assert int(codes.min()) >= 0 and int(codes.max()) < TINY_VQ_CODES
    assert tuple(pixels.shape) == (1, 32, 32, 3)
