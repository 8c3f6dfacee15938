"""The adapter contract: checks every understanding (and generating) adapter must pass, per family.

Plain functions that raise `AssertionError` with a message saying what broke, so a family's
test module is a few lines::

    adapter = check_understanding_contract(MyAdapter, tiny_dir)
    check_fidelity(adapter, sample_requests(1)[0], GenerationSettings(max_new_tokens=8))
    check_batching(adapter, sample_requests(8), GenerationSettings(max_new_tokens=8))

A generating adapter runs ``check_generation_contract(MyAdapter, tiny_dir, settings)``: sane
responses, the knobs reported, same seed -> same pixels, batch invariance.

`sample_requests` makes distinct synthetic images (coloured shapes on coloured backgrounds, of
different sizes) and questions of different lengths, so that a batching or image-plumbing bug
changes some answer.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mllmbench.adapters.base import Adapter
from mllmbench.core.types import (
    Capability,
    Connector,
    GenerateRequest,
    GenerateResponse,
    GenerationSettings,
    ImageGenerationSettings,
    UnderstandRequest,
    UnderstandResponse,
)

if TYPE_CHECKING:
    from PIL.Image import Image

DirectInputs = Callable[[Any, str, list["Image"]], Mapping[str, Any]]
"""(processor, prompt, images) -> model inputs, for `check_fidelity`'s direct transformers call."""

_COLOURS = ((220, 30, 30), (30, 160, 40), (40, 60, 220), (240, 210, 20), (140, 40, 170), (250, 140, 0))
_QUESTIONS = (
    "What colour is the circle?",
    "How many shapes are there?",
    "Is there a red square on the left?",
    "Describe the image.",
    "What shape is blue? Answer with one word.",
    "yes or no?",
    "Answer the question using a single word or phrase. What color is the star in the middle?",
    "Is the triangle on the top?",
)


