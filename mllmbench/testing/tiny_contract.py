"""The contract every registered adapter passes on its tiny checkpoint (tests/adapters/test_contract.py).

On top of the understanding and generation contracts:

* `check_tiny_recipe_declared`: an adapter has a `build_tiny` recipe or says why not
  (`Adapter.tiny_recipe_reason`);
* `check_tiny_build_deterministic`: the same seed writes the same files, byte for byte, and
  another seed other weights;
* `check_output_depends_on_image`: same question, several images that differ only in their
  pixels; some answer text must change, or, where a random tiny model answers all of them
  alike, its next-token logits must (a model that ignores the image passes neither);
* `check_blind_adapter`: an understanding adapter with connector ``none`` (a text-only baseline)
  declares that the image never reaches its model; the contract holds it to that instead: the
  same answer for every image and no image tokens;
* `check_transcriber`: an adapter that reads audio only (``whisper``, ``qwen2_audio``): batch 1
  equals batch N on synthetic waveforms, the answer depends on the sound, a request without audio
  is refused or answered without audio positions;
* `check_registered_adapter`: all of it for one registered class and its tiny checkpoint.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mllmbench.adapters.base import Adapter
from mllmbench.core.hashing import named_files_sha256
from mllmbench.core.types import (
    Capability,
    Connector,
    GenerationSettings,
    ImageGenerationSettings,
    UnderstandRequest,
)
from mllmbench.testing.adapter_contract import (
    check_batching,
    check_understanding_contract,
    same_size_images,
    sample_requests,
)
from mllmbench.testing.contract_common import check_lazy_load, check_registered
from mllmbench.testing.generation_contract import check_generation_contract

UNDERSTAND_SETTINGS = GenerationSettings(max_new_tokens=8)
GENERATE_SETTINGS = ImageGenerationSettings(num_inference_steps=2, guidance_scale=3.0)
"""Few denoising steps (diffusion); autoregressive generators ignore the step count."""
GENERATE_BATCH_TOLERANCE = 2
"""RGB levels a sample drawn alone may differ from the same sample drawn in a batch (float rounding)."""
IMAGE_QUESTION = "What colour is the circle?"
LOGIT_TOLERANCE = 1e-4
"""Smallest next-token logit difference that counts as the image changing the model's output."""
IGNORED_FILES = frozenset({"mllmbench-tiny.json"})
"""Files `mllm-bench tiny` adds beside a recipe's output (its completion marker)."""


def check_tiny_recipe_declared(adapter_cls: type[Adapter]) -> str | None:
    """``None`` when `adapter_cls` has a tiny recipe; its stated reason when it has none.

    Raises:
        AssertionError: neither a recipe nor a reason.
    """
    if adapter_cls.has_tiny_recipe():
        return None
    reason = adapter_cls.tiny_recipe_reason
    assert isinstance(reason, str) and reason.strip(), (
        f"adapter {adapter_cls.name!r} ({adapter_cls.__module__}.{adapter_cls.__qualname__}) has no "
        f"build_tiny recipe and no tiny_recipe_reason saying why"
    )
    return reason


def tree_digest(directory: Path) -> str:
    """sha256 over every file of `directory` (relative path + bytes, sorted), `IGNORED_FILES` left out."""
    files = sorted(
        (p for p in Path(directory).rglob("*") if p.is_file() and p.name not in IGNORED_FILES),
        key=lambda p: p.relative_to(directory).as_posix(),
    )
    assert files, f"{directory} holds no files"
    return named_files_sha256((p.relative_to(directory).as_posix(), p) for p in files)


def check_tiny_build_deterministic(
    adapter_cls: type[Adapter], built: Path, scratch: Path, seed: int = 0
) -> None:
    """Building again with `seed` reproduces `built` byte for byte; ``seed + 1`` changes the weights."""
    from mllmbench.adapters.checkpoints import checkpoint_hash

    again = Path(adapter_cls.build_tiny(scratch / "again", seed=seed))
    other = Path(adapter_cls.build_tiny(scratch / "other", seed=seed + 1))
    assert checkpoint_hash(again) is not None, f"{again} holds no weight files"
    assert checkpoint_hash(again) == checkpoint_hash(built), "the same seed gave other weights"
    assert tree_digest(again) == tree_digest(built), "the same seed gave other files (config, tokenizer ...)"
    assert checkpoint_hash(other) != checkpoint_hash(again), "another seed gave the same weights"


