"""One contract over every registered adapter, driven by the entry-point registry.

For each name in ``mllmbench.adapters`` (built-ins, plugins and adapters added later alike):
it has a tiny recipe or says why not (`Adapter.tiny_recipe_reason`; neither is a failure); its
tiny build is deterministic; it loads through ``from_pretrained`` on the built directory with
`info` and the paradigm filled; batch 1 equals batch N; an understanding adapter's output
depends on the image; a generating adapter gives the same image for the same seed and another
for another seed. An understanding adapter with connector ``none`` (a text-only baseline) is
held to the opposite: the same answer for every image. An adapter that states why it has no recipe is skipped with that reason
(shown in the ``-ra`` summary), never silently.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from mllmbench.adapters.base import Adapter
from mllmbench.adapters.registry import load_adapter_class
from mllmbench.core import registry
from mllmbench.testing.tiny_contract import (
    check_output_depends_on_image,
    check_registered_adapter,
    check_tiny_build_deterministic,
    check_tiny_recipe_declared,
)

NAMES = registry.names(registry.ADAPTER_GROUP)


def _with_recipe(name: str) -> type[Adapter]:
    """The registered class; skipped (with its stated reason) when it declares it has no recipe."""
    adapter_cls = load_adapter_class(name)
    reason = check_tiny_recipe_declared(adapter_cls)
    if reason is not None:
        pytest.skip(f"{name} has no tiny recipe: {reason}")
    return adapter_cls


def test_the_registry_lists_the_built_in_families() -> None:
    assert {"llava", "blip2", "janus", "diffusion", "expert_pipeline", "llm_diffusion"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_has_a_tiny_recipe_or_says_why(name: str) -> None:
    check_tiny_recipe_declared(load_adapter_class(name))


@pytest.mark.parametrize("name", NAMES)
def test_tiny_build_is_deterministic(
    name: str, tiny_checkpoint: Callable[[str], Path], tmp_path: Path
) -> None:
    adapter_cls = _with_recipe(name)
    check_tiny_build_deterministic(adapter_cls, tiny_checkpoint(name), tmp_path)


@pytest.mark.parametrize("name", NAMES)
def test_contract_on_the_tiny_checkpoint(name: str, tiny_checkpoint: Callable[[str], Path]) -> None:
    adapter_cls = _with_recipe(name)
    for adapter in check_registered_adapter(adapter_cls, tiny_checkpoint(name)):
        adapter.close()


# --- the image-dependence check itself ----------------------------------------------------------
@pytest.fixture(scope="module")
def llava(tiny_checkpoint: Callable[[str], Path]):  # noqa: ANN201
    adapter = load_adapter_class("llava")(str(tiny_checkpoint("llava")))
    adapter.load()
    yield adapter
    adapter.close()


def test_image_check_falls_back_to_logits_when_every_text_is_the_same(
    llava: Adapter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(llava, "decode", lambda rows: ["same"] * len(rows))
    assert check_output_depends_on_image(llava) == "logits"


def test_image_check_fails_for_a_model_that_never_sees_the_pixels(
    llava: Adapter, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_inputs = llava.processor_inputs  # type: ignore[attr-defined]

    def blank_pixels(prompts, images):  # noqa: ANN001, ANN202
        inputs = real_inputs(prompts, images)
        inputs["pixel_values"] = inputs["pixel_values"] * 0
        return inputs

    monkeypatch.setattr(llava, "processor_inputs", blank_pixels)
    with pytest.raises(AssertionError, match="the image does not reach the model"):
        check_output_depends_on_image(llava)


def test_an_adapter_without_recipe_or_reason_fails_and_one_with_a_reason_is_named() -> None:
    class NoRecipe(Adapter):
        name = "no_recipe"

    class Remote(Adapter):
        name = "remote"
        tiny_recipe_reason = "talks to a server; there are no weights to build"

    with pytest.raises(AssertionError, match="no build_tiny recipe and no tiny_recipe_reason"):
        check_tiny_recipe_declared(NoRecipe)
    assert check_tiny_recipe_declared(Remote) == Remote.tiny_recipe_reason
    assert check_tiny_recipe_declared(load_adapter_class("llava")) is None
