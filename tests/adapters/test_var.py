"""VAR adapter and reference model on a tiny random checkpoint: contract, block-causal mask,
multi-scale quantizer, save/load, knobs and costs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mllmbench.adapters.tiny.var import PROMPT_TOKENS, SCALES
from mllmbench.adapters.var import VARAdapter
from mllmbench.core.types import GenerateRequest, GenerationParadigm, ImageGenerationSettings
from mllmbench.testing.adapter_contract import check_generation_contract, generation_requests, image_bytes

SETTINGS = ImageGenerationSettings(guidance_scale=3.0)
TOKENS = sum(s * s for s in SCALES)


@pytest.fixture(scope="module")
def tiny_dir(tiny_checkpoint: Callable[[str], Path]) -> Path:
    """The session's tiny var checkpoint (shared: copy it before changing files)."""
    return tiny_checkpoint("var")


@pytest.fixture(scope="module")
def adapter(tiny_dir: Path) -> Iterator[VARAdapter]:
    a = VARAdapter(str(tiny_dir))
    a.load()
    yield a
    a.close()


def _prompts(adapter: VARAdapter, texts: list[str]):  # noqa: ANN202
    enc = adapter.tokenizer(texts, padding="max_length", max_length=PROMPT_TOKENS, return_tensors="pt")
    return enc["input_ids"], enc["attention_mask"]


def test_generation_contract(tiny_dir: Path) -> None:
    adapter = check_generation_contract(VARAdapter, tiny_dir, SETTINGS, batch_tolerance=0)
    info = adapter.info
    assert info.paradigm.generation is GenerationParadigm.NEXT_SCALE
    assert info.model_class == "VARForTextToImage" and info.paradigm.vision_encoder == "VQModel"
    assert info.paradigm.llm_backbone == "LlamaModel" and info.visual_tokens_per_image == TOKENS
    assert info.parameters["total"] == info.parameters["tokenizer"] + info.parameters["transformer"]
    adapter.close()


def test_block_causal_mask() -> None:
    import torch

    from mllmbench.adapters.reference.var import block_causal_allowed

    prompt_mask = torch.tensor([[1, 1, 1], [1, 1, 0]])
    allowed = block_causal_allowed(prompt_mask, (1, 2), 2)  # 3 prompt + 1 + 4 scale tokens
    assert allowed.shape == (2, 8, 8)
    p = 3
    row = allowed[0]
    assert row[:p, :p].equal(torch.ones(p, p, dtype=torch.bool).tril())  # causal prompt
    assert not row[:p, p:].any()  # the prompt never sees the image
    assert row[p:, :p].all()  # every scale token sees the whole prompt
    assert row[p, p] and not row[p, p + 1 :].any()  # scale 1 sees itself, not scale 2
    assert row[p + 1 :, p:].all()  # scale 2 sees scale 1 and all of its own tokens
    padded = allowed[1]
    assert not padded[p:, 2].any() and not padded[:2, 2].any()  # the pad key is hidden ...
    assert padded[2, 2]  # ... except from itself (no empty row)


def test_teacher_forced_logits_of_a_scale_ignore_later_scales(adapter: VARAdapter) -> None:
    import torch

    model = adapter.model
    ids, mask = _prompts(adapter, ["a red circle", "two blue squares on the left"])
    codes = [torch.randint(0, 32, (2, s, s), generator=torch.Generator().manual_seed(s)) for s in SCALES]
    with torch.no_grad():
        inputs = model.vqvae.next_scale_inputs(codes)
        full = model.scale_logits(ids, mask, inputs)
        first_two = model.scale_logits(ids, mask, inputs[:1])
        changed = [inputs[0], inputs[1] + 1.0]
        other = model.scale_logits(ids, mask, changed)
        loss = model(ids, mask, codes=codes).loss
    n = SCALES[0] ** 2 + SCALES[1] ** 2
    assert full.shape == (2, TOKENS, 32)
    torch.testing.assert_close(first_two, full[:, :n])
    torch.testing.assert_close(other[:, :n], full[:, :n])  # earlier scales do not see scale 3
    assert not torch.allclose(other[:, n:], full[:, n:])  # every token of scale 3 sees its own inputs
    target = torch.cat([c.flatten(1) for c in codes], 1)
    expected = torch.nn.functional.cross_entropy(full.reshape(-1, 32), target.reshape(-1))
    torch.testing.assert_close(loss, expected)