def next_token_logits(adapter: Any, requests: Sequence[UnderstandRequest]) -> list[Any] | None:
    """Per request, the model's logits for the first answer token; ``None`` if the adapter has no such hook.

    Uses the adapter's own prompt and processor path (`render_prompt`, `processor_inputs`), as
    `HFVisionLanguageAdapter` subclasses expose them.
    """
    if not all(hasattr(adapter, name) for name in ("render_prompt", "processor_inputs", "model")):
        return None
    import torch
    from transformers import BatchFeature

    rows = []
    for request in requests:
        prompt = adapter.render_prompt(request.text, len(request.images))
        inputs = adapter.processor_inputs([prompt], [list(request.images)])
        inputs = BatchFeature(dict(inputs)).to(adapter.device, dtype=getattr(torch, adapter.dtype))
        with torch.inference_mode():
            rows.append(adapter.model(**inputs).logits[0, -1].float().cpu())
    return rows


def check_output_depends_on_image(
    adapter: Adapter, settings: GenerationSettings = UNDERSTAND_SETTINGS, n_images: int = 6
) -> str:
    """Some of `n_images` same-size images changes the answer: ``"text"``, or else ``"logits"``.

    Raises:
        AssertionError: every image gave the same answer text and the same next-token logits
            (within `LOGIT_TOLERANCE`), or the same text from an adapter without logits.
    """
    requests = [
        UnderstandRequest(f"image{i}", (image,), IMAGE_QUESTION)
        for i, image in enumerate(same_size_images(n_images))
    ]
    texts = [response.text for response in adapter.understand(requests, settings)]
    if len(set(texts)) > 1:
        return "text"
    logits = next_token_logits(adapter, requests)
    assert logits is not None, (
        f"{n_images} different images all gave {texts[0]!r} and the adapter exposes no logits to compare"
    )
    spread = max(_finite_max_difference(row, logits[0]) for row in logits[1:])
    assert spread > LOGIT_TOLERANCE, (
        f"{n_images} different images all gave {texts[0]!r} and next-token logits within {spread:.2e}: "
        f"the image does not reach the model"
    )
    return "logits"


def check_registered_adapter(adapter_cls: type[Adapter], tiny_dir: Path) -> list[Adapter]:
    """The understanding and/or generation contract on `tiny_dir`, batch invariance, image dependence.

    Returns the loaded adapters (one per capability checked); the caller closes them.
    """
    loaded: list[Adapter] = []
    assert adapter_cls.capabilities & (Capability.UNDERSTAND | Capability.GENERATE | Capability.AUDIO), (
        f"adapter {adapter_cls.name!r} declares neither UNDERSTAND, GENERATE nor AUDIO"
    )
    if adapter_cls.capabilities == Capability.AUDIO:
        return [check_transcriber(adapter_cls, tiny_dir)]
    if Capability.UNDERSTAND in adapter_cls.capabilities and adapter_cls.connector is Connector.NONE:
        loaded.append(check_blind_adapter(adapter_cls, tiny_dir))
    elif Capability.UNDERSTAND in adapter_cls.capabilities:
        adapter = check_understanding_contract(adapter_cls, tiny_dir, settings=UNDERSTAND_SETTINGS)
        loaded.append(adapter)
        check_batching(adapter, sample_requests(4), UNDERSTAND_SETTINGS)
        check_output_depends_on_image(adapter)
    if Capability.GENERATE in adapter_cls.capabilities:
        loaded.append(
            check_generation_contract(
                adapter_cls, tiny_dir, GENERATE_SETTINGS, batch_tolerance=GENERATE_BATCH_TOLERANCE
            )
        )
    return loaded


def _finite_max_difference(a: Any, b: Any) -> float:
    """Largest absolute difference over the positions finite in both (masked logits are -inf)."""
    finite = a.isfinite() & b.isfinite()
    assert bool(finite.any()), "no finite logits to compare"
    return float((a[finite] - b[finite]).abs().max())


