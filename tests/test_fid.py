"""FID / KID against dataset statistics: the detector and statistics against pytorch-fid, the
Fréchet distance and KID against direct computations, the CLI's bad-input handling and the
statistics cache.

Inception runs at a seeded random initialisation (the published weights cannot be downloaded
here); pytorch-fid gets the very same weights through a file, so both pipelines compute the
same function. Image counts are kept small: Inception at 299x299 on a CPU is slow.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from fid_utils import pytorch_fid_model, write_images
from image_utils import TinyGen
from PIL import Image

from stylegan_eval.errors import UserError
from stylegan_eval.metrics import frechet as fidmod
from stylegan_eval.metrics.features import FeatureStats, ImageSource, dataset_stats, generator_features, load_stats
from stylegan_eval.metrics.inception import FIDInceptionV3, make_detector
from stylegan_eval.metrics.kid_estimator import kernel_inception_distance, subset_indices


@pytest.fixture(autouse=True)
def offline(tmp_path, monkeypatch):
    """No downloads, a private weights cache and statistics cache."""
    monkeypatch.setenv("STYLEGAN_EVAL_OFFLINE", "1")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    monkeypatch.setenv("STYLEGAN_EVAL_CACHE", str(tmp_path / "cache"))
    for var in ("STYLEGAN_EVAL_WEIGHTS", "STYLEGAN_EVAL_FID_INCEPTION", "STYLEGAN_EVAL_NVIDIA_INCEPTION"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory) -> Path:
    """A seeded random FID Inception state dict (pytorch-fid's keys)."""
    path = tmp_path_factory.mktemp("weights") / "random_fid_inception.pth"
    torch.save(FIDInceptionV3().randomize(seed=123).state_dict(), path)
    return path


@pytest.fixture(scope="module")
def random_detector(tmp_path_factory):
    """The built-in seeded random pytorch-fid detector (shared: building it takes a second or two)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("STYLEGAN_EVAL_OFFLINE", "1")
        mp.setenv("STYLEGAN_EVAL_PACKAGE_WEIGHTS", "0")  # module scope: before the autouse fixture
        mp.setenv("TORCH_HOME", str(tmp_path_factory.mktemp("th")))
        for var in ("STYLEGAN_EVAL_WEIGHTS", "STYLEGAN_EVAL_FID_INCEPTION"):
            mp.delenv(var, raising=False)
        return make_detector("pytorch-fid", allow_random=True)


# ------------------------------------------------------------------------------ detector vs pytorch-fid
def test_statistics_and_fid_match_pytorch_fid(tmp_path, weights_file, monkeypatch):
    from pytorch_fid.fid_score import calculate_activation_statistics, calculate_frechet_distance

    a = write_images(tmp_path / "a", 6, seed=1)
    b = write_images(tmp_path / "b", 6, seed=2, contrast=0.3)
    det = make_detector("pytorch-fid", weights_file, verify=False)
    # Accepted unchecked (it misses the probe outputs), and said so; it is not random init.
    assert not det.random_weights and det.describe()["weights_verified"] == "unverified-trusted"
    model = pytorch_fid_model(weights_file, monkeypatch)
    ours, theirs = {}, {}
    for name, files in (("a", a), ("b", b)):
        ours[name], info = dataset_stats(tmp_path / name, det, batch_size=5, use_cache=False)
        assert info.num_images == 6 and not info.cache_hit
        theirs[name] = calculate_activation_statistics(
            [str(p) for p in files], model, batch_size=4, dims=2048, device="cpu", num_workers=0
        )
        np.testing.assert_allclose(ours[name].mu, theirs[name][0], rtol=0, atol=1e-6)
        np.testing.assert_allclose(ours[name].sigma, theirs[name][1], rtol=0, atol=1e-6)
    assert np.abs(ours["a"].mu - ours["b"].mu).max() > 1e-3  # the folders really differ
    # FID on the 4 feature coordinates of largest variance (a full-rank block with 6 samples; the
    # full 2048-d comparison is test_full_fid_matches_pytorch_fid): our pipeline against pytorch-fid's.
    k = np.ix_(*[np.argsort(np.diag(theirs["a"][1]))[-4:]] * 2)
    kk = k[0][:, 0]
    expected = calculate_frechet_distance(theirs["a"][0][kk], theirs["a"][1][k], theirs["b"][0][kk], theirs["b"][1][k])
    for method in ("sqrtm", "eigen"):
        got = fidmod.frechet_distance(
            ours["a"].mu[kk], ours["a"].sigma[k], ours["b"].mu[kk], ours["b"].sigma[k], method=method
        )
        assert abs(got - expected) < 1e-4, (method, got, expected)
    assert expected > 1e-3


@pytest.mark.slow  # about 45 s on two CPU cores (two 2048-d sqrtm), so it runs in CI too
def test_full_fid_matches_pytorch_fid(tmp_path, weights_file, monkeypatch):
    from pytorch_fid.fid_score import calculate_fid_given_paths

    write_images(tmp_path / "a", 12, seed=1)
    write_images(tmp_path / "b", 12, seed=2)
    det = make_detector("pytorch-fid", weights_file, verify=False)
    sa, _ = dataset_stats(tmp_path / "a", det, use_cache=False)
    sb, _ = dataset_stats(tmp_path / "b", det, use_cache=False)
    pytorch_fid_model(weights_file, monkeypatch)  # patches pytorch-fid's download to read our file
    expected = calculate_fid_given_paths([str(tmp_path / "a"), str(tmp_path / "b")], 4, "cpu", 2048, num_workers=0)
    got = fidmod.frechet_distance(sa.mu, sa.sigma, sb.mu, sb.sigma, method="sqrtm")
    assert abs(got - expected) < 1e-4


# ------------------------------------------------------------------------------ Fréchet distance
def random_spd(d: int, n: int, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, d))
    return np.cov(x, rowvar=False)


def direct_fid(mu1, s1, mu2, s2) -> float:
    """Textbook formula with scipy, for reference."""
    from scipy import linalg

    root = linalg.sqrtm(s1 @ s2)
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(np.real(root)))


def test_frechet_distance_against_direct_scipy_and_pytorch_fid():
    from pytorch_fid.fid_score import calculate_frechet_distance

    rng = np.random.default_rng(0)
    d = 48
    mu1, mu2 = rng.standard_normal(d), rng.standard_normal(d)
    s1, s2 = random_spd(d, 200, 1), 2.0 * random_spd(d, 300, 2)
    expected = direct_fid(mu1, s1, mu2, s2)
    sq = fidmod.frechet_distance(mu1, s1, mu2, s2, method="sqrtm")
    eig = fidmod.frechet_distance(mu1, s1, mu2, s2, method="eigen")
    assert sq == pytest.approx(expected, rel=1e-10, abs=1e-9)
    assert eig == pytest.approx(expected, rel=1e-9, abs=1e-8)
    assert sq == pytest.approx(calculate_frechet_distance(mu1, s1, mu2, s2), rel=1e-10)
    # the result depends on the statistics: a shifted mean adds exactly |shift|^2
    assert fidmod.frechet_distance(mu1 + 1, s1, mu2, s2) == pytest.approx(
        expected + np.sum((mu1 + 1 - mu2) ** 2) - np.sum((mu1 - mu2) ** 2), rel=1e-9
    )


def test_identical_statistics_give_zero():
    s = random_spd(32, 100, 3)
    mu = np.random.default_rng(4).standard_normal(32)
    assert abs(fidmod.frechet_distance(mu, s, mu, s, method="sqrtm")) < 1e-8
    assert abs(fidmod.frechet_distance(mu, s, mu, s, method="eigen")) < 1e-8


def test_sqrtm_and_eigen_agree_on_rank_deficient_covariances():
    # 20 samples in 40 dimensions: both covariances have rank 19
    s1, s2 = random_spd(40, 20, 5), random_spd(40, 20, 6)
    mu1, mu2 = np.zeros(40), np.full(40, 0.1)
    sq = fidmod.frechet_distance(mu1, s1, mu2, s2, method="sqrtm")
    eig = fidmod.frechet_distance(mu1, s1, mu2, s2, method="eigen")
    assert sq == pytest.approx(eig, rel=1e-5)


def test_lowrank_route_matches_eigen():
    """With generated features (n < D) the trace comes from an n x n problem; same value."""
    rng = np.random.default_rng(11)
    feats = rng.standard_normal((15, 40)) * np.linspace(0.2, 2, 40)
    s1, mu1 = random_spd(40, 60, 12), rng.standard_normal(40)
    stats = FeatureStats.from_features(torch.from_numpy(feats), keep=True)
    np.testing.assert_allclose(stats.sigma, np.cov(feats, rowvar=False), atol=1e-12)
    low = fidmod.frechet_distance(mu1, s1, stats.mu, stats.sigma, method="eigen", features2=feats)
    full = fidmod.frechet_distance(mu1, s1, stats.mu, stats.sigma, method="eigen")
    sq = fidmod.frechet_distance(mu1, s1, stats.mu, stats.sigma, method="sqrtm")
    # the full route takes sqrt of ~1e-16 rounding eigenvalues in the null space (about 1e-8 each)
    assert low == pytest.approx(full, rel=1e-7) and low == pytest.approx(sq, rel=1e-5)


def test_sqrtm_called_without_disp_and_fallbacks(monkeypatch):
    """scipy >= 1.18 has no ``disp``: never pass it; NaN roots retry with the eps offset; large imaginary parts raise."""
    from scipy import linalg

    real_sqrtm = linalg.sqrtm
    calls = []

    def strict(a, *args, **kwargs):  # the scipy >= 1.18 signature
        if args or kwargs:
            raise TypeError("sqrtm() got an unexpected keyword argument 'disp'")
        calls.append(a.copy())
        return real_sqrtm(a) if len(calls) > 1 else np.full_like(a, np.nan)

    monkeypatch.setattr(linalg, "sqrtm", strict)
    s1, s2 = random_spd(16, 50, 7), random_spd(16, 50, 8)
    mu = np.zeros(16)
    value = fidmod.frechet_distance(mu, s1, mu, s2, method="sqrtm")
    assert len(calls) == 2  # the first (NaN) root triggered the eps retry
    np.testing.assert_allclose(calls[1], (s1 + 1e-6 * np.eye(16)) @ (s2 + 1e-6 * np.eye(16)))
    assert value == pytest.approx(fidmod.frechet_distance(mu, s1, mu, s2, method="eigen"), rel=1e-4)

    monkeypatch.setattr(linalg, "sqrtm", lambda a: real_sqrtm(a) + 0.5j * np.eye(a.shape[0]))
    with pytest.raises(fidmod.FIDNumericalError, match="imaginary component"):
        fidmod.frechet_distance(mu, s1, mu, s2, method="sqrtm")
    monkeypatch.setattr(linalg, "sqrtm", lambda a: real_sqrtm(a) + 1e-5j * np.eye(a.shape[0]))
    assert fidmod.frechet_distance(mu, s1, mu, s2) == pytest.approx(value, rel=1e-4)


# ------------------------------------------------------------------------------ KID
def kid_reference(real: np.ndarray, gen: np.ndarray, gi: np.ndarray, ri: np.ndarray) -> np.ndarray:
    """NVIDIA's KID loop, written with explicit sums over pairs."""
    d = real.shape[1]
    out = []
    for g_rows, r_rows in zip(gi, ri):
        x, y = gen[g_rows].astype(np.float64), real[r_rows].astype(np.float64)
        m = len(x)
        k = lambda a, b: (a @ b / d + 1) ** 3  # noqa: E731
        kxx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j)
        kyy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j)
        kxy = sum(k(x[i], y[j]) for i in range(m) for j in range(m))
        out.append(((kxx + kyy) / (m - 1) - 2 * kxy / m) / m)
    return np.array(out)