def synthetic_image(index: int) -> Image:
    """A small RGB image that differs with `index`: size, background, shape, colour, position."""
    from PIL import Image as PILImage
    from PIL import ImageDraw

    width, height = 40 + 7 * (index % 5), 36 + 5 * (index % 4)
    background = _COLOURS[(index + 3) % len(_COLOURS)]
    image = PILImage.new("RGB", (width, height), background)
    draw = ImageDraw.Draw(image)
    x, y = 2 + 3 * (index % 4), 2 + 2 * (index % 3)
    box = (x, y, x + width // 2, y + height // 2)
    fill = _COLOURS[index % len(_COLOURS)]
    if index % 2:
        draw.ellipse(box, fill=fill)
    else:
        draw.rectangle(box, fill=fill)
    return image


def sample_requests(n: int = 8, *, images_per_request: int = 1) -> list[UnderstandRequest]:
    """`n` requests with distinct images and questions of different lengths (ids ``s0``, ``s1`` ...)."""
    return [
        UnderstandRequest(
            sample_id=f"s{i}",
            images=tuple(synthetic_image(i * images_per_request + k) for k in range(images_per_request)),
            text=_QUESTIONS[i % len(_QUESTIONS)] + " Please." * (i // len(_QUESTIONS)),
        )
        for i in range(n)
    ]


def _comparable(response: UnderstandResponse) -> tuple[str, str, int, int, int]:
    usage = response.usage
    return (response.text, response.prompt, usage.input_tokens, usage.output_tokens, usage.image_tokens)


def check_class_contract(adapter_cls: type[Adapter]) -> None:
    """Class variables of an understanding adapter are set and consistent."""
    assert isinstance(adapter_cls.name, str) and adapter_cls.name, f"{adapter_cls.__name__}.name is empty"
    assert adapter_cls.name == adapter_cls.name.lower(), f"{adapter_cls.__name__}.name must be lower case"
    assert Capability.UNDERSTAND in adapter_cls.capabilities, (
        f"{adapter_cls.__name__}.capabilities lacks UNDERSTAND: {adapter_cls.capabilities!r}"
    )
    assert isinstance(adapter_cls.connector, Connector) and adapter_cls.connector is not Connector.NONE, (
        f"{adapter_cls.__name__}.connector must name how images reach the LLM, got {adapter_cls.connector!r}"
    )
    assert adapter_cls.description, f"{adapter_cls.__name__}.description is empty"


def check_registered(adapter_cls: type[Adapter]) -> None:
    """The entry point named `adapter_cls.name` loads exactly `adapter_cls`."""
    from mllmbench.adapters.registry import load_adapter_class

    found = load_adapter_class(adapter_cls.name)
    assert found is adapter_cls, f"entry point {adapter_cls.name!r} loads {found!r}, not {adapter_cls!r}"


def check_info(adapter: Adapter, model_dir: Path) -> None:
    """`AdapterInfo` of a loaded adapter: provenance, paradigm, parameter counts, visual tokens."""
    info = adapter.info
    cls = type(adapter)
    assert info.name == cls.name, f"info.name {info.name!r} != class name {cls.name!r}"
    assert info.checkpoint == str(model_dir), f"info.checkpoint {info.checkpoint!r} != {str(model_dir)!r}"
    assert info.capabilities == cls.capabilities, f"info.capabilities {info.capabilities!r}"
    assert info.paradigm.family == cls.name, f"paradigm.family {info.paradigm.family!r} != {cls.name!r}"
    assert info.paradigm.connector is cls.connector, f"paradigm.connector {info.paradigm.connector!r}"
    assert info.paradigm.vision_encoder and info.paradigm.llm_backbone, (
        f"paradigm names empty: {info.paradigm}"
    )
    params = dict(info.parameters)
    total = params.pop("total", 0)
    assert total > 0, f"parameters has no positive total: {info.parameters}"
    assert params.get("vision", 0) > 0 and params.get("llm", 0) > 0, f"vision/llm counts: {info.parameters}"
    assert sum(params.values()) == total, f"parameter groups do not add up to total: {info.parameters}"
    assert info.visual_tokens_per_image is not None and info.visual_tokens_per_image > 0, (
        f"visual_tokens_per_image must be positive, got {info.visual_tokens_per_image!r}"
    )
    assert info.checkpoint_hash and info.checkpoint_hash.startswith("sha256:"), (
        f"a local checkpoint needs a sha256 hash, got {info.checkpoint_hash!r}"
    )
    assert info.dtype == adapter.dtype and info.device == adapter.device, f"dtype/device: {info}"
    assert info.model_class and info.processor_class, f"model/processor class empty: {info}"
    json.dumps(info.to_dict())


def check_responses(
    batch: Sequence[UnderstandRequest], responses: Sequence[UnderstandResponse], settings: GenerationSettings
) -> None:
    """One well-formed response per request, in order, with sane token counts."""
    assert len(responses) == len(batch), f"{len(responses)} responses for {len(batch)} requests"
    for request, response in zip(batch, responses, strict=True):
        where = f"sample {request.sample_id!r}"
        assert isinstance(response, UnderstandResponse), f"{where}: got {type(response).__name__}"
        assert isinstance(response.text, str), f"{where}: text is {type(response.text).__name__}"
        assert request.text in response.prompt, f"{where}: prompt {response.prompt!r} lacks the request text"
        usage = response.usage
        assert usage.input_tokens > usage.image_tokens > 0, f"{where}: want input > image > 0 tokens: {usage}"
        assert 1 <= usage.output_tokens <= settings.max_new_tokens, (
            f"{where}: output_tokens {usage.output_tokens} outside [1, {settings.max_new_tokens}]"
        )
        assert usage.batch_size == len(batch) and usage.batch_seconds > 0, f"{where}: batch usage {usage}"


def check_understanding_contract(
    adapter_cls: type[Adapter],
    model_dir: Path,
    *,
    settings: GenerationSettings | None = None,
    requests: Sequence[UnderstandRequest] | None = None,
    registered: bool = True,
) -> Adapter:
    """Run the whole understanding contract on `adapter_cls` with the checkpoint in `model_dir`.

    Checks: class variables; the entry point (when `registered`); construction is cheap (even
    for a missing path, whose `load` then raises `ConfigError`); `info` raises before `load`;
    `load` works; `check_info`; `understand` returns sane responses in order, the same twice,
    and ``[]`` for an empty batch.

    Returns:
        The loaded adapter, for further checks (`check_fidelity`, `check_batching`).
    """
    from mllmbench.core.errors import ConfigError

    settings = settings or GenerationSettings(max_new_tokens=6)
    requests = list(requests) if requests is not None else sample_requests(3)
    check_class_contract(adapter_cls)
    if registered:
        check_registered(adapter_cls)

    missing = adapter_cls(str(Path(model_dir) / "does-not-exist"))
    try:
        missing.load()
    except ConfigError as exc:
        assert "does-not-exist" in str(exc), f"ConfigError does not name the path: {exc}"
    else:
        raise AssertionError("load() of a missing local path did not raise ConfigError")

    adapter = adapter_cls(str(model_dir))
    try:
        _ = adapter.info
    except RuntimeError:
        pass
    else:
        raise AssertionError("info did not raise RuntimeError before load()")
    adapter.load()
    check_info(adapter, Path(model_dir))

    first = adapter.understand(requests, settings)
    check_responses(requests, first, settings)
    second = adapter.understand(requests, settings)
    assert [_comparable(r) for r in first] == [_comparable(r) for r in second], (
        "two identical understand() calls gave different results"
    )
    assert adapter.understand([], settings) == [], "understand([]) must return []"
    return adapter


def _default_direct_inputs(processor: Any, prompt: str, images: list[Image]) -> Mapping[str, Any]:
    return processor(text=[prompt], images=images or None, return_tensors="pt")  # type: ignore[no-any-return]


def check_fidelity(
    adapter: Any,
    request: UnderstandRequest,
    settings: GenerationSettings,
    *,
    direct_inputs: DirectInputs = _default_direct_inputs,
) -> UnderstandResponse:
    """The adapter answers exactly as transformers does when called directly with its recorded prompt.

    The direct path: ``processor(text=[prompt], images=...)`` (or `direct_inputs`) ->
    ``model.generate(max_new_tokens, do_sample)`` -> decode the new tokens, special tokens
    skipped, stripped. `adapter` must expose ``model`` and ``processor`` (as
    `HFVisionLanguageAdapter` does).
    """
    import torch

    [response] = adapter.understand([request], settings)
    model, processor = adapter.model, adapter.processor
    inputs = direct_inputs(processor, response.prompt, list(request.images))
    inputs = inputs.to(model.device, dtype=model.dtype)  # type: ignore[attr-defined]
    torch.manual_seed(settings.seed)
    with torch.inference_mode():
        sequences = model.generate(
            **inputs, max_new_tokens=settings.max_new_tokens, do_sample=settings.do_sample
        )
    new_tokens = sequences[0, inputs["input_ids"].shape[1] :]
    text = processor.decode(new_tokens, skip_special_tokens=True).strip()
    assert response.text == text, f"adapter answered {response.text!r}, transformers directly {text!r}"
    assert response.usage.input_tokens == inputs["input_ids"].shape[1], (
        f"input_tokens {response.usage.input_tokens} != direct prompt length {inputs['input_ids'].shape[1]}"
    )
    assert response.usage.output_tokens == len(new_tokens), (
        f"output_tokens {response.usage.output_tokens} != {len(new_tokens)} tokens generated directly"
    )
    return response


def check_batching(
    adapter: Adapter,
    requests: Sequence[UnderstandRequest],
    settings: GenerationSettings,
    *,
    require_distinct: bool = True,
) -> list[UnderstandResponse]:
    """Answers of one batched call equal answers one request at a time (text, prompt, counts).

    With `require_distinct`, at least two answers must differ, so that a bug mixing up the
    samples of a batch cannot hide behind identical outputs.
    """
    assert len(requests) >= 2, "check_batching needs at least two requests"
    singles = [adapter.understand([request], settings)[0] for request in requests]
    batched = adapter.understand(list(requests), settings)
    mismatches = [
        f"{request.sample_id}: alone {_comparable(one)!r} vs batched {_comparable(many)!r}"
        for request, one, many in zip(requests, singles, batched, strict=True)
        if _comparable(one) != _comparable(many)
    ]
    assert not mismatches, "batch size 1 and batch size {} differ:\n{}".format(
        len(requests), "\n".join(mismatches)
    )
    if require_distinct:
        assert len({r.text for r in singles}) > 1, (
            f"all {len(singles)} answers are identical ({singles[0].text!r}): the check cannot see mix-ups"
        )
    return batched


# --- generation -----------------------------------------------------------------------------
_PROMPTS = (
    "a red circle on the left",
    "two blue squares",
    "a small yellow triangle at the top of the image",
    "three green stars and a purple ellipse",
)


def generation_requests(n: int = 3, *, seed: int = 0) -> list[GenerateRequest]:
    """`n` prompts of different lengths, ids ``g0``, ``g1`` ..., seeds derived from `seed`."""
    from mllmbench.core.types import derive_seed

    return [
        GenerateRequest(
            f"g{i}",
            _PROMPTS[i % len(_PROMPTS)] + " please" * (i // len(_PROMPTS)),
            derive_seed(seed, f"g{i}"),
        )
        for i in range(n)
    ]


def image_bytes(image: Image) -> bytes:
    """The RGB pixel bytes of an image (what "the same image" compares)."""
    return bytes(image.convert("RGB").tobytes())


def pixel_difference(a: Image, b: Image) -> int:
    """The largest absolute difference of two same-sized images' RGB values (0 = identical)."""
    import numpy as np

    assert a.size == b.size, f"image sizes differ: {a.size} vs {b.size}"
    x = np.asarray(a.convert("RGB"), dtype=np.int16)
    y = np.asarray(b.convert("RGB"), dtype=np.int16)
    return int(np.abs(x - y).max())


def check_generation_class_contract(adapter_cls: type[Adapter]) -> None:
    """Class variables of a generating adapter are set and consistent."""
    from mllmbench.core.types import GenerationParadigm

    assert isinstance(adapter_cls.name, str) and adapter_cls.name, f"{adapter_cls.__name__}.name is empty"
    assert Capability.GENERATE in adapter_cls.capabilities, (
        f"{adapter_cls.__name__}.capabilities lacks GENERATE: {adapter_cls.capabilities!r}"
    )
    assert isinstance(adapter_cls.generation, GenerationParadigm), f"{adapter_cls.__name__}.generation"
    assert adapter_cls.generation is not GenerationParadigm.NONE, (
        f"{adapter_cls.__name__}.generation must name how it draws images"
    )
    assert isinstance(adapter_cls.connector, Connector), f"{adapter_cls.__name__}.connector"
    assert adapter_cls.description, f"{adapter_cls.__name__}.description is empty"


GENERATION_SETTING_KEYS = (
    "num_inference_steps",
    "guidance_scale",
    "temperature",
    "top_k",
    "width",
    "height",
    "seed",
)
"""Knobs every `GenerateResponse.settings` must report (None where a knob does not apply)."""


def check_generate_responses(batch: Sequence[GenerateRequest], responses: Sequence[GenerateResponse]) -> None:
    """One response per request, in order: RGB images, the knobs used, sane costs."""
    from PIL import Image as PILImage

    assert len(responses) == len(batch), f"{len(responses)} responses for {len(batch)} requests"
    for request, response in zip(batch, responses, strict=True):
        where = f"sample {request.sample_id!r}"
        assert isinstance(response, GenerateResponse), f"{where}: got {type(response).__name__}"
        assert response.images, f"{where}: no image"
        for image in response.images:
            assert isinstance(image, PILImage.Image) and image.mode == "RGB", f"{where}: not an RGB PIL image"
            assert image.size[0] > 0 and image.size[1] > 0, f"{where}: empty image"
        assert request.text in response.prompt, f"{where}: prompt {response.prompt!r} lacks the request text"
        missing = [k for k in GENERATION_SETTING_KEYS if k not in response.settings]
        assert not missing, f"{where}: settings lack {missing}: {response.settings}"
        assert response.settings["seed"] == request.seed, (
            f"{where}: settings seed {response.settings['seed']}"
        )
        assert (response.settings["width"], response.settings["height"]) == response.images[0].size, (
            f"{where}: settings size {response.settings['width']}x{response.settings['height']} "
            f"!= image size {response.images[0].size}"
        )
        usage = response.usage
        assert usage.batch_size == len(batch) or usage.batch_size == 1, f"{where}: batch size {usage}"
        assert usage.batch_seconds > 0 and usage.steps >= 1, f"{where}: usage {usage}"
        assert usage.guidance_multiplier in (1, 2), (
            f"{where}: guidance multiplier {usage.guidance_multiplier}"
        )
        assert usage.nfe == usage.steps * usage.guidance_multiplier, (
            f"{where}: nfe {usage.nfe} != steps {usage.steps} x multiplier {usage.guidance_multiplier}"
        )
        assert usage.input_tokens > 0 and usage.image_tokens >= 0, f"{where}: token counts {usage}"
        assert usage.stage_seconds and all(s >= 0 for s in usage.stage_seconds.values()), f"{where}: {usage}"
        json.dumps({"settings": response.settings, "usage": usage.to_dict()})


def check_generation_contract(
    adapter_cls: type[Adapter],
    model_dir: Path,
    settings: ImageGenerationSettings,
    *,
    requests: Sequence[GenerateRequest] | None = None,
    registered: bool = True,
    batch_tolerance: int | None = 0,
) -> Adapter:
    """Run the generation contract on `adapter_cls` with the checkpoint in `model_dir`.

    Checks: class variables; the entry point (when `registered`); a missing path raises
    `ConfigError` at `load`; `info` raises before `load` and records the generation paradigm;
    `generate_images` returns sane responses in order; the same seeds give the same pixels on a
    second call; another seed gives another image; a request drawn alone gives the same pixels
    as inside the batch, up to `batch_tolerance` per RGB value (batched float kernels round
    differently; ``None`` skips the check); ``[]`` for an empty batch.

    Returns:
        The loaded adapter, for further checks.
    """
    import dataclasses

    from mllmbench.core.errors import ConfigError

    requests = list(requests) if requests is not None else generation_requests(3)
    check_generation_class_contract(adapter_cls)
    if registered:
        check_registered(adapter_cls)

    missing = adapter_cls(str(Path(model_dir) / "does-not-exist"))
    try:
        missing.load()
    except ConfigError as exc:
        assert "does-not-exist" in str(exc), f"ConfigError does not name the path: {exc}"
    else:
        raise AssertionError("load() of a missing local path did not raise ConfigError")

    adapter = adapter_cls(str(model_dir))
    try:
        _ = adapter.info
    except RuntimeError:
        pass
    else:
        raise AssertionError("info did not raise RuntimeError before load()")
    adapter.load()
    info = adapter.info
    assert info.name == adapter_cls.name and info.capabilities == adapter_cls.capabilities, f"info: {info}"
    assert info.paradigm.generation is adapter_cls.generation, (
        f"paradigm.generation {info.paradigm.generation!r}"
    )
    assert info.checkpoint == str(model_dir), f"info.checkpoint {info.checkpoint!r} != {str(model_dir)!r}"
    assert info.parameters.get("total", 0) > 0, f"parameters: {info.parameters}"
    assert info.checkpoint_hash and info.checkpoint_hash.startswith("sha256:"), (
        f"hash {info.checkpoint_hash!r}"
    )
    json.dumps(info.to_dict())

    first = adapter.generate_images(requests, settings)
    check_generate_responses(requests, first)
    second = adapter.generate_images(requests, settings)
    for request, a, b in zip(requests, first, second, strict=True):
        assert [image_bytes(i) for i in a.images] == [image_bytes(i) for i in b.images], (
            f"sample {request.sample_id!r}: the same seed gave different images"
        )
        assert a.settings == b.settings, f"sample {request.sample_id!r}: settings differ between calls"
    reseeded = dataclasses.replace(requests[0], seed=requests[0].seed + 1)
    [other] = adapter.generate_images([reseeded], settings)
    assert image_bytes(other.images[0]) != image_bytes(first[0].images[0]), (
        "a different seed gave the same image: the seed does not reach the sampler"
    )
    if batch_tolerance is not None:
        alone = adapter.generate_images([requests[-1]], settings)[0]
        diff = pixel_difference(alone.images[0], first[-1].images[0])
        assert diff <= batch_tolerance, (
            f"sample {requests[-1].sample_id!r}: drawn alone it differs from drawn in a batch by up to {diff}"
        )
    assert adapter.generate_images([], settings) == [], "generate_images([]) must return []"
    return adapter
