"""CUDA-specific code paths (``pytest -m cuda``): skipped on machines without a CUDA device.

Run on a GPU machine by ``benchmarks/device_check.sh`` (stage ``tests``). What they pin down:
per-sample reproducibility of the sampling engine on CUDA and against the CPU, batch-size
invariance within the documented tolerance, autocast, TF32 kept off, a 1-process NCCL group,
resume, ``torch.cuda.synchronize`` in the timer, pinned non-blocking copies, the device default
batch size, and the networks' CUDA outputs against their CPU outputs.
"""

from __future__ import annotations

import socket

import numpy as np
import pytest
import torch

from stylegan_eval import sampling

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(
        not torch.cuda.is_available(), reason="needs a CUDA device (run benchmarks/device_check.sh on a GPU machine)"
    ),
]

CUDA = torch.device("cuda")


def _sg2(size: int = 32, device: torch.device | str = CUDA, channels: dict[int, int] | None = None):
    from sg2_utils import make_sg2_net

    from stylegan_eval.networks.stylegan2 import StyleGAN2Generator

    return StyleGAN2Generator(make_sg2_net(size, channels=channels), "stylegan2-test").eval().to(device)


def _ppl(G, distance, n: int, batch_size: int | None, **kw) -> tuple[np.ndarray, dict]:
    """The PPL entry point, in one place (W space, 'end', no crop unless overridden)."""
    from stylegan_eval.metrics.ppl import ppl

    kw = {"space": "w", "sampling": "end", "epsilon": 1e-2, "crop": False, **kw}
    res = ppl(
        G,
        kw.pop("space"),
        kw.pop("sampling"),
        n,
        kw.pop("epsilon"),
        kw.pop("crop"),
        distance=distance,
        batch_size=batch_size,
        bootstrap_resamples=0,
        **kw,
    )
    return np.asarray(res.distances), res.settings


@pytest.fixture(scope="module")
def lpips_cuda():
    from stylegan_eval.metrics.distances import make_distance

    return make_distance("lpips-vgg", allow_random=True, download=False).to(CUDA)


# ------------------------------------------------------------------------------ sampling
def test_sampling_is_per_sample_on_cuda_and_matches_cpu():
    idx = torch.arange(1000)
    full = sampling.normal(7, sampling.Z, idx, (512,), CUDA)
    perm = torch.randperm(1000, generator=torch.Generator().manual_seed(0))[:137]
    part = sampling.normal(7, sampling.Z, perm, (512,), CUDA)
    assert torch.equal(part, full[perm.to(CUDA)])  # a sample's numbers never depend on its batch
    ints_gpu = sampling.randint(7, sampling.LABEL, idx, 1000, CUDA).cpu()
    assert torch.equal(ints_gpu, sampling.randint(7, sampling.LABEL, idx, 1000, "cpu"))  # the integer hash is exact
    cpu = sampling.normal(7, sampling.Z, idx, (512,), "cpu")
    assert torch.equal(full.cpu(), cpu)  # float64 + - * / sqrt round alike on every device
    u = sampling.uniform(7, sampling.T, idx, (), CUDA)
    assert u.device.type == "cuda" and torch.equal(u.cpu(), sampling.uniform(7, sampling.T, idx, (), "cpu"))


def test_generator_on_cuda_matches_cpu():
    Gc, Gg = _sg2(device="cpu"), _sg2(device=CUDA)
    idx = torch.arange(6)
    z = sampling.normal(0, sampling.Z, idx, (Gc.z_dim,))
    with torch.inference_mode():
        a = Gc.generate(z, noise_mode="random", noise_seed=3, indices=idx)
        b = Gg.generate(z.to(CUDA), noise_mode="random", noise_seed=3, indices=idx.to(CUDA))
    assert b.device.type == "cuda"
    torch.testing.assert_close(b.cpu(), a, rtol=1e-4, atol=1e-4)


def test_classifier_port_on_cuda_matches_cpu():
    from stylegan_eval.classifiers import random_classifier

    clf = random_classifier(0, resolution=32, fmap_base=256, fmap_max=32).eval()
    x = torch.rand(8, 3, 32, 32, generator=torch.Generator().manual_seed(1)) * 2 - 1
    with torch.inference_mode():
        ref = clf(x)
        out = clf.to(CUDA)(x.to(CUDA)).cpu()
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-4 * float(ref.abs().max()))


# ------------------------------------------------------------------------------ PPL on CUDA
def test_ppl_batch_size_invariance_on_cuda(lpips_cuda):
    G = _sg2()
    a, _ = _ppl(G, lpips_cuda, 14, 2)
    b, _ = _ppl(G, lpips_cuda, 14, 7)
    again, _ = _ppl(G, lpips_cuda, 14, 7)
    np.testing.assert_array_equal(b, again)  # same batch: the same kernels, the same numbers
    # other batch shapes: other kernels; at eps = 1e-2 the rounding stays ~1e-5 relative (README "Determinism")
    np.testing.assert_allclose(a, b, rtol=1e-4)
    assert np.all(a > 0)


def test_ppl_on_cuda_matches_cpu(lpips_cuda):
    from stylegan_eval.metrics.distances import make_distance

    g, _ = _ppl(_sg2(), lpips_cuda, 6, 3)
    c, _ = _ppl(_sg2(device="cpu"), make_distance("lpips-vgg", allow_random=True, download=False), 6, 3)
    np.testing.assert_allclose(g, c, rtol=1e-3)