def test_kid_against_direct_numpy():
    rng = np.random.default_rng(0)
    real = rng.standard_normal((30, 12)).astype(np.float32)
    gen = (rng.standard_normal((25, 12)) * 1.3 + 0.4).astype(np.float32)
    res = kernel_inception_distance(real, gen, num_subsets=6, max_subset_size=10, seed=3, chunk_bytes=1)
    gi, ri = subset_indices(30, 25, 6, 10, seed=3)
    ref = kid_reference(real, gen, gi, ri)
    assert res.subset_size == 10
    np.testing.assert_allclose(res.subsets, ref, rtol=1e-10)
    assert res.mean == pytest.approx(ref.mean(), rel=1e-10)
    assert res.std == pytest.approx(ref.std(), rel=1e-8)
    assert res.mean > 0.05  # clearly different distributions
    # the subset choice is seeded: same seed, same value; another seed, other subsets
    assert kernel_inception_distance(real, gen, num_subsets=6, max_subset_size=10, seed=3).mean == res.mean
    assert kernel_inception_distance(real, gen, num_subsets=6, max_subset_size=10, seed=4).mean != res.mean
    # m = min(n_real, n_gen, max_subset_size)
    assert kernel_inception_distance(real[:7], gen, num_subsets=2, seed=0).subset_size == 7
    with pytest.raises(UserError):
        kernel_inception_distance(real, gen[:, :5])


