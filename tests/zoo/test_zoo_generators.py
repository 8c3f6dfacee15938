"""Shipped generating zoo members learned to draw Shapes: the Shapes judge's Fréchet distance of
their images to held-out reference images is far below that of the same member with its fresh,
untrained weights (built from its recipe, its tokenizer loaded, saved the same way), both drawn
for the same held-out prompts with the member's own sampling settings.

(Whether the images follow their prompts is measured in docs/zoo.md: at this budget they barely
do, so that is a documented finding, not a test.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from mllmbench.core.zoo_paths import shipped_members
from mllmbench.zoo.members import MEMBERS

TEST_SEED = 5151
PROMPTS = 32
CONDITIONERS = {"diffusion_gpt"}
"""Members that train only a stage in front of a trained drawer (their fresh weights still draw
with the trained ``diffusion``): `tests/zoo/test_zoo_pipelines.py` checks what they learned."""
GENERATORS = [
    name
    for name, spec in MEMBERS.items()
    if spec.kind in ("generate", "unified") and name in shipped_members() and name not in CONDITIONERS
]


def _draw(adapter_name: str, model: str, prompts: list[str], guidance: float | None) -> list:
    from mllmbench.adapters.registry import load_adapter_class
    from mllmbench.core.types import GenerateRequest, ImageGenerationSettings

    adapter = load_adapter_class(adapter_name)(model)
    adapter.load()
    try:
        requests = [GenerateRequest(str(i), prompt, seed=i) for i, prompt in enumerate(prompts)]
        responses = adapter.generate_images(requests, ImageGenerationSettings(guidance_scale=guidance))
    finally:
        adapter.close()
    return [r.images[0] for r in responses]


def _fresh(name: str, out: Path) -> Path:
    """The member with its initial weights (and its trained tokenizer), saved as training saves it."""
    spec = MEMBERS[name]
    model, processor = spec.build(spec.init_seed)
    parts = spec.packaging.stage(out, spec.packaging.resolve_parts(name))
    spec.packaging.attach(model, parts)
    spec.packaging.save(out, model, processor)
    return out


@pytest.mark.slow
@pytest.mark.parametrize("name", GENERATORS)
def test_shipped_generator_draws_closer_to_shapes_than_its_untrained_weights(
    name: str, tmp_path: Path
) -> None:
    from mllmbench.suites import shapes_captions, shapes_render
    from mllmbench.suites.metrics.frechet import fid_from_features
    from mllmbench.suites.metrics.shapes_judge.decide import ShapesJudge

    scenes = [shapes_render.sample_scene(TEST_SEED, i) for i in range(1, PROMPTS + 1)]
    prompts = [shapes_captions.t2i_prompt(scene) for scene in scenes]
    guidance = MEMBERS[name].sampling.get("guidance")
    adapter = MEMBERS[name].adapter
    trained = _draw(adapter, f"zoo:{name}", prompts, guidance)
    fresh = _draw(adapter, str(_fresh(name, tmp_path / name)), prompts, guidance)
    judge = ShapesJudge()
    references = judge.features([shapes_render.render_scene(scene) for scene in scenes])
    fd_trained = fid_from_features(judge.features(trained), references, check_imaginary=False)
    fd_fresh = fid_from_features(judge.features(fresh), references, check_imaginary=False)
    assert fd_trained < 0.5 * fd_fresh, (name, fd_trained, fd_fresh)
