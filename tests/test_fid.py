"""FD, KID, FeatureStats, feature extractors and the reference-statistics cache.

References: the golden vectors (pytorch-fid / clean-fid run on stored features), clean-fid's own
functions and feature pipeline called directly, and torchmetrics' FID/KID classes with a custom
feature module.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np
import pytest
from golden_paths import load_golden

from mllmbench.core.errors import InputError, MissingResourceError
from mllmbench.suites.base import Sample
from mllmbench.suites.metrics import image_features as imf
from mllmbench.suites.metrics import inception_features as incf
from mllmbench.suites.metrics.extractors import load_extractor
from mllmbench.suites.metrics.fid import FIDMetric, KIDMetric
from mllmbench.suites.metrics.frechet import (
    FeatureStats,
    fd_from_stats,
    fid_from_features,
    frechet_distance,
    frechet_distance_eigvals,
    kernel_distance,
)
from mllmbench.suites.metrics.reference_stats import (
    ReferenceStatsKey,
    cached_reference_stats,
    load_reference_stats,
    reference_stats_path,
    save_reference_stats,
)
from mllmbench.suites.metrics.tiny_encoders import build_tiny_dinov2, build_tiny_inception_torchscript


@pytest.fixture(scope="module")
def golden() -> dict:
    return load_golden("fid_kid_golden.json")["cases"]


@pytest.fixture
def cleanfid_fid(monkeypatch: pytest.MonkeyPatch):
    """clean-fid's fid module, its ``sqrtm(..., disp=False)`` call kept working on SciPy >= 1.18."""
    import warnings

    from cleanfid import fid as cf
    from scipy import linalg

    if "disp" not in inspect.signature(linalg.sqrtm).parameters:

        class _Linalg:
            @staticmethod
            def sqrtm(a, disp=True):
                res = linalg.sqrtm(a)
                return (res, 0.0) if disp is False else res

        monkeypatch.setattr(cf, "linalg", _Linalg)
    warnings.filterwarnings("ignore", category=DeprecationWarning, message=".*disp.*")
    return cf


def _rand_feats(seed: int, n: int, d: int, shift: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)) @ rng.normal(size=(d, d)) * 0.3 + shift


# ---------------------------------------------------------------- golden vectors


@pytest.mark.parametrize("case", ["A_2d_hand", "B_16d_n64", "C_8d_n48_nonneg"])
def test_fd_matches_golden(golden: dict, case: str) -> None:
    c = golden[case]
    f1, f2 = np.array(c["features1"]), np.array(c["features2"])
    assert fid_from_features(f1, f2) == pytest.approx(c["fd_scipy_sqrtm"], rel=1e-8)
    s1, s2 = FeatureStats.from_features(f1), FeatureStats.from_features(f2)
    assert fd_from_stats(s1, s2) == pytest.approx(c["fd_scipy_sqrtm"], rel=1e-8)
    eig = frechet_distance_eigvals(s1.mean(), s1.covariance(), s2.mean(), s2.covariance())
    assert eig == pytest.approx(c["fd_eigvals"], rel=1e-8)
    mean_term = float(((f1.mean(0) - f2.mean(0)) ** 2).sum())
    assert mean_term == pytest.approx(c["mean_term"], rel=1e-12)


def test_fd_hand_case_closed_form(golden: dict) -> None:
    c = golden["A_2d_hand"]
    expected = 2 + 8 / 3 + 2 - 4 * np.sqrt(4 / 3)
    assert fid_from_features(np.array(c["features1"]), np.array(c["features2"])) == pytest.approx(
        expected, rel=1e-12
    )


@pytest.mark.parametrize("case", ["B_16d_n64", "C_8d_n48_nonneg"])
def test_kid_matches_golden(golden: dict, case: str) -> None:
    c = golden[case]
    f1, f2 = np.array(c["features1"]), np.array(c["features2"])
    # N1 = N2 <= 1000: every subset is a permutation of all rows, so any seed gives the golden value.
    for seed in (0, 1):
        assert kernel_distance(f1, f2, seed=seed) == pytest.approx(c["kid_cleanfid"], abs=1e-12)
    assert kernel_distance(f1, f2, num_subsets=1, seed=3) == pytest.approx(c["kid_unbiased_mmd2"], abs=1e-12)


