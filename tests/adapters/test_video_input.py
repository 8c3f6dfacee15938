"""Video input through the HF adapters: qwen2_vl, qwen2_5_vl and ``auto`` on LLaVA-OneVision and
LLaVA-NeXT-Video.

On tiny checkpoints (real classes and processors): batch 1 equals batch N, the answer equals
transformers called directly with the recorded prompt and the same frames, every frame counts in
the visual tokens, and adapters without video refuse a video request (and the run plan refuses
the video suite for them).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mllmbench.adapters.auto import AutoAdapter
from mllmbench.adapters.registry import load_adapter_class
from mllmbench.adapters.tiny import auto_models
from mllmbench.core.config import RunConfig
from mllmbench.core.errors import ConfigError
from mllmbench.core.types import GenerationSettings, UnderstandRequest, Video
from mllmbench.core.video import sampled_fps
from mllmbench.testing.adapter_contract import check_batching, check_fidelity, synthetic_image

SETTINGS = GenerationSettings(max_new_tokens=6)


def clip(index: int, frames: int = 4) -> Video:
    """A clip of `frames` distinct 48x40 frames, half a second apart."""
    images = tuple(synthetic_image(frames * index + k).resize((48, 40)) for k in range(frames))
    return Video(
        frames=images, timestamps=tuple(0.25 + 0.5 * k for k in range(frames)), source=f"clip{index}"
    )


def requests(n: int = 3) -> list[UnderstandRequest]:
    questions = ("What moves?", "How many shapes appear in the video?", "Which way does it go?")
    return [UnderstandRequest(f"v{i}", (), questions[i % 3], videos=(clip(i),)) for i in range(n)]


@pytest.fixture(scope="module")
def auto_dir(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("auto-video")
    return lambda model_type: auto_models.build(model_type, root / model_type)


def _adapter(kind: str, tiny_checkpoint, auto_dir):  # type: ignore[no-untyped-def]
    if kind.startswith("auto:"):
        return AutoAdapter(str(auto_dir(kind.removeprefix("auto:"))))
    return load_adapter_class(kind)(str(tiny_checkpoint(kind)))


def _direct_inputs(video: Video):  # type: ignore[no-untyped-def]
    def make(processor, prompt, images):  # type: ignore[no-untyped-def]
        return processor(
            text=[prompt],
            images=images or None,
            videos=[list(video.frames)],
            video_metadata=[{"fps": sampled_fps(video), "total_num_frames": len(video.frames)}],
            do_sample_frames=False,
            return_tensors="pt",
        )

    return make


@pytest.mark.parametrize("kind", ["qwen2_vl", "qwen2_5_vl", "auto:llava_onevision", "auto:llava_next_video"])
def test_video_batching_fidelity_and_frame_tokens(kind: str, tiny_checkpoint, auto_dir) -> None:  # type: ignore[no-untyped-def]
    adapter = _adapter(kind, tiny_checkpoint, auto_dir)
    adapter.load()
    try:
        batch = requests(3)
        responses = check_batching(adapter, batch, SETTINGS)
        for request in batch:
            check_fidelity(adapter, request, SETTINGS, direct_inputs=_direct_inputs(request.videos[0]))
        assert adapter.video_token_id() is not None
        for response in responses:
            usage = response.usage
            assert usage.video_frames == 4 and usage.to_dict()["video_frames"] == 4
            assert 0 < usage.image_tokens < usage.input_tokens
        # Every frame counts: twice the frames, twice the video positions (Qwen: 2 frames per
        # temporal patch; OneVision: the same pooled grid per frame, plus one newline position;
        # NeXT-Video: the pooled grid per frame).
        [four] = adapter.understand([UnderstandRequest("a", (), "Q?", videos=(clip(0, 4),))], SETTINGS)
        [eight] = adapter.understand([UnderstandRequest("b", (), "Q?", videos=(clip(0, 8),))], SETTINGS)
        per_extra = eight.usage.image_tokens - four.usage.image_tokens
        assert per_extra > 0 and eight.usage.video_frames == 8
        assert four.usage.image_tokens in (per_extra, per_extra + 1)
    finally:
        adapter.close()


def test_image_only_adapter_refuses_a_video(tiny_llava: Path) -> None:
    adapter = load_adapter_class("llava")(str(tiny_llava))
    adapter.load()
    try:
        with pytest.raises(ConfigError, match="does not read video"):
            adapter.understand(requests(1), SETTINGS)
    finally:
        adapter.close()


def test_plan_refuses_video_suite_for_image_only_adapter() -> None:
    from mllmbench.engine.plan import _suite_classes

    config = RunConfig(adapter="llava", model="m", suites=("shapes_video",))
    with pytest.raises(ConfigError, match="needs the understand and video capability"):
        _suite_classes(config, load_adapter_class("llava"))
    assert _suite_classes(
        RunConfig(adapter="qwen2_vl", model="m", suites=("shapes_video",)), load_adapter_class("qwen2_vl")
    )