def test_the_quantizers_scales_sum_back_to_the_latent(adapter: VARAdapter) -> None:
    import torch

    vqvae = adapter.model.vqvae
    grid = vqvae.grid
    with torch.no_grad():
        f = vqvae.encode_latents(torch.rand(2, 3, 32, 32) * 2 - 1)
        quantized = vqvae.quantize(f)
        assert [tuple(c.shape) for c in quantized.codes] == [(2, s, s) for s in SCALES]
        torch.testing.assert_close(quantized.f_hat, vqvae.f_hat(quantized.codes))
        inputs = vqvae.next_scale_inputs(quantized.codes)
        partial = vqvae.contribution(0, quantized.codes[0]) + vqvae.contribution(1, quantized.codes[1])
        torch.testing.assert_close(
            inputs[1], torch.nn.functional.interpolate(partial, size=(4, 4), mode="area")
        )
        # A latent that is one code everywhere is that code at scale 1 and the zero code after it.
        saved = (vqvae.codebook.weight.clone(), [p.ratio for p in vqvae.phis])
        try:
            vqvae.codebook.weight[0] = 0
            for phi in vqvae.phis:
                phi.ratio = 0.0  # phi = identity
            code = vqvae.codebook.weight[5]
            constant = code[None, :, None, None].expand(1, -1, grid, grid).clone()
            exact = vqvae.quantize(constant)
            assert exact.codes[0].item() == 5 and all(int(c.max()) == 0 for c in exact.codes[1:])
            torch.testing.assert_close(exact.f_hat, constant)
        finally:
            vqvae.codebook.weight.copy_(saved[0])
            for phi, ratio in zip(vqvae.phis, saved[1], strict=True):
                phi.ratio = ratio


def test_save_and_load_round_trip(adapter: VARAdapter, tmp_path: Path) -> None:
    import torch
    from transformers import AutoModel

    from mllmbench.adapters.reference.var import VARForTextToImage, VARTokenizer, VARTokenizerConfig

    ids, mask = _prompts(adapter, ["a red circle"])
    codes = [torch.zeros(1, s, s, dtype=torch.long) for s in SCALES]
    adapter.model.save_pretrained(tmp_path / "var")
    again = AutoModel.from_pretrained(tmp_path / "var")
    assert isinstance(again, VARForTextToImage) and again.scales == SCALES
    with torch.no_grad():
        torch.testing.assert_close(
            again(ids, mask, codes=codes).logits, adapter.model(ids, mask, codes=codes).logits
        )
    config = adapter.model.config
    tokenizer = VARTokenizer(VARTokenizerConfig(vq_config=config.vq_config, scales=config.scales))
    tokenizer.vqvae.load_state_dict(adapter.model.vqvae.state_dict())
    tokenizer.save_pretrained(tmp_path / "vq")
    loaded = AutoModel.from_pretrained(tmp_path / "vq")
    assert isinstance(loaded, VARTokenizer)
    pixels = torch.rand(1, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(loaded(pixels)[0], tokenizer(pixels)[0])


def test_guidance_steps_and_costs_are_recorded(adapter: VARAdapter) -> None:
    [guided] = adapter.generate_images(generation_requests(1), SETTINGS)
    s, u = guided.settings, guided.usage
    assert (
        s["guidance_scale"] == 3.0 and s["num_inference_steps"] == len(SCALES) and s["scales"] == list(SCALES)
    )
    assert (u.steps, u.nfe, u.guidance_multiplier, u.sequential_calls) == (3, 6, 2, 3)
    assert u.image_tokens == TOKENS and u.input_tokens > 0
    [plain] = adapter.generate_images(generation_requests(1), ImageGenerationSettings(guidance_scale=1.0))
    assert (plain.usage.nfe, plain.usage.guidance_multiplier, plain.usage.sequential_calls) == (3, 1, 3)
    # The tiny model's logits are nearly uniform: a large scale makes guidance change the draws.
    [strong] = adapter.generate_images(generation_requests(1), ImageGenerationSettings(guidance_scale=500.0))
    assert image_bytes(plain.images[0]) != image_bytes(strong.images[0])
    [default] = adapter.generate_images(generation_requests(1), ImageGenerationSettings())
    assert default.settings["guidance_scale"] == 3.0 and default.settings["temperature"] == 1.0
    [big] = adapter.generate_images(generation_requests(1), ImageGenerationSettings(width=48, height=48))
    assert big.images[0].size == (48, 48) and big.settings["native_size"] == [32, 32]


def test_an_image_depends_on_its_seed_and_prompt_only(adapter: VARAdapter) -> None:
    import torch

    requests = [GenerateRequest("a", "a red circle", 11), GenerateRequest("b", "three green stars", 11)]
    first = adapter.generate_images(requests, SETTINGS)
    alone = adapter.generate_images(requests[1:], SETTINGS)
    assert image_bytes(alone[0].images[0]) == image_bytes(first[1].images[0])
    ids, mask = _prompts(adapter, [r.text for r in requests])
    with torch.no_grad():
        logits = adapter.model.scale_logits(ids, mask, [])
    assert not torch.allclose(logits[0], logits[1])  # the prompt reaches the first scale


def test_a_checkpoint_of_another_kind_is_refused(tiny_checkpoint: Callable[[str], Path]) -> None:
    from mllmbench.core.errors import ConfigError

    with pytest.raises(ConfigError, match="var"):
        VARAdapter(str(tiny_checkpoint("llava"))).load()