# ------------------------------------------------------------------------------ statistics files
def test_stats_file_readers(tmp_path):
    import pickle

    rng = np.random.default_rng(0)
    mu, sigma = rng.standard_normal(2048), random_spd(2048, 2100, 9)
    np.savez(tmp_path / "pfid.npz", mu=mu, sigma=sigma)
    s = load_stats(tmp_path / "pfid.npz")
    np.testing.assert_array_equal(s.mu, mu)
    np.testing.assert_array_equal(s.sigma, sigma)
    with open(tmp_path / "ros.pkl", "wb") as f:
        pickle.dump({"mean": mu, "cov": sigma, "size": 50000, "path": "lmdb"}, f)
    r = load_stats(tmp_path / "ros.pkl")
    np.testing.assert_array_equal(r.sigma, sigma)
    assert r.num == 50000
    # round trip of our own files, with features
    FeatureStats(mu, sigma, 7, np.ones((7, 2048), np.float32), {"detector": "pytorch-fid"}).save(tmp_path / "ours.npz")
    o = load_stats(tmp_path / "ours.npz")
    assert o.num == 7 and o.features.shape == (7, 2048) and o.meta["detector"] == "pytorch-fid"

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    with open(tmp_path / "evil.pkl", "wb") as f:
        pickle.dump({"mean": Evil(), "cov": sigma}, f)
    with pytest.raises(UserError, match="refused"):
        load_stats(tmp_path / "evil.pkl")
    np.savez(tmp_path / "nomu.npz", sigma=sigma)
    with pytest.raises(UserError, match="missing key mu"):
        load_stats(tmp_path / "nomu.npz")
    np.savez(tmp_path / "small.npz", mu=mu[:64], sigma=sigma[:64, :64])
    with pytest.raises(UserError, match=r"expected \(2048,\)"):
        load_stats(tmp_path / "small.npz")