# ---------------------------------------------------------------- clean-fid as the reference


@pytest.mark.parametrize(("n", "d"), [(40, 8), (12, 16)])  # well-conditioned, and rank-deficient (N < d)
def test_fd_equals_cleanfid(cleanfid_fid, n: int, d: int) -> None:
    f1, f2 = _rand_feats(1, n, d), _rand_feats(2, n + 3, d, shift=0.5)
    mu1, s1 = f1.mean(0), np.cov(f1, rowvar=False)
    mu2, s2 = f2.mean(0), np.cov(f2, rowvar=False)
    ref = float(cleanfid_fid.frechet_distance(mu1, s1, mu2, s2))
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(ref, rel=1e-12)
    assert fid_from_features(f1, f2) == pytest.approx(float(cleanfid_fid.fid_from_feats(f1, f2)), rel=1e-12)


def test_fd_imaginary_check(cleanfid_fid) -> None:
    mu = np.zeros(2)
    s1, s2 = np.eye(2), np.diag([1.0, -1.0])  # product with a negative eigenvalue: sqrt is imaginary
    with pytest.raises(ValueError, match="Imaginary component"):
        cleanfid_fid.frechet_distance(mu, s1, mu, s2)
    with pytest.raises(ValueError, match="Imaginary component"):
        frechet_distance(mu, s1, mu, s2)
    # clean-fid @ e88c4d6 (METRICS.md §3.1) drops the check and keeps the real part: 1 + 0 - 2 * 1.
    assert frechet_distance(mu, s1, mu, s2, check_imaginary=False) == pytest.approx(0.0, abs=1e-12)