def check_blind_adapter(adapter_cls: type[Adapter], tiny_dir: Path) -> Adapter:
    """The contract of an understanding adapter whose connector is ``none``: it never sees the image.

    Entry point, lazy loading and `info` (family, connector ``none``, an LLM, a positive
    parameter count, a weight hash); batch 1 equals batch N; every one of several different
    images gives the same answer, with no image tokens. Returns the loaded adapter.
    """
    assert adapter_cls.description, f"{adapter_cls.__name__}.description is empty"
    check_registered(adapter_cls)
    adapter = check_lazy_load(adapter_cls, tiny_dir)
    info = adapter.info
    assert info.name == adapter_cls.name and info.paradigm.family == adapter_cls.name, f"info: {info}"
    assert info.paradigm.connector is Connector.NONE and info.paradigm.llm_backbone, (
        f"paradigm: {info.paradigm}"
    )
    assert info.parameters.get("total", 0) > 0, f"parameters: {info.parameters}"
    assert info.checkpoint_hash and info.checkpoint_hash.startswith("sha256:"), (
        f"hash {info.checkpoint_hash!r}"
    )
    check_batching(adapter, sample_requests(4), UNDERSTAND_SETTINGS)
    requests = [
        UnderstandRequest(f"image{i}", (image,), IMAGE_QUESTION) for i, image in enumerate(same_size_images())
    ]
    responses = adapter.understand(requests, UNDERSTAND_SETTINGS)
    assert len({r.text for r in responses}) == 1, (
        "a connector-none adapter answered differently for different images"
    )
    assert all(r.usage.image_tokens == 0 for r in responses), "a connector-none adapter counted image tokens"
    return adapter


def synthetic_audios(n: int = 3) -> list[Any]:
    """`n` different 1-second 16 kHz waveforms: tones of rising pitch, every other one with noise."""
    import numpy as np

    from mllmbench.core.types import Audio

    t = np.arange(16_000) / 16_000
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        wave = 0.4 * np.sin(2 * np.pi * (300 + 350 * i) * t) + (0.1 * rng.normal(size=t.size) if i % 2 else 0)
        out.append(Audio(waveform=wave.astype(np.float32), sample_rate=16_000, source=f"synthetic{i}"))
    return out


def check_transcriber(adapter_cls: type[Adapter], tiny_dir: Path) -> Adapter:
    """The contract of an audio-only adapter: registered, lazy, `info` filled, batch 1 = batch N,
    transcripts that depend on the audio, and a request without audio refused or answered without
    audio positions. Returns it loaded."""
    from mllmbench.core.errors import ConfigError

    assert adapter_cls.description, f"{adapter_cls.__name__}.description is empty"
    check_registered(adapter_cls)
    adapter = check_lazy_load(adapter_cls, tiny_dir)
    info = adapter.info
    assert info.name == adapter_cls.name and info.capabilities == Capability.AUDIO, f"info: {info}"
    assert info.parameters.get("total", 0) > 0 and info.checkpoint_hash, f"info: {info}"
    requests = [
        UnderstandRequest(f"a{i}", (), "Transcribe.", audios=(audio,))
        for i, audio in enumerate(synthetic_audios())
    ]
    together = adapter.understand(requests, UNDERSTAND_SETTINGS)
    alone = [adapter.understand([r], UNDERSTAND_SETTINGS)[0] for r in requests]
    key = [(r.text, r.usage.output_tokens) for r in together]
    assert key == [(r.text, r.usage.output_tokens) for r in alone], "batch 1 and batch N differ"
    assert len({r.text for r in together}) > 1, "every audio gave the same transcript"
    assert all(1 <= r.usage.output_tokens <= UNDERSTAND_SETTINGS.max_new_tokens for r in together)
    # Without audio: refused (a recogniser) or answered from the text alone (an audio LLM),
    # never with audio positions.
    try:
        [silent] = adapter.understand([UnderstandRequest("none", (), "Transcribe.")], UNDERSTAND_SETTINGS)
    except ConfigError:
        pass
    else:
        assert silent.usage.input_tokens < together[0].usage.input_tokens, (
            "no audio, yet as many input tokens"
        )
    return adapter
