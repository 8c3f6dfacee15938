"""Show-o (`mllmbench.adapters.reference.show_o`) on a tiny random checkpoint: the omni-attention
mask, the loss, the save/load round trip, the MaskGIT sampling schedule and the recorded costs."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mllmbench.adapters.show_o import DEFAULT_STEPS, ShowOAdapter
from mllmbench.core.errors import ConfigError
from mllmbench.core.types import GenerateRequest, GenerationSettings, ImageGenerationSettings
from mllmbench.testing.adapter_contract import (
    check_batching,
    check_generation_contract,
    check_understanding_contract,
    image_bytes,
    sample_requests,
)


@pytest.fixture(scope="module")
def tiny_dir(tiny_checkpoint: Callable[[str], Path]) -> Path:
    """The session's tiny show_o checkpoint (shared: copy it before changing files)."""
    return tiny_checkpoint("show_o")


@pytest.fixture(scope="module")
def adapter(tiny_dir: Path) -> Iterator[ShowOAdapter]:
    a = ShowOAdapter(str(tiny_dir))
    a.load()
    yield a
    a.close()


def _ids(adapter: ShowOAdapter, layout: str) -> list[int]:
    """Ids of a layout string: ``t`` text, ``s`` soi, ``i`` image code, ``m`` mask, ``e`` eoi, ``p`` pad."""
    cfg = adapter.model.config
    table = {
        "t": 10,
        "s": cfg.soi_token_id,
        "i": cfg.image_code_offset + 3,
        "m": cfg.mask_token_id,
        "e": cfg.eoi_token_id,
        "p": int(cfg.text_config.pad_token_id),
    }
    return [table[c] for c in layout]


def test_omni_attention_mask_is_causal_for_text_and_full_within_an_image(adapter: ShowOAdapter) -> None:
    import torch

    from mllmbench.adapters.reference.show_o import omni_attention_mask

    layout = "ptsimiettsiie"
    ids = torch.tensor([_ids(adapter, layout)])
    attention = torch.tensor([[0] + [1] * (len(layout) - 1)])
    mask = omni_attention_mask(ids, attention, adapter.model.config)
    seen = (mask[0, 0] == 0).tolist()
    first, second = [3, 4, 5], [10, 11]  # image positions of the two images
    for q in range(len(layout)):
        for k in range(len(layout)):
            if k == 0:
                expected = False  # padding is never seen
            elif (q in first and k in first) or (q in second and k in second):
                expected = True  # bidirectional inside one image
            else:
                expected = k <= q  # causal
            assert seen[q][k] == expected, (layout, q, k)
    # Text after an image sees every image token; the first image never sees the second.
    assert all(seen[8][k] for k in first) and not any(seen[q][k] for q in first for k in second)

    # With a cache, a decoded token sees every earlier real position.
    step = omni_attention_mask(ids[:, -1:], attention, adapter.model.config, past_length=len(layout) - 1)
    assert step.shape == (1, 1, 1, len(layout)) and (step[0, 0, 0, 1:] == 0).all() and step[0, 0, 0, 0] < 0


def test_the_model_attends_as_the_mask_says(adapter: ShowOAdapter) -> None:
    """Changing a later image token changes an earlier image token's logits; changing a later text
    token changes no earlier logits."""
    import torch

    model, cfg = adapter.model, adapter.model.config
    base = torch.tensor([_ids(adapter, "ttsimmiett")])
    with torch.no_grad():
        ref = model(input_ids=base).logits
        later_image = base.clone()
        later_image[0, 6] = cfg.image_code_offset + 7
        changed = model(input_ids=later_image).logits
        later_text = base.clone()
        later_text[0, 9] = 11
        text_changed = model(input_ids=later_text).logits
    assert (changed[0, 3] - ref[0, 3]).abs().max() > 1e-6  # image sees the image after it
    assert torch.allclose(changed[0, :3], ref[0, :3])  # text before the image does not
    assert torch.allclose(text_changed[0, :9], ref[0, :9])


def test_loss_is_masked_codes_unshifted_plus_text_shifted(adapter: ShowOAdapter) -> None:
    import torch
    from torch.nn.functional import cross_entropy

    model, cfg = adapter.model, adapter.model.config
    ids = torch.tensor([_ids(adapter, "ttsimmie"), _ids(adapter, "tsiiiett")])
    labels = torch.full_like(ids, -100)
    labels[0, 4], labels[0, 5] = cfg.image_code_offset + 1, cfg.image_code_offset + 2  # masked codes
    labels[1, 7] = 12  # a text target (predicted from position 6)
    with torch.no_grad():
        out = model(input_ids=ids, labels=labels)
    logits = out.logits
    k, off = cfg.codebook_size, cfg.image_code_offset
    image = cross_entropy(logits[0, 4:6, off : off + k], torch.tensor([1, 2]), reduction="sum")
    text = cross_entropy(logits[1, 6:7], torch.tensor([12]), reduction="sum")
    assert torch.allclose(out.loss, (image + text) / 3, atol=1e-5)