def test_image_source_formats(tmp_path):
    """Recursive folders and zips; grayscale and RGBA become RGB; other files are ignored."""
    import zipfile

    from stylegan_eval.metrics.features import decode_image

    root = tmp_path / "imgs"
    (root / "sub" / "deeper").mkdir(parents=True)
    Image.fromarray(np.full((8, 8), 200, np.uint8)).save(root / "sub" / "gray.png")
    Image.fromarray(np.full((8, 8, 4), 90, np.uint8)).save(root / "sub" / "deeper" / "rgba.PNG")
    Image.fromarray(np.full((8, 8, 3), 10, np.uint8)).save(root / "c.jpg")
    Image.fromarray(np.full((8, 8, 3), 10, np.uint8)).save(root / "d.webp")
    (root / "notes.txt").write_text("not an image")
    src = ImageSource(root)
    assert src.names == ["c.jpg", "d.webp", "sub/deeper/rgba.PNG", "sub/gray.png"]
    gray = decode_image(src.read(3))
    assert gray.shape == (3, 8, 8) and gray.dtype == torch.uint8 and int(gray[:, 0, 0].min()) == 200
    assert decode_image(src.read(2)).shape == (3, 8, 8)
    with zipfile.ZipFile(tmp_path / "imgs.zip", "w") as zf:
        for n in src.names:
            zf.write(root / n, n)
        zf.writestr("readme.md", "x")
    z = ImageSource(tmp_path / "imgs.zip")
    assert z.names == src.names
    assert torch.equal(decode_image(z.read(3)), gray)


