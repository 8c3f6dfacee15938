"""`mllm-bench score fid` end to end: feature files, image folders with tiny extractors, errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mllmbench.cli.main import main
from mllmbench.core.formatting import format_metric
from mllmbench.suites.metrics import image_features as imf
from mllmbench.suites.metrics import inception_features as incf
from mllmbench.suites.metrics.tiny_encoders import build_tiny_dinov2, build_tiny_inception_torchscript


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLLMBENCH_CACHE", str(tmp_path / "cache"))


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["score", "fid", *args])
    out, err = capsys.readouterr()
    return code, out, err


def _feats(seed: int, n: int, d: int, shift: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)) @ rng.normal(size=(d, d)) * 0.5 + shift


def _images(folder: Path, seed: int, n: int, size: tuple[int, int] = (28, 28)) -> Path:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, size=(1, *size, 3))
    for i in range(n):
        noise = rng.integers(-70, 70, size=(*size, 3))
        Image.fromarray(np.clip(base[0] + noise, 0, 255).astype(np.uint8)).save(folder / f"img_{i:03d}.png")
    return folder


def test_npy_features_json_equals_cleanfid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from cleanfid import fid as cf

    real, fake = _feats(0, 60, 8), _feats(1, 50, 8, shift=0.3)
    np.save(tmp_path / "real.npy", real)
    np.save(tmp_path / "fake.npy", fake)
    args = ["--real", str(tmp_path / "real.npy"), "--fake", str(tmp_path / "fake.npy"), "--json"]
    code, out, _ = _run(
        capsys, *args, "--kid", "--kid-subsets", "20", "--kid-subset-size", "30", "--seed", "4"
    )
    assert code == 0
    assert len(out.strip().splitlines()) == 1
    result = json.loads(out)
    mu_f, sig_f = fake.mean(0), np.cov(fake, rowvar=False)
    mu_r, sig_r = real.mean(0), np.cov(real, rowvar=False)
    from scipy import linalg

    expected = (
        ((mu_f - mu_r) ** 2).sum()
        + np.trace(sig_f)
        + np.trace(sig_r)
        - 2 * np.trace(linalg.sqrtm(sig_f @ sig_r))
    )
    assert result["fid"] == pytest.approx(float(np.real(expected)), rel=1e-9)
    np.random.seed(4)
    assert result["kid"] == pytest.approx(
        cf.kernel_distance(fake, real, num_subsets=20, max_subset_size=30), abs=1e-14
    )
    assert result["extractor"]["name"] == "precomputed" and result["mode"] is None
    assert (result["n_real"], result["n_fake"], result["dim"], result["kid_subset_size"]) == (60, 50, 8, 30)

    # The same moments as a pytorch-fid / clean-fid statistics .npz.
    np.savez(tmp_path / "real_stats.npz", mu=mu_r, sigma=sig_r)
    code, out, _ = _run(
        capsys, "--real", str(tmp_path / "real_stats.npz"), "--fake", str(tmp_path / "fake.npy"), "--json"
    )
    assert code == 0 and json.loads(out)["fid"] == pytest.approx(result["fid"], rel=1e-12)

    code, out, _ = _run(capsys, *args[:-1])
    assert code == 0 and out.startswith("FID ") and f"FID  {format_metric('fid', result['fid'])} " in out
    assert "e-" not in out and "KID" not in out


def test_library_function_equals_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`score_fid` with typed options gives exactly what `score fid --json` prints."""
    from mllmbench.suites.metrics.fid_inputs import FidOptions, score_fid

    rng = np.random.default_rng(3)
    np.save(tmp_path / "r.npy", rng.normal(size=(40, 6)))
    np.save(tmp_path / "f.npy", rng.normal(size=(30, 6)) + 0.5)
    options = FidOptions(kid=True, kid_subsets=10, kid_subset_size=20, seed=1)
    direct = score_fid(tmp_path / "r.npy", tmp_path / "f.npy", options)
    code, out, _ = _run(
        capsys,
        "--real",
        str(tmp_path / "r.npy"),
        "--fake",
        str(tmp_path / "f.npy"),
        "--kid",
        "--kid-subsets",
        "10",
        "--kid-subset-size",
        "20",
        "--seed",
        "1",
        "--json",
    )
    assert code == 0 and json.loads(out) == json.loads(json.dumps(direct))


