"""CLIP score on tiny random CLIP checkpoints, against torchmetrics' own functions and a manual
re-implementation of jmhessel/clipscore (clip.tokenize(truncate=True), its image transform)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mllmbench.core.errors import ConfigError, InputError, MissingResourceError
from mllmbench.suites.base import Sample
from mllmbench.suites.metrics.clip_score import (
    CLIPSCORE,
    TORCHMETRICS,
    CLIPScoreMetric,
    ClipScorer,
    aggregate_scores,
    clip_cosines,
    clip_score,
    get_convention,
    per_sample_scores,
)
from mllmbench.suites.metrics.tiny_encoders import build_tiny_clip

LONG = "there is a red circle and a blue square and a green triangle on the left of the big picture today"
TEXTS = ["a red circle", "a blue square on the left", LONG, "hello world", "two green stars", "zzz"]


@pytest.fixture(scope="module")
def clip_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    # Seed 6 gives cosines of both signs; seed 2 a positive mean under both conventions.
    return {seed: build_tiny_clip(tmp_path_factory.mktemp(f"clip{seed}"), seed=seed) for seed in (2, 6)}


@pytest.fixture(scope="module")
def scorers(clip_dirs: dict[int, Path]) -> dict[int, ClipScorer]:
    return {seed: ClipScorer(path, device="cpu", batch_size=4) for seed, path in clip_dirs.items()}


@pytest.fixture(scope="module")
def images() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, size=(40, 30, 3), dtype=np.uint8) for _ in TEXTS]


def _torchmetrics_model(scorer: ClipScorer):
    """torchmetrics expects get_*_features to return tensors (transformers < 5): adapt the outputs."""
    import torch

    class Adapted(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = scorer.model
            self.config = scorer.model.config

        def get_image_features(self, pixel_values: torch.Tensor) -> torch.Tensor:
            return self.inner.get_image_features(pixel_values=pixel_values).pooler_output

        def get_text_features(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return self.inner.get_text_features(
                input_ids=input_ids, attention_mask=attention_mask
            ).pooler_output

    return Adapted()


@pytest.mark.parametrize("seed", [2, 6])
def test_torchmetrics_convention_equals_torchmetrics(
    scorers: dict[int, ClipScorer], images, seed: int
) -> None:
    import torch
    from torchmetrics.functional.multimodal.clip_score import _clip_score_update
    from torchmetrics.functional.multimodal.clip_score import clip_score as tm_clip_score

    scorer = scorers[seed]
    model = _torchmetrics_model(scorer)
    chw = [torch.from_numpy(im).permute(2, 0, 1) for im in images]
    with torch.no_grad(), pytest.warns(UserWarning, match="longer than"):
        tm_per_sample, n = _clip_score_update(chw, TEXTS, model, scorer.processor)
        tm_value = float(tm_clip_score(chw, TEXTS, lambda: (model, scorer.processor)))
    assert n == len(TEXTS)
    per = per_sample_scores(clip_cosines(scorer, images, TEXTS, TORCHMETRICS), TORCHMETRICS)
    np.testing.assert_allclose(per, tm_per_sample.double().numpy(), rtol=1e-6, atol=1e-5)
    assert clip_score(scorer, images, TEXTS, TORCHMETRICS) == pytest.approx(tm_value, rel=1e-6, abs=1e-5)


def test_torchmetrics_with_a_raw_clipmodel(scorers: dict[int, ClipScorer], images) -> None:
    """Why the scorer reads ``.pooler_output`` itself: on transformers 5, torchmetrics divides the
    ``BaseModelOutputWithPooling`` that ``get_image_features`` returns and fails."""
    import torch
    import transformers
    from torchmetrics.functional.multimodal.clip_score import clip_score as tm_clip_score

    scorer = scorers[2]
    chw = [torch.from_numpy(im).permute(2, 0, 1) for im in images[:2]]
    if int(transformers.__version__.split(".")[0]) >= 5:
        with pytest.raises(AttributeError, match="norm"):
            tm_clip_score(chw, TEXTS[:2], lambda: (scorer.model, scorer.processor))
    else:
        with torch.no_grad():
            tm_value = float(tm_clip_score(chw, TEXTS[:2], lambda: (scorer.model, scorer.processor)))
        assert clip_score(scorer, images[:2], TEXTS[:2], TORCHMETRICS) == pytest.approx(tm_value, rel=1e-6)


def _clip_tokenize(scorer: ClipScorer, texts: list[str], context_length: int = 77):
    """OpenAI ``clip.tokenize(texts, truncate=True)``: [SOT] + bpe + [EOT], cut with EOT kept last."""
    import torch

    tok = scorer.processor.tokenizer
    sot, eot = tok.bos_token_id, tok.eos_token_id
    result = torch.zeros(len(texts), context_length, dtype=torch.long)
    for i, text in enumerate(texts):
        tokens = [sot, *tok.encode(text, add_special_tokens=False), eot]
        if len(tokens) > context_length:
            tokens = tokens[:context_length]
            tokens[-1] = eot
        result[i, : len(tokens)] = torch.tensor(tokens)
    return result


@pytest.mark.parametrize("seed", [2, 6])
def test_clipscore_convention_equals_hessel_reference(
    scorers: dict[int, ClipScorer], images, seed: int
) -> None:
    import torch
    from PIL import Image
    from torchvision.transforms import CenterCrop, Compose, Normalize, Resize, ToTensor

    scorer = scorers[seed]
    ids = _clip_tokenize(scorer, ["A photo depicts " + t for t in TEXTS])
    assert int((ids[2] != 0).sum()) == 77 and int(ids[2, -1]) == scorer.processor.tokenizer.eos_token_id
    # The HF tokenizer's truncation gives the same ids as clip.tokenize(truncate=True).
    enc = scorer.processor(
        text=["A photo depicts " + LONG], truncation=True, max_length=77, return_tensors="pt"
    )
    np.testing.assert_array_equal(enc["input_ids"][0].numpy(), ids[2].numpy())

    n_px = scorer.image_size
    preprocess = Compose(
        [
            Resize(n_px, interpolation=Image.BICUBIC),
            CenterCrop(n_px),
            lambda image: image.convert("RGB"),
            ToTensor(),
            Normalize((0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)),
        ]
    )
    with torch.no_grad():
        img = scorer.model.get_image_features(
            pixel_values=torch.stack([preprocess(Image.fromarray(im)) for im in images])
        ).pooler_output
        mask = torch.zeros_like(ids)
        for i, row in enumerate(ids):
            mask[i, : int((row != 0).nonzero().max()) + 1] = 1
        txt = scorer.model.get_text_features(input_ids=ids, attention_mask=mask).pooler_output
    img_n = img.numpy() / np.linalg.norm(img.numpy(), axis=1, keepdims=True)
    txt_n = txt.numpy() / np.linalg.norm(txt.numpy(), axis=1, keepdims=True)
    per = 2.5 * np.clip(np.sum(img_n * txt_n, axis=1), 0, None)

    got = per_sample_scores(clip_cosines(scorer, images, TEXTS, CLIPSCORE), CLIPSCORE)
    np.testing.assert_allclose(got, per, rtol=1e-5, atol=1e-6)
    assert clip_score(scorer, images, TEXTS, CLIPSCORE) == pytest.approx(float(np.mean(per)), rel=1e-5)


def test_q17_slicing_drops_eot(scorers: dict[int, ClipScorer]) -> None:
    """torchmetrics slices a long caption to 77 ids with no EOT; the EOT-keeping truncation differs."""
    scorer = scorers[2]
    sliced = scorer.text_embeddings([LONG, "a red circle"], TORCHMETRICS.truncation)
    kept = scorer.text_embeddings([LONG, "a red circle"], CLIPSCORE.truncation)
    assert not np.allclose(sliced[0].numpy(), kept[0].numpy())
    np.testing.assert_allclose(sliced[1].numpy(), kept[1].numpy(), rtol=1e-5, atol=1e-6)  # short: same
    # With eos_token_id != 2, transformers pools the first EOT position, i.e. position 0 (SOT) when
    # there is none: the sliced long caption embeds like any other SOT-pooled text.
    sot_only = scorer.text_embeddings(["zzz " * 40], TORCHMETRICS.truncation)
    np.testing.assert_allclose(sliced[0].numpy(), sot_only[0].numpy(), rtol=1e-5, atol=1e-6)


def test_q16_clamp_on_mean_versus_per_sample() -> None:
    cos = np.array([0.5, -0.3, -0.4])
    assert aggregate_scores(per_sample_scores(cos, TORCHMETRICS), TORCHMETRICS) == 0.0  # mean -6.67 -> 0
    assert aggregate_scores(per_sample_scores(cos, CLIPSCORE), CLIPSCORE) == pytest.approx(2.5 * 0.5 / 3)
    cos = np.array([0.5, -0.1])
    assert aggregate_scores(per_sample_scores(cos, TORCHMETRICS), TORCHMETRICS) == pytest.approx(20.0)
    with pytest.raises(InputError, match="empty"):
        aggregate_scores(np.array([]), CLIPSCORE)
    assert get_convention("clipscore") is CLIPSCORE
    with pytest.raises(ConfigError, match="torchmetrics"):
        get_convention("openclip")


def test_metric_streams_and_merges(scorers: dict[int, ClipScorer], images, tmp_path: Path) -> None:
    from PIL import Image

    scorer = scorers[6]
    samples = [Sample(sample_id=f"s{i}", image_paths=(), text=t) for i, t in enumerate(TEXTS)]
    paths = []
    for i, im in enumerate(images):
        paths.append(tmp_path / f"{i}.png")
        Image.fromarray(im).save(paths[-1])
    for convention in (TORCHMETRICS, CLIPSCORE):
        whole, a, b = (CLIPScoreMetric(scorer, convention) for _ in range(3))
        for i, (s, p) in enumerate(zip(samples, paths, strict=True)):
            assert whole.update(s, str(p)) == {}
            (a if i % 2 else b).update(s, str(p))
        a.merge(b)
        res, res_merged = whole.compute(), a.compute()
        expected = clip_score(scorer, images, TEXTS, convention)
        value = res.values["clip_score"]
        assert value.value == pytest.approx(expected, rel=1e-6, abs=1e-6)
        assert value.n == len(TEXTS) and value.stderr is not None
        assert value.context is not None and value.context["convention"]["name"] == convention.name
        # Shards batch the images differently: float32 forward passes agree to ~1e-6.
        assert res_merged.values["clip_score"].value == pytest.approx(value.value, rel=1e-6, abs=1e-6)
        assert set(res.per_sample) == set(res_merged.per_sample) == {s.sample_id for s in samples}
        for sid, scores in res.per_sample.items():
            assert res_merged.per_sample[sid]["clip_score"] == pytest.approx(scores["clip_score"], rel=1e-5)
        per = np.array([res.per_sample[s.sample_id]["clip_score"] for s in samples])
        assert value.stderr == pytest.approx(np.std(per, ddof=1) / np.sqrt(len(per)))
    with pytest.raises(InputError, match="twice"):
        whole.update_images(["s0"], images[:1], TEXTS[:1])
    with pytest.raises(InputError, match="same convention"):
        CLIPScoreMetric(scorer, TORCHMETRICS).merge(CLIPScoreMetric(scorer, CLIPSCORE))


def test_missing_model_dir_and_mismatched_inputs(
    scorers: dict[int, ClipScorer], images, tmp_path: Path
) -> None:
    with pytest.raises(MissingResourceError, match="never downloads"):
        ClipScorer(tmp_path / "absent")
    with pytest.raises(InputError, match="captions"):
        clip_cosines(scorers[2], images[:2], TEXTS[:3])