def test_mixed_sizes_stream_in_order(tmp_path):
    """Images of different sizes share batches; statistics are float64 with N - 1; features keep file order."""
    from stylegan_eval.metrics.features import ImageSource, dataset_features

    rng = np.random.default_rng(0)
    arrays = [rng.integers(0, 256, (s, s, 3), dtype=np.uint8) for s in (8, 16, 8, 12, 16, 8, 8)]
    (tmp_path / "mixed").mkdir()
    for i, a in enumerate(arrays):
        Image.fromarray(a).save(tmp_path / "mixed" / f"{i}.png")
    seen = []

    def channel_means(images):  # a stand-in detector: uint8 NCHW -> [N, 3]
        seen.append(tuple(images.shape))
        return images.double().mean((2, 3))

    stats, skipped = dataset_features(
        ImageSource(tmp_path / "mixed"), channel_means, batch_size=4, keep_features=True, show_progress=False
    )
    expected = np.stack([a.reshape(-1, 3).mean(0) for a in arrays])
    np.testing.assert_allclose(stats.features, expected, rtol=1e-6)
    np.testing.assert_allclose(stats.mu, expected.mean(0), rtol=1e-12)
    np.testing.assert_allclose(stats.sigma, np.cov(expected, rowvar=False), rtol=1e-9)
    assert skipped == [] and stats.num == 7 and len(seen) > 2  # several same-size groups per batch


# ------------------------------------------------------------------------------ cache
def test_stats_cache_hit_and_invalidation(tmp_path, random_detector):
    from stylegan_eval.metrics.features import cache_key

    write_images(tmp_path / "imgs", 2, seed=4)
    det = random_detector
    first, info1 = dataset_stats(tmp_path / "imgs", det, batch_size=2)
    assert not info1.cache_hit and info1.files_hashed == 2
    second, info2 = dataset_stats(tmp_path / "imgs", det, batch_size=2)
    assert info2.cache_hit and info2.files_hashed == 0  # unchanged files are not even re-read
    np.testing.assert_array_equal(first.mu, second.mu)
    np.testing.assert_array_equal(first.sigma, second.sigma)
    # a changed file changes the content hash: a miss, and only that file is re-read
    write_images(tmp_path / "imgs", 1, seed=5)
    third, info3 = dataset_stats(tmp_path / "imgs", det, batch_size=2)
    assert not info3.cache_hit and info3.files_hashed == 1 and info3.data_hash != info1.data_hash
    assert np.abs(third.mu - first.mu).max() > 0
    # the detector, its weights and its resize mode are part of the key
    desc = det.describe()
    keys = {
        cache_key(info3.data_hash, {**desc, **change}, {"skip_bad": False})
        for change in ({}, {"resize": "clean"}, {"weights_sha256": "other"}, {"detector": "nvidia"})
    }
    assert len(keys) == 4