def test_folders_with_tiny_dinov2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = build_tiny_dinov2(tmp_path / "dinov2")
    real, fake = _images(tmp_path / "real", 0, 40), _images(tmp_path / "fake", 1, 36, size=(20, 32))
    extractor = imf.Dinov2Extractor(model, device="cpu")
    f_real = imf.folder_features(real, extractor, keep_features=True).features()
    f_fake = imf.folder_features(fake, extractor, keep_features=True).features()
    from cleanfid import fid as cf

    spec = f"dinov2:{model}"
    base = [
        "--real",
        str(real),
        "--fake",
        str(fake),
        "--extractor",
        spec,
        "--device",
        "cpu",
        "--json",
        "--kid",
    ]
    code, out, _ = _run(capsys, *base, "--kid-subsets", "5")
    assert code == 0
    result = json.loads(out)
    assert result["fid"] == pytest.approx(float(cf.fid_from_feats(f_fake, f_real)), rel=1e-6)
    np.random.seed(0)
    assert result["kid"] == pytest.approx(cf.kernel_distance(f_fake, f_real, num_subsets=5), rel=1e-9)
    assert result["extractor"]["name"] == "dinov2" and result["extractor"]["dim"] == 32
    assert result["mode"].startswith("dgm-eval torchvision")
    cached = list((tmp_path / "cache" / "fid_stats").glob("*.npz"))
    assert len(cached) == 1  # the --real folder's statistics (with features, for KID)

    # Second run reads the cache: same numbers; the clean resize is another preprocessing.
    code, out, _ = _run(capsys, *base, "--kid-subsets", "5")
    assert code == 0 and json.loads(out) == result
    code, out, _ = _run(capsys, *base[:-1], "--mode", "clean")
    assert code == 0 and json.loads(out)["mode"].startswith("dgm-eval clean")
    assert len(list((tmp_path / "cache" / "fid_stats").glob("*.npz"))) == 2


