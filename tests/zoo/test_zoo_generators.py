"""Shipped generating zoo members follow their prompts: each image, drawn for a held-out scene's
prompt, is judged (Shapes judge, GenEval's rules) correct against its own prompt's metadata more
often than against the next scene's, by a margin the paired bootstrap interval supports. An image
that ignored its prompt would match both equally often."""

from __future__ import annotations

import pytest

from mllmbench.core.zoo_paths import shipped_members
from mllmbench.zoo.members import MEMBERS

TEST_SEED = 5151
PROMPTS = 48
GENERATORS = [
    name
    for name, spec in MEMBERS.items()
    if spec.kind in ("generate", "unified") and name in shipped_members()
]


def _judged(name: str) -> tuple[list[float], list[float]]:
    """Per image: 1/0 correct against its own prompt's metadata, and against the next scene's."""
    from mllmbench.adapters.registry import load_adapter_class
    from mllmbench.core.types import GenerateRequest, ImageGenerationSettings
    from mllmbench.suites import shapes_captions, shapes_geneval, shapes_render
    from mllmbench.suites.metrics.shapes_judge.decide import ShapesJudge, judge_cells

    scenes = [shapes_render.sample_scene(TEST_SEED, i) for i in range(1, PROMPTS + 1)]
    metadata = shapes_geneval.prompt_metadata(scenes, TEST_SEED)
    prompts = [shapes_captions.t2i_prompt(scene) for scene in scenes]
    adapter = load_adapter_class(MEMBERS[name].adapter)(f"zoo:{name}")
    adapter.load()
    try:
        requests = [GenerateRequest(str(i), prompt, seed=i) for i, prompt in enumerate(prompts)]
        own = [r.images[0] for r in adapter.generate_images(requests, ImageGenerationSettings())]
    finally:
        adapter.close()
    judge = ShapesJudge()
    cells, _ = judge.predict(own)
    right = [float(judge_cells(c, m).correct) for c, m in zip(cells, metadata, strict=True)]
    shifted = metadata[1:] + metadata[:1]  # image i judged against scene i+1's metadata
    wrong = [float(judge_cells(c, m).correct) for c, m in zip(cells, shifted, strict=True)]
    return right, wrong


@pytest.mark.slow
@pytest.mark.parametrize("name", GENERATORS)
def test_shipped_generator_follows_its_prompts(name: str) -> None:
    from mllmbench.reports.paired import paired_bootstrap

    right, wrong = _judged(name)
    result = paired_bootstrap(right, wrong, iterations=2000)
    assert result.ci_low > 0, (name, sum(right), sum(wrong), result)
