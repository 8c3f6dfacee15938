"""The generation contract: checks every image-generating adapter must pass.

``check_generation_contract(MyAdapter, tiny_dir, settings)``: class variables, the entry point,
lazy loading, `info`'s generation paradigm, sane responses with every knob reported, the same
seed -> the same pixels, another seed -> another image, batch invariance within a tolerance.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from mllmbench.adapters.base import Adapter
from mllmbench.core.types import (
    Capability,
    Connector,
    GenerateRequest,
    GenerateResponse,
    ImageGenerationSettings,
)
from mllmbench.testing.contract_common import check_lazy_load, check_registered

if TYPE_CHECKING:
    from PIL.Image import Image

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
        assert usage.sequential_calls >= 1, f"{where}: sequential_calls {usage.sequential_calls}"
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
    requests = list(requests) if requests is not None else generation_requests(3)
    check_generation_class_contract(adapter_cls)
    if registered:
        check_registered(adapter_cls)
    adapter = check_lazy_load(adapter_cls, model_dir)
    check_generation_info(adapter, Path(model_dir))
    first = adapter.generate_images(requests, settings)
    check_generate_responses(requests, first)
    check_seeds(adapter, requests, first, settings)
    if batch_tolerance is not None:
        alone = adapter.generate_images([requests[-1]], settings)[0]
        diff = pixel_difference(alone.images[0], first[-1].images[0])
        assert diff <= batch_tolerance, (
            f"sample {requests[-1].sample_id!r}: drawn alone it differs from drawn in a batch by up to {diff}"
        )
    assert adapter.generate_images([], settings) == [], "generate_images([]) must return []"
    return adapter


def check_generation_info(adapter: Adapter, model_dir: Path) -> None:
    """`AdapterInfo` of a loaded generating adapter: name, paradigm, provenance, parameters."""
    info, cls = adapter.info, type(adapter)
    assert info.name == cls.name and info.capabilities == cls.capabilities, f"info: {info}"
    assert info.paradigm.generation is cls.generation, f"paradigm.generation {info.paradigm.generation!r}"
    assert info.paradigm.family == cls.name, f"paradigm.family {info.paradigm.family!r} != {cls.name!r}"
    assert info.checkpoint == str(model_dir), f"info.checkpoint {info.checkpoint!r} != {str(model_dir)!r}"
    assert info.parameters.get("total", 0) > 0, f"parameters: {info.parameters}"
    assert info.checkpoint_hash and info.checkpoint_hash.startswith("sha256:"), (
        f"hash {info.checkpoint_hash!r}"
    )
    assert info.model_class, f"model_class empty: {info}"
    json.dumps(info.to_dict())


def check_seeds(
    adapter: Adapter,
    requests: Sequence[GenerateRequest],
    first: Sequence[GenerateResponse],
    settings: ImageGenerationSettings,
) -> None:
    """A second call with the same seeds gives the same pixels and knobs; another seed another image."""
    import dataclasses

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