def test_fd_eps_retry_on_non_finite_root(monkeypatch: pytest.MonkeyPatch) -> None:
    from scipy import linalg

    real_sqrtm = linalg.sqrtm
    calls: list[np.ndarray] = []

    def flaky_sqrtm(a: np.ndarray) -> np.ndarray:
        calls.append(a)
        return np.full_like(a, np.inf) if len(calls) == 1 else real_sqrtm(a)

    monkeypatch.setattr(linalg, "sqrtm", flaky_sqrtm)
    f1, f2 = _rand_feats(3, 30, 4), _rand_feats(4, 30, 4)
    mu1, s1, mu2, s2 = f1.mean(0), np.cov(f1, rowvar=False), f2.mean(0), np.cov(f2, rowvar=False)
    value = frechet_distance(mu1, s1, mu2, s2, eps=1e-3)
    off = np.eye(4) * 1e-3
    np.testing.assert_array_equal(calls[1], (s1 + off) @ (s2 + off))
    expected = (
        ((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(real_sqrtm(calls[1]).real)
    )
    assert value == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(("n1", "n2", "subsets", "size"), [(30, 25, 7, 10), (12, 12, 5, 1000), (9, 20, 3, 6)])
def test_kid_equals_cleanfid_with_same_rng_state(
    cleanfid_fid, n1: int, n2: int, subsets: int, size: int
) -> None:
    f1, f2 = _rand_feats(5, n1, 6), _rand_feats(6, n2, 6, shift=0.2)
    np.random.seed(11)
    ref = cleanfid_fid.kernel_distance(f1, f2, num_subsets=subsets, max_subset_size=size)
    assert kernel_distance(f1, f2, subsets, size, seed=11) == ref
    np.random.seed(11)
    assert kernel_distance(f1, f2, subsets, size, seed=None) == ref  # the global state, as clean-fid
    assert kernel_distance(f1, f2, subsets, size, seed=np.random.RandomState(11)) == ref


def test_kid_rejects_bad_shapes() -> None:
    with pytest.raises(InputError, match="same width"):
        kernel_distance(np.zeros((5, 3)), np.zeros((5, 4)))
    with pytest.raises(InputError, match="at least 2"):
        kernel_distance(np.zeros((1, 3)), np.zeros((5, 3)))


# ---------------------------------------------------------------- FeatureStats


def test_feature_stats_moments_equal_numpy() -> None:
    f = _rand_feats(7, 50, 5, shift=3.0)
    stats = FeatureStats(5)
    for chunk in np.array_split(f, 4):
        stats.update(chunk)
    assert stats.n == 50
    np.testing.assert_allclose(stats.mean(), f.mean(0), rtol=1e-13)
    np.testing.assert_allclose(stats.covariance(), np.cov(f, rowvar=False), rtol=1e-10, atol=1e-13)


def test_feature_stats_sharded_merge_equals_unsharded() -> None:
    f = _rand_feats(8, 64, 6)
    whole = FeatureStats(6, keep_features=True)
    whole.update(f[:20])
    whole.update(f[20:])
    a, b = FeatureStats(6, keep_features=True), FeatureStats(6, keep_features=True)
    a.update(f[:20])
    b.update(f[20:])
    a.merge(b)
    # One batch per shard adds the same floats in the same order: bit-identical.
    assert a.n == whole.n
    np.testing.assert_array_equal(a.sum, whole.sum)
    np.testing.assert_array_equal(a.outer, whole.outer)
    np.testing.assert_array_equal(a.features(), f)
    # Many shards of many batches: equal up to summation order.
    shards = [FeatureStats(6) for _ in range(3)]
    for i, chunk in enumerate(np.array_split(f, 9)):
        shards[i % 3].update(chunk)
    merged = shards[0]
    for s in shards[1:]:
        merged.merge(s)
    np.testing.assert_allclose(merged.mean(), whole.mean(), rtol=1e-13)
    np.testing.assert_allclose(merged.covariance(), whole.covariance(), rtol=1e-11, atol=1e-14)
    assert fd_from_stats(merged, FeatureStats.from_features(f[::2])) == pytest.approx(
        fid_from_features(f, f[::2]), rel=1e-9
    )


def test_feature_stats_errors_and_roundtrip() -> None:
    stats = FeatureStats(3, keep_features=True)
    with pytest.raises(InputError, match="at least 2"):
        stats.update(np.ones(3))
        stats.covariance()
    with pytest.raises(InputError, match="expected"):
        stats.update(np.ones((2, 4)))
    with pytest.raises(InputError, match="dimension"):
        stats.merge(FeatureStats(4))
    with pytest.raises(InputError, match="NaN"):
        stats.update(np.array([[1.0, np.nan, 0.0]]))
    stats.update(_rand_feats(9, 5, 3))
    back = FeatureStats.from_arrays(stats.to_arrays())
    assert back.n == stats.n == 6
    np.testing.assert_array_equal(back.outer, stats.outer)
    np.testing.assert_array_equal(back.features(), stats.features())
    with pytest.raises(InputError, match="keep_features"):
        FeatureStats(3).features()
    arrays = stats.to_arrays()
    arrays["feats"] = arrays["feats"][:-1]
    with pytest.raises(InputError, match="expected"):
        FeatureStats.from_arrays(arrays)


# ---------------------------------------------------------------- torchmetrics as the reference


@pytest.fixture(scope="module")
def dinov2_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_dinov2(tmp_path_factory.mktemp("tiny_dinov2"))


@pytest.fixture(scope="module")
def dinov2(dinov2_dir: Path) -> imf.Dinov2Extractor:
    return imf.Dinov2Extractor(dinov2_dir, device="cpu")


@pytest.fixture(scope="module")
def dinov2_56(dinov2_dir: Path) -> imf.Dinov2Extractor:
    """56 px input (16 patches instead of 256): the metric tests need features, not dgm-eval's size."""
    return imf.Dinov2Extractor(dinov2_dir, resolution=56, device="cpu")


def _images(seed: int, n: int, size: tuple[int, int] = (24, 24)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, size=(1, *size, 3))
    noise = rng.integers(-60, 60, size=(n, *size, 3))
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def _torch_feature_module(extractor: imf.FeatureExtractor):
    import torch

    class Wrapped(torch.nn.Module):
        num_features = extractor.dim

        def forward(self, imgs: torch.Tensor) -> torch.Tensor:
            return torch.from_numpy(extractor(imgs.permute(0, 2, 3, 1).numpy()))

    return Wrapped()


def test_fid_and_kid_equal_torchmetrics(dinov2_56: imf.Dinov2Extractor) -> None:
    import torch
    from torchmetrics.image.fid import FrechetInceptionDistance
    from torchmetrics.image.kid import KernelInceptionDistance

    real, fake = _images(10, 48), _images(11, 48)
    module = _torch_feature_module(dinov2_56)
    tm_fid = FrechetInceptionDistance(feature=module)
    tm_kid = KernelInceptionDistance(feature=module, subsets=3, subset_size=48)
    for metric in (tm_fid, tm_kid):
        metric.update(torch.from_numpy(real).permute(0, 3, 1, 2), real=True)
        metric.update(torch.from_numpy(fake).permute(0, 3, 1, 2), real=False)
    ref_stats = FeatureStats.from_features(dinov2_56(real), keep_features=True)

    fid = FIDMetric(dinov2_56, ref_stats)
    fid.update_images(fake[:20])
    fid.update_images(fake[20:])
    ours = fid.compute().values["fid"]
    assert ours.n == 48 and ours.higher_is_better is False
    assert ours.value == pytest.approx(float(tm_fid.compute()), rel=1e-6)

    kid = KIDMetric(dinov2_56, ref_stats, num_subsets=3, max_subset_size=48, seed=0)
    kid.update_images(fake)
    kid_mean, _ = tm_kid.compute()
    assert kid.compute().values["kid"].value == pytest.approx(float(kid_mean), rel=1e-9, abs=1e-12)


# ---------------------------------------------------------------- streaming metric classes


def _save_pngs(folder: Path, images: np.ndarray) -> list[Path]:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, im in enumerate(images):
        p = folder / f"{i:03d}.png"
        Image.fromarray(im).save(p)
        paths.append(p)
    return paths


def test_fid_metric_from_files_sharded(dinov2_56: imf.Dinov2Extractor, tmp_path: Path) -> None:
    real, fake = _images(12, 40), _images(13, 40)
    ref = FeatureStats.from_features(dinov2_56(real), keep_features=True)
    paths = _save_pngs(tmp_path / "gen", fake)
    samples = [Sample(sample_id=str(i), image_paths=(), text="a prompt") for i in range(40)]

    whole, shard_a, shard_b = (FIDMetric(dinov2_56, ref, batch_size=16) for _ in range(3))
    kid_whole, kid_a, kid_b = (KIDMetric(dinov2_56, ref, num_subsets=4, max_subset_size=10) for _ in range(3))
    for i, (s, p) in enumerate(zip(samples, paths, strict=True)):
        assert whole.update(s, str(p)) == {}
        kid_whole.update(s, str(p))
        (shard_a if i < 25 else shard_b).update(s, str(p))
        (kid_a if i < 25 else kid_b).update(s, str(p))
    shard_a.merge(shard_b)
    kid_a.merge(kid_b)
    expected = fid_from_features(dinov2_56(fake), dinov2_56(real))
    assert whole.compute().values["fid"].value == pytest.approx(expected, rel=1e-6)
    assert shard_a.compute().values["fid"].value == pytest.approx(
        whole.compute().values["fid"].value, rel=1e-9
    )
    assert kid_a.compute().values["kid"].value == kid_whole.compute().values["kid"].value
    np.random.seed(0)
    from cleanfid.fid import kernel_distance as cf_kid

    assert kid_whole.compute().values["kid"].value == cf_kid(dinov2_56(fake), dinov2_56(real), 4, 10)
    context = whole.compute().values["fid"].context
    assert context is not None and context["extractor"]["name"] == "dinov2" and context["n_reference"] == 40
    assert kid_whole.compute().values["kid"].context["max_subset_size"] == 10  # type: ignore[index]
    assert FIDMetric(dinov2_56, ref).compute().notes["fid"].startswith("needs at least 2")


def test_kid_metric_needs_reference_features(dinov2_56: imf.Dinov2Extractor) -> None:
    with pytest.raises(InputError, match="keep_features"):
        KIDMetric(dinov2_56, FeatureStats.from_features(np.ones((3, dinov2_56.dim))))
    with pytest.raises(InputError, match="dimension"):
        FIDMetric(dinov2_56, FeatureStats.from_features(np.ones((3, 5))))


# ---------------------------------------------------------------- extractors


def test_dinov2_extractor_equals_dgm_eval_pipeline(dinov2_dir: Path, dinov2: imf.Dinov2Extractor) -> None:
    import torch
    import torchvision.transforms as TF
    from PIL import Image
    from transformers import Dinov2Model

    images = _images(14, 3, size=(30, 20))
    model = Dinov2Model.from_pretrained(dinov2_dir).eval()
    # dgm-eval DINOv2Encoder.transform (default and clean_resize) followed by model(x) = norm CLS token.
    default = TF.Compose([TF.Resize((224, 224), TF.InterpolationMode.BICUBIC), TF.ToTensor()])
    norm = TF.Normalize(np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225]))

    def pil_resize(x: Image.Image) -> torch.Tensor:  # dgm-eval resizer.pil_resize
        arr = np.array(x.convert("RGB")).astype(np.float32)
        chans = [
            np.asarray(Image.fromarray(arr[:, :, i], mode="F").resize((224, 224), resample=Image.BICUBIC))
            .clip(0, 255)
            .reshape(224, 224, 1)
            for i in range(3)
        ]
        return TF.functional.to_tensor(np.concatenate(chans, axis=2).astype(np.float32)) / 255

    for resize, transform in ((imf.DinoResize.TORCHVISION, default), (imf.DinoResize.CLEAN, pil_resize)):
        x = torch.stack([norm(transform(Image.fromarray(im))).float() for im in images])
        with torch.no_grad():
            hidden = model(pixel_values=x).last_hidden_state
        expected = hidden[:, 0].double().numpy()
        ext = (
            dinov2
            if resize is imf.DinoResize.TORCHVISION
            else imf.Dinov2Extractor(dinov2_dir, resize, device="cpu")
        )
        got = ext([Image.fromarray(im) for im in images])
        assert got.dtype == np.float64 and got.shape == (3, 32)
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    assert dinov2.info.weights_hash == imf.weights_hash(dinov2_dir) and len(dinov2.weights_hash) == 64