def test_cli_stats_cache_hit_answers_without_torch(cli, tmp_path):
    """A second `stats` on unchanged data is answered from the cache before torch is imported."""
    import subprocess
    import sys

    write_images(tmp_path / "imgs", 3, seed=6)
    code, out, err = cli(
        "stats",
        tmp_path / "imgs",
        "--out-file",
        tmp_path / "a.npz",
        "--allow-random-weights",
        "--quiet",
        "--json",
        "--num-workers",
        "0",
    )
    assert code == 0, err
    assert json.loads(out)["meta"]["result"]["cache_hit"] is False
    script = (
        "import json, sys\nfrom stylegan_eval.cli import main\n"
        f"code = main(['stats', {str(tmp_path / 'imgs')!r}, '--out-file', {str(tmp_path / 'b.npz')!r}, '--allow-random-weights', "
        "'--quiet', '--json'])\n"
        "print(json.dumps({'code': code, 'torch': 'torch' in sys.modules, 'pandas': 'pandas' in sys.modules}))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=os.environ.copy(), timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    report, flags = (json.loads(line) for line in proc.stdout.strip().splitlines())
    assert flags == {"code": 0, "torch": False, "pandas": False}
    assert report["meta"]["result"]["cache_hit"] is True and report["meta"]["result"]["files_hashed"] == 0
    assert report["meta"]["random_weights"] and "NOT comparable" in report["warning"]
    a, b = load_stats(tmp_path / "a.npz"), load_stats(tmp_path / "b.npz")
    np.testing.assert_array_equal(a.mu, b.mu)
    np.testing.assert_array_equal(a.sigma, b.sigma)
    # asking for features the cached entry lacks is not a hit: the full path runs
    code, out, err = cli(
        "stats",
        tmp_path / "imgs",
        "--out-file",
        tmp_path / "c.npz",
        "--allow-random-weights",
        "--quiet",
        "--json",
        "--features",
        "--num-workers",
        "0",
    )
    assert code == 0 and json.loads(out)["meta"]["result"]["cache_hit"] is False
    assert load_stats(tmp_path / "c.npz").features.shape == (3, 2048)


# ------------------------------------------------------------------------------ generator features


def tiny_gen():
    """--generator test_fid:tiny_gen"""
    return TinyGen()


def test_generator_features_batch_invariant_and_uint8():
    calls = []

    def fake_detector(images):
        calls.append(images)
        return images.float().flatten(1)[:, :8]

    g = TinyGen()
    a = generator_features(g, fake_detector, 7, batch_size=3, seed=1, show_progress=False)
    b = generator_features(g, fake_detector, 7, batch_size=7, seed=1, show_progress=False)
    assert all(c.dtype == torch.uint8 and c.shape[1:] == (3, 16, 16) for c in calls)
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    # row i is sample i: quantised exactly as NVIDIA does
    from stylegan_eval.generator import latents

    idx = torch.arange(7)
    img = g.generate(latents(g, 1, idx), None, noise_mode="random", noise_seed=1, indices=idx)
    expected = (img * 127.5 + 128).clamp(0, 255).to(torch.uint8).float().flatten(1)[:, :8]
    torch.testing.assert_close(a, expected, rtol=0, atol=0)


# ------------------------------------------------------------------------------ CLI
def one_line(err: str) -> str:
    lines = [l for l in err.splitlines() if l.strip()]
    assert len(lines) == 1, err
    return lines[0]


def test_cli_corrupt_image_empty_folder_and_skip(tmp_path, cli):
    write_images(tmp_path / "imgs", 2, seed=6)
    (tmp_path / "imgs" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    code, out, err = cli(
        "--no-config",
        "stats",
        tmp_path / "imgs",
        "--out-file",
        tmp_path / "s.npz",
        "--allow-random-weights",
        "--quiet",
        "--num-workers",
        "0",
        "--device",
        "cpu",
    )
    assert code == 2 and "broken.png" in one_line(err) and "--skip-bad-images" in err
    assert not (tmp_path / "s.npz").exists()

    code, out, err = cli(
        "--no-config",
        "stats",
        tmp_path / "imgs",
        "--out-file",
        tmp_path / "s.npz",
        "--allow-random-weights",
        "--quiet",
        "--num-workers",
        "0",
        "--device",
        "cpu",
        "--skip-bad-images",
        "--json",
    )
    assert code == 0, err
    rows = {r["field"]: r["value"] for r in json.loads(out)["results"]}
    assert rows["skipped"] == "1" and rows["num_images"] == "2" and rows["num_files"] == "3"
    assert load_stats(tmp_path / "s.npz").num == 2

    (tmp_path / "empty" / "sub").mkdir(parents=True)
    (tmp_path / "empty" / "sub" / "a.txt").write_text("x")
    code, out, err = cli(
        "--no-config",
        "stats",
        tmp_path / "empty",
        "--out-file",
        tmp_path / "e.npz",
        "--allow-random-weights",
        "--quiet",
    )
    assert code == 2 and "no images found" in one_line(err)

    code, out, err = cli("--no-config", "stats", tmp_path / "imgs", "--out-file", tmp_path / "s2.npz", "--quiet")
    line = one_line(err)
    assert code == 2 and "pt_inception-2015-12-05-6726825d.pth" in line and "https://github.com/mseitzer" in line


def test_cli_bad_stats_files(tmp_path, cli):
    np.savez(tmp_path / "small.npz", mu=np.zeros(64), sigma=np.eye(64))
    np.savez(tmp_path / "nosigma.npz", mu=np.zeros(2048))
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    base = [
        "--no-config",
        "fid",
        "--generator",
        "test_fid:tiny_gen",
        "--num-gen",
        "4",
        "--allow-random-weights",
        "--quiet",
        "--device",
        "cpu",
    ]
    for name, needle in (
        ("small.npz", "expected (2048,)"),
        ("nosigma.npz", "missing key sigma"),
        ("junk.npz", "not a readable .npz"),
    ):
        code, out, err = cli(*base, "--data", tmp_path / name)
        assert code == 2 and needle in one_line(err) and name in err, err
    np.savez(tmp_path / "ok.npz", mu=np.zeros(2048), sigma=np.eye(2048))
    code, out, err = cli(*base, "--data", tmp_path / "ok.npz", "--kid")
    assert code == 2 and "--kid needs" in one_line(err)


def test_cli_fid_end_to_end(tmp_path, cli):
    """fid against an image folder: report fields, KID, warnings, the banner of random weights."""
    write_images(tmp_path / "imgs", 5, seed=7, size=16)
    args = [
        "--no-config",
        "fid",
        "--generator",
        "test_fid:tiny_gen",
        "--data",
        tmp_path / "imgs",
        "--num-gen",
        "6",
        "--kid",
        "--kid-subsets",
        "4",
        "--fid-method",
        "eigen",
        "--allow-random-weights",
        "--quiet",
        "--num-workers",
        "0",
        "--device",
        "cpu",
        "--batch-size",
        "3",
        "--out",
        tmp_path / "rep",
    ]
    code, out, err = cli(*args)
    assert code == 0, err
    rep = json.loads((tmp_path / "rep" / "fid.json").read_text())
    res = {r["metric"]: r for r in rep["results"]}
    assert res["fid"]["value"] > 0 and res["fid"]["num_real"] == 5 and res["fid"]["num_gen"] == 6
    assert res["kid"]["std"] is not None and np.isfinite(res["kid"]["value"])
    meta = rep["meta"]
    assert meta["random_weights"] and rep["warning"].startswith("WARNING")
    assert meta["detector"]["detector"] == "pytorch-fid" and meta["detector"]["weights_sha256"].startswith(
        "random-init"
    )
    assert meta["real"]["cache_hit"] is False and meta["skipped_images"] == 0
    assert meta["generated"]["images_per_s"] > 0 and "generator" in meta["timings"]
    assert any("rank-deficient" in w for w in meta["warnings"]) and "rank-deficient" in err
    assert not list((tmp_path / "rep").glob(".partial-*"))
