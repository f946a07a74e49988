"""Precision/recall, density/coverage: known answers, independent implementations, exact batching and sharding."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from stylegan_eval.metrics.precision_recall import knn_radii, prdc, precision_recall

sys.path.insert(0, str(Path(__file__).parent))
from dist_utils import free_port

KEYS = ("precision", "recall", "density", "coverage")


def _feats(n: int, d: int, seed: int, shift: float = 0.0, scale: float = 1.0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g) * scale + shift


def test_identical_sets_give_one():
    x = _feats(40, 8, 0)
    out = prdc(x, x.clone(), 3, tile=8)
    assert out["precision"] == 1.0 and out["recall"] == 1.0 and out["coverage"] == 1.0
    assert out["density"] >= 1.0 / 3  # each point lies at least in its own ball


def test_far_apart_clusters_give_zero():
    out = prdc(_feats(30, 5, 1), _feats(25, 5, 2, shift=100.0), 3, tile=4)
    assert all(out[k] == 0.0 for k in KEYS)


def test_hand_computed_six_points():
    # 1-D, k = 1. real radii (2nd smallest distance, self included): 1, 1, 1; fake radii: 3, 3, 6.5.
    real = torch.tensor([[0.0], [1.0], [2.0]])
    fake = torch.tensor([[0.5], [3.5], [10.0]])
    out = prdc(real, fake, 1, tile=2)
    assert out["real_radii"].tolist() == [1.0, 1.0, 1.0]
    assert out["fake_radii"].tolist() == [3.0, 3.0, 6.5]
    assert out["precision"] == pytest.approx(1 / 3)  # only 0.5 lies in a real ball
    assert out["recall"] == 1.0  # every real point lies in the ball of 0.5 (radius 3)
    assert out["density"] == pytest.approx(2 / 3)  # 0.5 lies in the balls of 0 and 1: 2 / (k M)
    assert out["coverage"] == pytest.approx(2 / 3)  # the nearest fake of 2 is 1.5 away, its radius 1


def test_matches_prdc_and_torch_fidelity():
    import prdc as prdc_pkg
    from torch_fidelity.metric_prc import calculate_precision_recall_full

    real, fake = _feats(157, 16, 3), _feats(131, 16, 4, shift=0.3, scale=1.2)
    ours = prdc(real.double(), fake.double(), 3, row_batch_size=40, col_batch_size=24, tile=8)
    ref = prdc_pkg.compute_prdc(real.double().numpy(), fake.double().numpy(), nearest_k=3)
    for k in KEYS:
        assert abs(ours[k] - float(ref[k])) < 1e-6, k
    p, r = calculate_precision_recall_full(fake, real, 3, 10_000)  # torch-fidelity: input1 generated
    assert abs(ours["precision"] - p) < 1e-6 and abs(ours["recall"] - r) < 1e-6


def _nvidia_radii_numpy(x: np.ndarray, k: int, row_batch: int, col_batch: int) -> np.ndarray:
    """NVIDIA's scheme restated: per row batch, distances to every column batch, the (k+1)-th smallest."""
    out = []
    for r0 in range(0, len(x), row_batch):
        rows = x[r0 : r0 + row_batch]
        dist = np.concatenate(
            [
                np.sqrt(((rows[:, None] - x[None, c0 : c0 + col_batch]) ** 2).sum(-1))
                for c0 in range(0, len(x), col_batch)
            ],
            axis=1,
        )
        out.append(np.partition(dist, k, axis=1)[:, k])
    return np.concatenate(out)


def test_radii_match_numpy_restatement():
    x = _feats(70, 6, 5).double()
    ours = knn_radii(x, 3, row_batch_size=16, col_batch_size=32, tile=8).numpy()
    np.testing.assert_allclose(ours, _nvidia_radii_numpy(x.numpy(), 3, 10, 20), rtol=1e-10, atol=1e-12)


