"""The adapter contract: checks every understanding (and generating) adapter must pass, per family.

Plain functions that raise `AssertionError` with a message saying what broke, so a family's
test module is a few lines::

    adapter = check_understanding_contract(MyAdapter, tiny_dir)
    check_fidelity(adapter, sample_requests(1)[0], GenerationSettings(max_new_tokens=8))
    check_batching(adapter, sample_requests(8), GenerationSettings(max_new_tokens=8))

A generating adapter runs ``check_generation_contract(MyAdapter, tiny_dir, settings)`` (from
`mllmbench.testing.generation_contract`, re-exported here): sane responses, the knobs reported,
same seed -> same pixels, batch invariance. `mllmbench.testing.tiny_contract` adds what the
contract test over every registered adapter checks on top (tiny builds, image dependence).

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
    GenerationSettings,
    UnderstandRequest,
    UnderstandResponse,
)
from mllmbench.testing.contract_common import check_lazy_load, check_registered

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
    settings = settings or GenerationSettings(max_new_tokens=6)
    requests = list(requests) if requests is not None else sample_requests(3)
    check_class_contract(adapter_cls)
    if registered:
        check_registered(adapter_cls)

    adapter = check_lazy_load(adapter_cls, model_dir)
    check_info(adapter, Path(model_dir))

    first = adapter.understand(requests, settings)
    check_responses(requests, first, settings)
    second = adapter.understand(requests, settings)
    assert [_comparable(r) for r in first] == [_comparable(r) for r in second], (
        "two identical understand() calls gave different results"
    )
    assert adapter.understand([], settings) == [], "understand([]) must return []"
    check_prepared(adapter, requests, settings, first)
    return adapter


def check_prepared(
    adapter: Adapter,
    requests: Sequence[UnderstandRequest],
    settings: GenerationSettings,
    expected: Sequence[UnderstandResponse],
) -> None:
    """`Adapter.prepare` in another thread (as the pipelined engine calls it), then
    `Adapter.understand_prepared`, answers exactly as `understand` did (`expected`).

    A transformers family that keeps the shared ``understand`` must really prepare ahead (its
    processor outputs in ``inputs``); any other adapter may fall back to preparing nothing.
    """
    import threading

    from mllmbench.adapters.hf import HFVisionLanguageAdapter

    box: list[Any] = []
    worker = threading.Thread(target=lambda: box.append(adapter.prepare(list(requests))))
    worker.start()
    worker.join()
    assert box, "prepare() raised in a worker thread (see the thread's traceback above)"
    prepared = box[0]
    if (
        isinstance(adapter, HFVisionLanguageAdapter)
        and type(adapter).understand is HFVisionLanguageAdapter.understand
    ):
        assert prepared.inputs is not None, f"adapter {adapter.name!r} prepared nothing ahead"
    got = adapter.understand_prepared(prepared, settings)
    assert [_comparable(r) for r in got] == [_comparable(r) for r in expected], (
        "understand_prepared(prepare(batch)) differs from understand(batch)"
    )


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


def same_size_images(n: int = 6, size: tuple[int, int] = (48, 40)) -> list[Image]:
    """`n` distinct synthetic images resized to one `size`, so they differ in content only.

    Families whose visual-token count follows the image size get the same token count for each,
    so an answer that changes can only have changed because of the pixels.
    """
    return [synthetic_image(i).resize(size) for i in range(n)]


from mllmbench.testing.generation_contract import (  # noqa: E402  (re-exported for existing imports)
    GENERATION_SETTING_KEYS,
    check_generate_responses,
    check_generation_class_contract,
    check_generation_contract,
    generation_requests,
    image_bytes,
    pixel_difference,
)

__all__ = [
    "GENERATION_SETTING_KEYS",
    "check_batching",
    "check_class_contract",
    "check_fidelity",
    "check_generate_responses",
    "check_generation_class_contract",
    "check_generation_contract",
    "check_info",
    "check_registered",
    "check_responses",
    "check_understanding_contract",
    "generation_requests",
    "image_bytes",
    "pixel_difference",
    "same_size_images",
    "sample_requests",
    "synthetic_image",
]
