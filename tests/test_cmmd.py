"""CMMD (Jayasumana et al. 2024): the estimator against a NumPy re-statement, its zero and symmetry,
the CLIP ViT-L/14@336 embedding network (a tiny tower at random init), the cached real
embeddings and the registry entry."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from stylegan_eval.errors import WeightsUnavailable
from stylegan_eval.metrics.cmmd import CmmdDetector, cmmd, mmd2

#: A vision tower small enough for CPU tests (same code path as the full ViT-L/14@336).
TINY = {"width": 64, "layers": 1, "head_width": 32}


def reference_cmmd(x: np.ndarray, y: np.ndarray, sigma: float = 10.0, scale: float = 1000.0) -> float:
    """The paper's reference estimator restated: full kernel-matrix means, diagonals included."""

    def k(a, b):
        d2 = ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)
        return np.exp(-d2 / (2 * sigma**2))

    return scale * (k(x, x).mean() + k(y, y).mean() - 2 * k(x, y).mean())


def unit(rng, n, d=32, shift=0.0):
    v = rng.normal(size=(n, d)) + shift
    return v / np.linalg.norm(v, axis=1, keepdims=True)


@pytest.mark.parametrize("block", [3, 4096])
def test_matches_the_numpy_restatement(block):
    rng = np.random.default_rng(0)
    for x, y in (
        (unit(rng, 40), unit(rng, 25, shift=0.3)),
        (rng.normal(size=(17, 8)) * 4, rng.normal(size=(31, 8)) * 4 + 1),  # not normalised: kernel far from 1
    ):
        ours, ref = mmd2(x, y, block=block), reference_cmmd(x, y)
        assert abs(ours - ref) < 1e-6, (ours, ref)
        assert ref > 1e-3  # the sets differ: the check is not one of zeros


def test_zero_for_identical_sets_and_symmetric():
    rng = np.random.default_rng(1)
    x, y = unit(rng, 50), unit(rng, 30, shift=0.5)
    # the same array: the three kernel means are the same float operations -> exactly 0
    assert mmd2(x, x) == 0.0
    # the same set in another order: 0 up to float64 rounding of the sums
    assert abs(mmd2(x, x[rng.permutation(len(x))])) < 1e-9
    assert abs(mmd2(x, y) - mmd2(y, x)) < 1e-9
    assert mmd2(x, y) > 0


def test_detector_embeddings_are_unit_length_and_random_weights_labelled():
    with pytest.raises(WeightsUnavailable):
        CmmdDetector(arch_kwargs=TINY)  # offline, no weights, no fallback asked for
    det = CmmdDetector(allow_random=True, arch_kwargs=TINY)
    assert det.random_weights == ["CLIP ViT-L/14@336px (OpenAI) (random init)"]
    assert det.describe()["weights_sha256"].startswith("random-init")
    images = torch.randint(0, 256, (3, 3, 32, 48), dtype=torch.uint8)
    emb = det(images)
    assert emb.shape == (3, 768) and emb.dtype == torch.float32
    assert torch.allclose(emb.norm(dim=1), torch.ones(3), atol=1e-5)
    assert det.preprocess(images).shape == (3, 3, 336, 336)


def _image_folder(path, n=5):
    from PIL import Image

    path.mkdir()
    rng = np.random.default_rng(2)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(path / f"{i}.png")
    return path


def test_entry_point_caches_real_embeddings_and_equals_the_restatement(tmp_path):
    from stylegan_eval.demo import default_checkpoint
    from stylegan_eval.formats import load_generator
    from stylegan_eval.metrics.features import generator_features

    gen = load_generator(default_checkpoint())
    real = _image_folder(tmp_path / "real")
    det = CmmdDetector(allow_random=True, arch_kwargs=TINY)
    first = cmmd(gen, real, num_samples=4, detector=det, seed=3)
    again = cmmd(gen, real, num_samples=4, detector=det, seed=3)
    assert first.fingerprint()["real"]["cache_hit"] is False and again.fingerprint()["real"]["cache_hit"] is True
    assert first.random_weights and first.name == "cmmd_4"
    assert again.value == pytest.approx(first.value, abs=1e-9)
    from stylegan_eval.metrics.features import dataset_stats

    real_feats = dataset_stats(real, det, keep_features=True, show_progress=False)[0].features
    gen_feats = generator_features(gen, det, 4, batch_size=2, seed=3, show_progress=False)
    assert first.value == pytest.approx(
        reference_cmmd(np.asarray(real_feats, np.float64), gen_feats.double().numpy()), abs=1e-6
    )


def test_registry_entry():
    from stylegan_eval.compare.evaluation import available_metrics
    from stylegan_eval.metrics import registry

    spec = registry.get("cmmd")
    assert spec.outputs == ("cmmd",) and "data" in spec.needs and registry.lower_is_better("cmmd")
    assert "cmmd" in available_metrics()


@pytest.mark.slow  # the full CLIP ViT-L/14@336 at random init on CPU: ~300M parameters, 336 px input
def test_calc_cmmd_end_to_end(cli, tmp_path):
    real = _image_folder(tmp_path / "real", n=2)
    code, out, err = cli(
        "--no-config", "calc", "demo", "--metrics", "cmmd", "--data", real, "--num-samples", "2",
        "--allow-random-weights", "--device", "cpu", "--quiet", "--json",
    )  # fmt: skip
    assert code == 0, err
    report = json.loads(out.strip().splitlines()[-1])
    rows = [r for r in report["results"] if r.get("output", r.get("metric")) == "cmmd" or r.get("metric") == "cmmd"]
    assert rows and all(np.isfinite(r["value"]) and r["value"] >= 0 for r in rows)
    assert "random" in json.dumps(report).lower()