def test_autocast_bf16_on_cuda_changes_the_numbers_and_fp32_does_not(lpips_cuda):
    G = _sg2()
    fp32, s32 = _ppl(G, lpips_cuda, 8, 4, epsilon=1e-1)
    bf16, s16 = _ppl(G, lpips_cuda, 8, 4, epsilon=1e-1, precision="bf16")
    assert s32["precision"] == "fp32" and s16["precision"] == "bf16"
    assert np.isfinite(bf16).all()
    assert not np.array_equal(bf16, fp32)  # autocast really ran the networks in bf16
    np.testing.assert_allclose(bf16.mean(), fp32.mean(), rtol=0.5)  # at a coarse eps bf16 is near, not equal


def test_default_batch_size_runs_at_1024_on_cuda(lpips_cuda):
    from stylegan_eval.runtime import generator_batch_size

    G = _sg2(1024, channels={r: 8 for r in (4, 8, 16, 32, 64, 128, 256, 512, 1024)})
    auto = generator_batch_size(G, CUDA, "ppl")
    d, settings = _ppl(G, lpips_cuda, 3, None)
    assert auto >= 1 and settings["batch_size"] == auto
    assert d.shape == (3,) and np.isfinite(d).all()


# ------------------------------------------------------------------------------ precision flags and timing
def test_tf32_is_turned_off_and_fp32_matmuls_are_full_precision():
    from stylegan_eval.runtime import resolve_device

    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    try:
        assert resolve_device("cuda").type == "cuda"
        assert not torch.backends.cuda.matmul.allow_tf32 and not torch.backends.cudnn.allow_tf32
        g = torch.Generator(device=CUDA).manual_seed(0)
        a = torch.randn(1024, 1024, device=CUDA, generator=g)
        b = torch.randn(1024, 1024, device=CUDA, generator=g)
        ref = a.double() @ b.double()
        err = float((a @ b - ref).abs().max() / ref.abs().max())
        assert err < 1e-5, f"fp32 matmul error {err:.1e}: TF32 (~1e-3) is on"
        x = torch.randn(2, 64, 32, 32, device=CUDA, generator=g)
        w = torch.randn(64, 64, 3, 3, device=CUDA, generator=g)
        ref = torch.nn.functional.conv2d(x.double(), w.double(), padding=1)
        err = float((torch.nn.functional.conv2d(x, w, padding=1) - ref).abs().max() / ref.abs().max())
        assert err < 1e-5, f"fp32 conv error {err:.1e}: TF32 is on in cuDNN"
    finally:
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False


def test_timer_synchronizes_cuda():
    from stylegan_eval.runtime import Timer

    timer = Timer()
    torch.cuda.synchronize()
    with timer("sleep"):
        torch.cuda._sleep(50_000_000)  # ~25 ms at 2 GHz; the launch alone returns in microseconds
    assert timer.seconds["sleep"] > 5e-3


def test_pinned_non_blocking_copy_equals_a_synchronous_copy():
    x = torch.randn(64, 2048, device=CUDA)
    pinned = torch.empty(64, 2048, pin_memory=True)
    assert pinned.is_pinned()
    pinned.copy_(x * 2, non_blocking=True)
    torch.cuda.synchronize()
    assert torch.equal(pinned, (x * 2).cpu())


# ------------------------------------------------------------------------------ processes and resume
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_one_process_nccl_group_and_collect():
    import torch.distributed as dist

    from stylegan_eval.engine import DistInfo, collect

    if not dist.is_nccl_available():
        pytest.skip("this torch build has no NCCL")
    dist.init_process_group("nccl", init_method=f"tcp://127.0.0.1:{_free_port()}", rank=0, world_size=1)
    try:
        t = torch.ones(3, device=CUDA)
        dist.all_reduce(t)
        assert torch.equal(t.cpu(), torch.ones(3))
        gathered: list = [None]
        dist.all_gather_object(gathered, {"rank": dist.get_rank()})
        assert gathered == [{"rank": 0}]
        info = DistInfo.current()
        assert (info.rank, info.world_size) == (0, 1)
        out = collect(
            lambda idx: {"z": sampling.normal(0, sampling.Z, idx, (4,), CUDA)}, 10, 3, show_progress=False, dist=info
        )
        assert torch.equal(out["z"], sampling.normal(0, sampling.Z, torch.arange(10), (4,), CUDA).cpu())
    finally:
        dist.destroy_process_group()


def test_resume_on_cuda_gives_the_same_outputs(tmp_path):
    from stylegan_eval.engine import ResumeState, collect

    G = _sg2()

    def fn(idx):
        with torch.inference_mode():
            z = sampling.normal(0, sampling.Z, idx, (G.z_dim,), CUDA)
            img = G.generate(z, noise_mode="random", noise_seed=0, indices=idx.to(CUDA))
        return {"m": img.mean(dim=(1, 2, 3))}

    full = collect(fn, 12, 4, show_progress=False)["m"]
    calls = {"n": 0}

    def interrupted(idx):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return fn(idx)

    state = ResumeState(tmp_path, "t", {"k": 1}, save_every=0.0)
    with pytest.raises(KeyboardInterrupt):
        collect(interrupted, 12, 4, show_progress=False, state=state)
    done, _ = state.load()
    assert sorted(done.tolist()) == list(range(8))
    resumed = collect(fn, 12, 4, show_progress=False, state=state)["m"]
    assert torch.equal(resumed, full)
