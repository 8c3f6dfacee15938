"""Janus image generation (autoregressive VQ tokens with classifier-free guidance) on the tiny checkpoint."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from mllmbench.adapters.janus import JanusAdapter
from mllmbench.adapters.tiny.janus import IMAGE_TOKENS as TINY_IMAGE_TOKENS
from mllmbench.adapters.tiny.janus import VQ_CODES as TINY_VQ_CODES
from mllmbench.adapters.tiny.vision_towers import IMAGE_SIZE as TINY_IMAGE_SIZE
from mllmbench.core.types import (
    Capability,
    GenerateRequest,
    GenerationParadigm,
    GenerationSettings,
    ImageGenerationSettings,
)
from mllmbench.testing.adapter_contract import (
    check_generation_contract,
    generation_requests,
    image_bytes,
    sample_requests,
)

SETTINGS = ImageGenerationSettings()


@pytest.fixture(scope="module")
def tiny_dir(tiny_checkpoint: Callable[[str], Path]) -> Path:
    """The session's tiny janus checkpoint (shared: copy it before changing files)."""
    return tiny_checkpoint("janus")


@pytest.fixture(scope="module")
def adapter(tiny_dir: Path) -> Iterator[JanusAdapter]:
    a = JanusAdapter(str(tiny_dir))
    a.load()
    yield a
    a.close()


def test_generation_contract(tiny_dir: Path) -> None:
    adapter = check_generation_contract(JanusAdapter, tiny_dir, SETTINGS)
    assert adapter.info.paradigm.generation is GenerationParadigm.AUTOREGRESSIVE_VQ
    adapter.close()


def test_one_checkpoint_understands_and_generates(adapter: JanusAdapter) -> None:
    """A unified model: the same loaded weights answer questions and draw images."""
    assert adapter.info.capabilities == Capability.UNDERSTAND | Capability.GENERATE
    [answer] = adapter.understand(sample_requests(1), GenerationSettings(max_new_tokens=4))
    [drawn] = adapter.generate_images(generation_requests(1), SETTINGS)
    assert answer.usage.image_tokens == TINY_IMAGE_TOKENS
    assert drawn.usage.image_tokens == TINY_IMAGE_TOKENS and drawn.images[0].size == (TINY_IMAGE_SIZE,) * 2


def test_image_equals_transformers_called_directly(adapter: JanusAdapter) -> None:
    """Fidelity: the HF recipe (chat template, image mode, CFG sampling, VQ decode), postprocessed by hand."""
    import torch

    model, processor = adapter.model, adapter.processor
    request = GenerateRequest("x", "a red circle on the left", 77)
    [response] = adapter.generate_images(
        [request], ImageGenerationSettings(guidance_scale=3.0, temperature=0.8)
    )
    prompt = "<|User|>: a red circle on the left\n\n<|Assistant|>:"
    assert response.prompt == prompt + "<begin_of_image>"
    config = copy.deepcopy(model.generation_config)
    config.generation_kwargs = {"boi_token_id": processor.tokenizer.convert_tokens_to_ids("<begin_of_image>")}
    inputs = processor(text=[prompt], generation_mode="image", return_tensors="pt")
    torch.manual_seed(77)
    with torch.inference_mode():
        codes = model.generate(
            **inputs,
            generation_config=config,
            generation_mode="image",
            do_sample=True,
            guidance_scale=3.0,
            temperature=0.8,
            top_k=0,
        )
        pixels = model.decode_image_tokens(codes)[0].float().numpy()
    assert int(codes.min()) >= 0 and int(codes.max()) < TINY_VQ_CODES
    ip = processor.image_processor
    mean, std = np.asarray(ip.image_mean), np.asarray(ip.image_std)
    expected = np.clip((pixels * std + mean) / ip.rescale_factor, 0, 255).astype(np.uint8)
    assert np.array_equal(np.asarray(response.images[0]), expected)
    assert response.usage.input_tokens == inputs["input_ids"].shape[1]