def test_folders_with_inception_stand_in(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Inception path of the CLI. The 2048-d matrix square root takes minutes on a small CPU,
    so the distance itself is replaced by a recorder: what is checked is what reaches it."""
    from mllmbench.suites.metrics import frechet

    weights = build_tiny_inception_torchscript(tmp_path / "w" / "inception.pt")
    real, fake = _images(tmp_path / "real", 2, 6), _images(tmp_path / "fake", 3, 5)
    extractor = incf.InceptionExtractor("legacy_tensorflow", weights, device="cpu")
    f_real = imf.folder_features(real, extractor, keep_features=True).features()
    f_fake = imf.folder_features(fake, extractor, keep_features=True).features()
    seen: list[tuple[np.ndarray, ...]] = []

    def recorder(mu1, sigma1, mu2, sigma2, eps=1e-6, *, check_imaginary=True):
        seen.append((mu1, sigma1, mu2, sigma2))
        return 123.5

    monkeypatch.setattr(frechet, "frechet_distance", recorder)
    args = [
        "--real",
        str(real),
        "--fake",
        str(fake),
        "--inception-weights",
        str(weights),
        "--json",
        "--no-cache",
    ]
    code, out, _ = _run(capsys, *args, "--mode", "legacy_tensorflow", "--device", "cpu")
    assert code == 0
    result = json.loads(out)
    assert result["fid"] == 123.5 and len(seen) == 1
    mu1, sigma1, mu2, sigma2 = seen[0]  # generated first, as clean-fid's fid_folder
    np.testing.assert_allclose(mu1, f_fake.mean(0), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(mu2, f_real.mean(0), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(sigma1, np.cov(f_fake, rowvar=False), rtol=1e-8, atol=1e-14)
    np.testing.assert_allclose(sigma2, np.cov(f_real, rowvar=False), rtol=1e-8, atol=1e-14)
    assert result["mode"] == "legacy_tensorflow" and result["extractor"]["name"] == "inception_v3_tf2015"
    assert result["extractor"]["weights_hash"] == imf.weights_hash(weights)
    assert (result["n_real"], result["n_fake"], result["dim"]) == (6, 5, 2048)
    assert not (tmp_path / "cache" / "fid_stats").exists()


def test_input_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    good = _images(tmp_path / "good", 4, 3)
    np.save(tmp_path / "a8.npy", _feats(5, 10, 8))
    np.save(tmp_path / "b6.npy", _feats(6, 10, 6))
    np.save(tmp_path / "one.npy", _feats(7, 1, 8))
    np.save(tmp_path / "obj.npy", np.array([{"x": 1}], dtype=object), allow_pickle=True)
    (tmp_path / "empty").mkdir()
    mixed = _images(tmp_path / "mixed", 8, 2)
    (mixed / "captions.json").write_text("{}")
    broken = _images(tmp_path / "broken", 9, 2)
    (broken / "bad.png").write_bytes(b"not a png at all")
    npy = str(tmp_path / "a8.npy")

    cases = [
        (["--real", str(tmp_path / "nowhere"), "--fake", npy], "not found"),
        (["--real", str(tmp_path / "empty"), "--fake", npy, "--extractor", f"dinov2:{tmp_path}"], "empty"),
        (["--real", npy, "--fake", str(tmp_path / "b6.npy")], "dimensions differ"),
        (["--real", npy, "--fake", str(tmp_path / "one.npy")], "at least 2"),
        (["--real", npy, "--fake", str(tmp_path / "obj.npy")], "obj.npy"),
        (["--real", str(mixed), "--fake", npy], "captions.json"),
        (["--real", npy, "--fake", str(tmp_path / "x.txt")], "not found"),
    ]
    (tmp_path / "notes.txt").write_text("x")
    cases.append((["--real", npy, "--fake", str(tmp_path / "notes.txt")], "expected an image folder"))
    for args, needle in cases:
        code, out, err = _run(capsys, *args)
        assert code == 2, (args, err)
        assert out == ""
        assert needle in err, (args, err)

    weights = build_tiny_inception_torchscript(tmp_path / "w" / "inception.pt")
    code, _, err = _run(capsys, "--real", str(broken), "--fake", npy, "--inception-weights", str(weights))
    assert code == 2 and "bad.png" in err

    # No Inception weights anywhere: a clear message, no download.
    monkeypatch.delenv(incf.INCEPTION_WEIGHTS_ENV, raising=False)
    monkeypatch.setattr(incf, "CLEANFID_DOWNLOAD_DIR", tmp_path / "no_cleanfid")
    code, _, err = _run(capsys, "--real", str(good), "--fake", str(good))
    assert code == 2
    assert (
        "inception-2015-12-05.pt" in err
        and "--inception-weights" in err
        and incf.INCEPTION_WEIGHTS_ENV in err
    )

    # A .npz with only moments cannot give KID.
    np.savez(tmp_path / "stats.npz", mu=np.zeros(8), sigma=np.eye(8))
    code, _, err = _run(capsys, "--real", str(tmp_path / "stats.npz"), "--fake", npy, "--kid")
    assert code == 2 and "KID needs features" in err


def test_score_fid_module_imports_no_torch() -> None:
    code = (
        "import sys, mllmbench.cli.commands.score_fid as m, argparse; "
        "m.add_arguments(argparse.ArgumentParser()); "
        "assert 'torch' not in sys.modules and 'numpy' not in sys.modules, sorted(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