def test_save_load_round_trip(adapter: ShowOAdapter, tmp_path: Path) -> None:
    import torch

    from mllmbench.adapters.reference.show_o import ShowOForConditionalGeneration, ShowOProcessor

    adapter.model.save_pretrained(tmp_path)
    adapter.processor.save_pretrained(tmp_path)
    model = ShowOForConditionalGeneration.from_pretrained(tmp_path).eval()
    processor = ShowOProcessor.from_pretrained(tmp_path)
    requests = sample_requests(2)
    prompts = [adapter.render_prompt(r.text, 1) for r in requests]
    inputs = processor(text=prompts, images=[r.images[0] for r in requests])
    again = adapter.processor(text=prompts, images=[r.images[0] for r in requests])
    assert torch.equal(inputs["input_ids"], again["input_ids"])
    with torch.no_grad():
        assert torch.equal(model(**inputs).logits, adapter.model(**inputs).logits)
    assert model.config.to_dict()["mask_token_id"] == adapter.model.config.mask_token_id
    assert type(model.vqvae).__name__ == "VQModel"


def test_understanding_contract_and_batching(tiny_dir: Path) -> None:
    settings = GenerationSettings(max_new_tokens=6)
    a = check_understanding_contract(ShowOAdapter, tiny_dir, settings=settings)
    check_batching(a, sample_requests(4), settings)
    info = a.info
    assert info.visual_tokens_per_image == a.model.config.image_seq_length
    assert info.paradigm.vision_encoder == "VQModel" and info.paradigm.llm_backbone == "LlamaModel"
    a.close()


def test_generation_contract(tiny_dir: Path) -> None:
    # One sampler run per request: an image drawn alone equals the same image in a batch exactly.
    a = check_generation_contract(
        ShowOAdapter,
        tiny_dir,
        ImageGenerationSettings(num_inference_steps=3, guidance_scale=3.0),
        batch_tolerance=0,
    )
    a.close()


def test_sampling_unmasks_on_the_cosine_schedule(
    adapter: ShowOAdapter, monkeypatch: pytest.MonkeyPatch
) -> None:
    from diffusers import AmusedScheduler

    counts: list[int] = []
    real_step = AmusedScheduler.step

    def recording_step(self, model_output, timestep, sample, *args, **kwargs):  # noqa: ANN001, ANN202
        out = real_step(self, model_output, timestep, sample, *args, **kwargs)
        counts.append(int((out.prev_sample == self.config.mask_token_id).sum()))
        return out

    monkeypatch.setattr(AmusedScheduler, "step", recording_step)
    steps, n = 4, adapter.model.config.image_seq_length
    [response] = adapter.generate_images(
        [GenerateRequest("g", "a red circle", 5)], ImageGenerationSettings(num_inference_steps=steps)
    )
    expected = [math.floor(n * math.cos(math.pi / 2 * (i + 1) / steps)) for i in range(steps)]
    assert counts == expected  # still masked after each step: n cos(pi/2 t/T), none at the end
    assert response.usage.steps == steps and response.settings["masking_schedule"] == "cosine"


def test_steps_guidance_and_seeds_are_recorded(adapter: ShowOAdapter) -> None:
    import torch

    calls = []
    hook = adapter.model.model.register_forward_hook(lambda module, args, output: calls.append(1))
    try:
        request = GenerateRequest("g", "two blue squares", 11)
        [guided] = adapter.generate_images([request], ImageGenerationSettings(guidance_scale=3.0))
        n_guided = len(calls)
        [plain] = adapter.generate_images([request], ImageGenerationSettings(guidance_scale=1.0))
    finally:
        hook.remove()
    u = guided.usage
    assert (u.steps, u.nfe, u.guidance_multiplier, u.sequential_calls) == (
        DEFAULT_STEPS,
        2 * DEFAULT_STEPS,
        2,
        DEFAULT_STEPS,
    )
    assert n_guided == DEFAULT_STEPS  # guided and unguided rows share one forward per step
    p = plain.usage
    assert (p.steps, p.nfe, p.guidance_multiplier, p.sequential_calls) == (
        DEFAULT_STEPS,
        DEFAULT_STEPS,
        1,
        DEFAULT_STEPS,
    )
    assert guided.settings["guidance_scale"] == 3.0 and plain.settings["guidance_scale"] == 1.0
    assert u.image_tokens == adapter.model.config.image_seq_length
    assert guided.settings["seed"] == 11 and guided.settings["temperature"] is None
    [again] = adapter.generate_images([request], ImageGenerationSettings(guidance_scale=3.0))
    assert image_bytes(again.images[0]) == image_bytes(guided.images[0])
    assert torch.get_default_dtype() == torch.float32


def test_other_image_sizes_are_refused(adapter: ShowOAdapter) -> None:
    with pytest.raises(ConfigError, match="draws 32x32"):
        adapter.generate_images([GenerateRequest("g", "x", 1)], ImageGenerationSettings(width=64))


def test_answers_never_contain_image_codes(adapter: ShowOAdapter) -> None:
    import torch

    cfg = adapter.model.config
    requests = sample_requests(2)
    prepared = adapter.prepare(requests)
    kwargs = adapter.generation_kwargs(GenerationSettings(max_new_tokens=8))
    with torch.inference_mode():
        out = adapter.model.generate(**prepared.inputs, **kwargs)
    new = out[:, prepared.inputs["input_ids"].shape[1] :]
    assert not ((new >= cfg.image_code_offset) & (new <= cfg.mask_token_id)).any()