def test_clip_extractor_equals_cleanfid_clip_pipeline(tmp_path: Path) -> None:
    import torch
    import torchvision.transforms as transforms
    from PIL import Image
    from transformers import CLIPModel

    from mllmbench.core.errors import ConfigError
    from mllmbench.suites.metrics.tiny_encoders import build_tiny_clip

    path = build_tiny_clip(tmp_path / "clip")
    ext = load_extractor(f"clip:{path}", device="cpu", batch_size=2)
    assert isinstance(ext, imf.ClipImageExtractor) and ext.dim == 16
    images = _images(19, 3, size=(40, 52))
    model = CLIPModel.from_pretrained(path).eval()

    def img_preprocess_clip(img_np: np.ndarray) -> np.ndarray:  # cleanfid.clip_features, at 32 px
        x = Image.fromarray(img_np.astype(np.uint8)).convert("RGB")
        t = transforms.Compose(
            [
                transforms.Resize(32, interpolation=transforms.InterpolationMode.BICUBIC),
                transforms.CenterCrop(32),
            ]
        )
        return np.asarray(t(x)).clip(0, 255).astype(np.uint8)

    batch = torch.stack(
        [transforms.ToTensor()(img_preprocess_clip(im)) * 255 for im in images]
    )  # ResizeDataset
    x = transforms.Normalize((0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711))(
        batch / 255.0
    )
    with torch.no_grad():  # CLIP_fx: encode_image = projected pooled output
        expected = model.visual_projection(model.vision_model(pixel_values=x).pooler_output).double().numpy()
    np.testing.assert_allclose(ext(images), expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(ConfigError, match="Inception extractor only"):
        load_extractor(f"clip:{path}", mode="legacy_pytorch")
    assert ext([]).shape == (0, 16)


@pytest.mark.parametrize("mode", ["clean", "legacy_tensorflow"])
def test_inception_torchscript_features_equal_cleanfid(tmp_path: Path, mode: str) -> None:
    import torch
    from cleanfid import fid as cf
    from cleanfid.inception_torchscript import InceptionV3W

    weights = build_tiny_inception_torchscript(tmp_path / incf.TORCHSCRIPT_INCEPTION_FILE)
    folder = tmp_path / "imgs"
    _save_pngs(folder, _images(15, 5, size=(40, 33)))
    ours = imf.folder_features(
        folder, incf.InceptionExtractor(mode, weights, device="cpu"), keep_features=True
    )
    model = InceptionV3W(str(tmp_path), download=False, resize_inside=mode == "legacy_tensorflow").eval()
    ref = cf.get_folder_features(
        str(folder), model, num_workers=0, batch_size=8, device=torch.device("cpu"), mode=mode, verbose=False
    )
    np.testing.assert_array_equal(ours.features(), ref.astype(np.float64))


@pytest.mark.slow
def test_inception_legacy_pytorch_features_equal_cleanfid(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Random weights in pytorch-fid's architecture (a 96 MB state dict): about 25 s."""
    import torch
    from cleanfid import features as cff
    from cleanfid import fid as cf
    from cleanfid import inception_pytorch as ip

    weights = tmp_path / incf.PYTORCH_FID_INCEPTION_FILE
    # pytorch-fid's architecture (clean-fid fid_inception_v3) with random weights.
    inception = ip._inception_v3(num_classes=1008, aux_logits=False, pretrained=False)
    for name, block in (
        ("Mixed_5b", ip.FIDInceptionA(192, pool_features=32)),
        ("Mixed_5c", ip.FIDInceptionA(256, pool_features=64)),
        ("Mixed_5d", ip.FIDInceptionA(288, pool_features=64)),
        ("Mixed_6b", ip.FIDInceptionC(768, channels_7x7=128)),
        ("Mixed_6c", ip.FIDInceptionC(768, channels_7x7=160)),
        ("Mixed_6d", ip.FIDInceptionC(768, channels_7x7=160)),
        ("Mixed_6e", ip.FIDInceptionC(768, channels_7x7=192)),
        ("Mixed_7b", ip.FIDInceptionE_1(1280)),
        ("Mixed_7c", ip.FIDInceptionE_2(2048)),
    ):
        setattr(inception, name, block)
    torch.save(inception.state_dict(), weights)
    folder = tmp_path / "imgs"
    _save_pngs(folder, _images(16, 3, size=(40, 33)))
    ours = imf.folder_features(
        folder, incf.InceptionExtractor("legacy_pytorch", weights, device="cpu"), keep_features=True
    )
    monkeypatch.setattr(
        ip, "load_state_dict_from_url", lambda url, progress=False: torch.load(weights, weights_only=True)
    )
    model = cff.feature_extractor(
        name="pytorch_inception", device=torch.device("cpu"), use_dataparallel=False
    )
    ref = cf.get_folder_features(
        str(folder),
        model,
        num_workers=0,
        batch_size=8,
        device=torch.device("cpu"),
        mode="legacy_pytorch",
        verbose=False,
    )
    np.testing.assert_array_equal(ours.features(), ref.astype(np.float64))


def test_missing_inception_weights_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLLMBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv(incf.INCEPTION_WEIGHTS_ENV, raising=False)
    monkeypatch.delenv(incf.PT_INCEPTION_WEIGHTS_ENV, raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(incf, "CLEANFID_DOWNLOAD_DIR", tmp_path / "cleanfid")
    with pytest.raises(MissingResourceError) as err:
        incf.InceptionExtractor(imf.ResizeMode.CLEAN, device="cpu")
    msg = str(err.value)
    for part in (
        "inception-2015-12-05.pt",
        str(tmp_path / "cache" / "weights" / "inception-2015-12-05.pt"),
        "--inception-weights",
        incf.INCEPTION_WEIGHTS_ENV,
        "never downloads",
    ):
        assert part in msg
    with pytest.raises(
        MissingResourceError, match=r"pt_inception-2015-12-05-6726825d\.pth.*MLLMBENCH_PT_INCEPTION"
    ):
        incf.InceptionExtractor(imf.ResizeMode.LEGACY_PYTORCH, device="cpu")
    with pytest.raises(MissingResourceError, match="not found at"):
        incf.InceptionExtractor(imf.ResizeMode.CLEAN, tmp_path / "nope.pt", device="cpu")
    # Found through the environment variable (any file name).
    weights = build_tiny_inception_torchscript(tmp_path / "elsewhere" / "my_inception.pt")
    monkeypatch.setenv(incf.INCEPTION_WEIGHTS_ENV, str(weights))
    assert incf.find_inception_weights(imf.ResizeMode.LEGACY_TENSORFLOW) == weights


def test_missing_hf_model_dir(tmp_path: Path) -> None:
    with pytest.raises(MissingResourceError, match="never downloads"):
        load_extractor(f"dinov2:{tmp_path / 'absent'}")
    from mllmbench.core.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown extractor"):
        load_extractor("vgg")


def test_list_image_files_rules(tmp_path: Path) -> None:
    _save_pngs(tmp_path / "a" / "sub", _images(17, 2))
    (tmp_path / "a" / ".hidden").write_text("x")
    files = imf.list_image_files(tmp_path / "a")
    assert [f.name for f in files] == ["000.png", "001.png"]
    (tmp_path / "a" / "notes.txt").write_text("x")
    with pytest.raises(InputError, match=r"notes\.txt"):
        imf.list_image_files(tmp_path / "a")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="empty"):
        imf.list_image_files(tmp_path / "empty")
    with pytest.raises(InputError, match="not found"):
        imf.list_image_files(tmp_path / "missing")


# ---------------------------------------------------------------- reference statistics cache


def test_reference_stats_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLLMBENCH_CACHE", str(tmp_path))
    key = ReferenceStatsKey("coco2014", "abc", "val", "256", "clean", "inception_v3_tf2015", "f" * 64)
    other = ReferenceStatsKey(
        "coco2014", "abc", "val", "256", "legacy_pytorch", "inception_v3_tf2015", "f" * 64
    )
    assert reference_stats_path(key) != reference_stats_path(other)
    assert reference_stats_path(key).parent == tmp_path / "fid_stats"
    assert load_reference_stats(key) is None

    feats = _rand_feats(18, 20, 4)
    calls = []

    def compute() -> FeatureStats:
        calls.append(1)
        return FeatureStats.from_features(feats, keep_features=True)

    first = cached_reference_stats(key, compute, need_features=True)
    second = cached_reference_stats(key, compute, need_features=True)
    assert len(calls) == 1
    np.testing.assert_array_equal(second.features(), feats)
    np.testing.assert_array_equal(second.outer, first.outer)
    with np.load(reference_stats_path(key), allow_pickle=False) as data:
        np.testing.assert_allclose(data["mu"], feats.mean(0), rtol=1e-13)
        np.testing.assert_allclose(data["sigma"], np.cov(feats, rowvar=False), rtol=1e-10, atol=1e-14)

    save_reference_stats(other, FeatureStats.from_features(feats))  # statistics only
    assert load_reference_stats(other, need_features=True) is None
    assert load_reference_stats(other).n == 20  # type: ignore[union-attr]
    reference_stats_path(other).rename(reference_stats_path(key))
    with pytest.raises(InputError, match="another key"):
        load_reference_stats(key)