def test_exactly_independent_of_batch_sizes():
    real, fake = _feats(83, 12, 6), _feats(61, 12, 7, shift=0.2)
    ref = prdc(real, fake, 3, row_batch_size=8, col_batch_size=8, tile=8)
    for rb, cb in ((16, 24), (1000, 8), (9, 100), (1, 1)):  # rounded up to whole tiles
        out = prdc(real, fake, 3, row_batch_size=rb, col_batch_size=cb, tile=8)
        assert torch.equal(out["real_radii"], ref["real_radii"]) and torch.equal(out["fake_radii"], ref["fake_radii"])
        assert all(out[k] == ref[k] for k in KEYS)


def _worker(rank: int, world: int, port: int, out: str) -> None:
    from stylegan_eval.engine import init_distributed

    os.environ.update(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank)
    )
    torch.set_num_threads(1)
    dist = init_distributed(torch.device("cpu"))
    res = prdc(
        _feats(83, 12, 6), _feats(61, 12, 7, shift=0.2), 3, row_batch_size=16, col_batch_size=16, tile=8, dist=dist
    )
    torch.save(res, Path(out) / f"rank{rank}.pt")
    torch.distributed.destroy_process_group()


@pytest.mark.slow
def test_two_processes_equal_one(tmp_path, one_thread_test):
    import torch.multiprocessing as mp

    from stylegan_eval.engine import DistInfo

    mp.spawn(_worker, args=(2, free_port(), str(tmp_path)), nprocs=2, join=True)
    single = prdc(
        _feats(83, 12, 6),
        _feats(61, 12, 7, shift=0.2),
        3,
        row_batch_size=16,
        col_batch_size=16,
        tile=8,
        dist=DistInfo(),
    )
    for rank in (0, 1):
        got = torch.load(tmp_path / f"rank{rank}.pt")
        assert torch.equal(got["real_radii"], single["real_radii"]) and torch.equal(
            got["fake_radii"], single["fake_radii"]
        )
        assert all(got[k] == single[k] for k in KEYS)


def test_bad_input_one_line_errors():
    from stylegan_eval.errors import UserError

    with pytest.raises(UserError, match="at least 4 points"):
        knn_radii(torch.zeros(3, 2), 3)
    with pytest.raises(UserError, match="different widths"):
        prdc(torch.zeros(5, 2), torch.zeros(5, 3), 1)


def test_validate_names_the_argument_before_any_feature_is_computed(tmp_path):
    from eq_toys import BandLimitedGenerator

    from stylegan_eval.cli import flag_message
    from stylegan_eval.errors import ArgumentError

    for bad in ({"nhood_size": 0}, {"tile": 0}, {"feature_dtype": "int8"}, {"max_real": 3}, {"num_samples": 2}):
        with pytest.raises(ArgumentError) as exc:
            # the real data does not exist: the argument is refused before anything is read
            precision_recall(BandLimitedGenerator(16), tmp_path / "nothing", **{"num_samples": 8, **bad})
        assert exc.value.arg == next(iter(bad)) and str(exc.value).startswith(exc.value.arg)
        assert flag_message(exc.value).startswith("--" + exc.value.arg.replace("_", "-"))
    with pytest.raises(ArgumentError, match="^row_batch_size must be a positive integer"):
        knn_radii(torch.zeros(5, 2), 3, row_batch_size=0)


def test_entry_point_with_image_folder(tmp_path):
    from eq_toys import BandLimitedGenerator
    from PIL import Image

    from stylegan_eval.metrics.modern_detectors import ModernDetector

    rng = np.random.default_rng(0)
    for i in range(12):
        Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(tmp_path / f"{i:02d}.png")
    det = ModernDetector("dinov2-vitl14", allow_random=True, arch_kwargs={"depth": 1, "embed_dim": 16, "num_heads": 2})
    g = BandLimitedGenerator(16)
    res = precision_recall(
        g, tmp_path, num_samples=10, batch_size=4, max_real=9, detector=det, tile=4, feature_dtype="float32"
    )
    assert res.name == "pr_gen10_real9_k3" and set(res.values()) == set(KEYS)
    assert all(0.0 <= v for v in res.values().values()) and res.random_weights
    assert res.fingerprint()["num_real"] == 9 and res.to_frame().shape[0] == 4
    again = precision_recall(
        g, tmp_path, num_samples=10, batch_size=3, max_real=9, detector=det, tile=4, feature_dtype="float32"
    )
    assert again.values() == res.values()