def test_knobs_change_the_image_and_are_recorded(adapter: JanusAdapter) -> None:
    requests = generation_requests(1)
    [default] = adapter.generate_images(requests, SETTINGS)
    assert default.settings["guidance_scale"] == 5.0 and default.settings["temperature"] == 1.0
    assert default.settings["top_k"] is None and default.settings["num_inference_steps"] is None
    assert default.usage.steps == TINY_IMAGE_TOKENS
    assert default.usage.nfe == 2 * TINY_IMAGE_TOKENS and default.usage.guidance_multiplier == 2
    assert default.usage.sequential_calls == TINY_IMAGE_TOKENS
    assert set(default.usage.stage_seconds) == {"generate", "decode"}
    [greedy_ish] = adapter.generate_images(requests, ImageGenerationSettings(top_k=1))
    [hot] = adapter.generate_images(requests, ImageGenerationSettings(temperature=3.0))
    assert greedy_ish.settings["top_k"] == 1 and hot.settings["temperature"] == 3.0
    assert len({image_bytes(r.images[0]) for r in (default, greedy_ish, hot)}) == 3
    # top_k=1 keeps only the best code at each step: the seed no longer matters.
    reseeded = GenerateRequest(requests[0].sample_id, requests[0].text, requests[0].seed + 1)
    [greedy_again] = adapter.generate_images([reseeded], ImageGenerationSettings(top_k=1))
    assert image_bytes(greedy_again.images[0]) == image_bytes(greedy_ish.images[0])


def test_loaded_generation_config_is_left_alone(adapter: JanusAdapter) -> None:
    before = adapter.model.generation_config.to_dict()
    adapter.generate_images(generation_requests(1), ImageGenerationSettings(guidance_scale=2.0, top_k=3))
    assert adapter.model.generation_config.to_dict() == before


def test_one_run_gives_understanding_and_generation_rows(
    tiny_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`mllm-bench run --adapter janus --suite vqa,t2i`: one checkpoint, both kinds of rows, one report."""
    import json

    from mllmbench.cli.main import main
    from mllmbench.suites.shapes import ensure_shapes

    monkeypatch.setenv("MLLMBENCH_FID_EXTRACTOR", "none")
    monkeypatch.delenv("MLLMBENCH_CLIP_MODEL", raising=False)
    data = ensure_shapes(tmp_path / "shapes", images=3)
    out = tmp_path / "run"
    code = main(
        ["run", "--no-progress", "--adapter", "janus", "--model", str(tiny_dir), "--suite", "vqa,t2i"]
        + ["--data", str(data), "--limit", "3", "--max-new-tokens", "4", "--out", str(out)]
    )
    assert code == 0
    run = json.loads((out / "run.json").read_text())
    assert run["adapter"]["capabilities"] == ["understand", "generate"]
    assert run["suites"]["vqa"]["requires"] == "understand" and run["suites"]["t2i"]["requires"] == "generate"
    assert "vqa_accuracy" in run["suites"]["vqa"]["metrics"]
    t2i = run["suites"]["t2i"]["metrics"]
    assert t2i["image_tokens"]["value"] == TINY_IMAGE_TOKENS and t2i["nfe"]["value"] == 2 * TINY_IMAGE_TOKENS
    lines = [json.loads(x) for x in (out / "samples.jsonl").read_text().splitlines()]
    gen = [r for r in lines if r["suite"] == "t2i"]
    assert len(gen) == 3 and all(r["answer"] is None and len(r["generated_images"]) == 1 for r in gen)
    assert all((out / r["generated_images"][0]).is_file() for r in gen)
    assert all(r["tokens"]["image"] == TINY_IMAGE_TOKENS and r["timing"]["batch_size"] == 1 for r in gen)
    assert all(r["generation"]["settings"]["guidance_scale"] == 5.0 for r in gen)
    assert all(r["generation"]["sequential_calls"] == TINY_IMAGE_TOKENS for r in gen)
    assert t2i["sequential_calls"]["value"] == TINY_IMAGE_TOKENS
    html = (out / "report.html").read_text()
    unified = html[html.index('id="unified"') : html.index('id="gallery"')]
    assert "vqa/vqa_accuracy" in unified and "t2i/image_tokens" in unified and "t2i/nfe" in unified
