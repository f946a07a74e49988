"""The fast CPU paths kept from ``benchmarks/candidates.py``, held to the plain formulations they
replaced, on networks at random initialisation:

- the StyleGAN2 FIR filter as one depthwise conv (against one single-channel conv over the N * C
  maps): images to float32 rounding, PPL distances within 1e-5 relative at eps 1e-2;
- the pytorch-fid Inception and the CelebA-HQ classifier in channels_last on a CPU (against
  NCHW): FID statistics within 1e-6, classifier probabilities within 1e-6.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sg2_utils import make_sg2_net

from stylegan_eval.classifiers.celebahq import random_classifier
from stylegan_eval.metrics.distances import make_distance
from stylegan_eval.metrics.fid_inception_net import FIDInceptionV3
from stylegan_eval.metrics.ppl import make_batch_fn, resolve_settings
from stylegan_eval.networks import ops
from stylegan_eval.networks.memory_format import channels_last_on_cpu, input_for
from stylegan_eval.networks.stylegan2 import StyleGAN2Generator


def per_map_upfirdn2d(x, kernel, up=1, down=1, pad=(0, 0)):
    """Every [H, W] map filtered on its own: zero insertion, pad/crop, one 1-channel conv, decimation."""
    up_x, up_y = ops._pair(up)
    down_x, down_y = ops._pair(down)
    px0, px1, py0, py1 = (pad[0], pad[1], pad[0], pad[1]) if len(pad) == 2 else pad
    n, c, h, w = x.shape
    out = x.reshape(n * c, 1, h, 1, w, 1)
    out = F.pad(out, [0, up_x - 1, 0, 0, 0, up_y - 1]).reshape(n * c, 1, h * up_y, w * up_x)
    out = F.pad(out, [max(px0, 0), max(px1, 0), max(py0, 0), max(py1, 0)])
    out = out[:, :, max(-py0, 0) : out.shape[2] - max(-py1, 0), max(-px0, 0) : out.shape[3] - max(-px1, 0)]
    out = F.conv2d(out, torch.flip(kernel, [0, 1]).to(out.dtype)[None, None])[:, :, ::down_y, ::down_x]
    return out.reshape(n, c, out.shape[2], out.shape[3])


def _generator():
    return StyleGAN2Generator(make_sg2_net(32, seed=3), "stylegan2").eval()


def _with_per_map_filter(monkeypatch, fn):
    with monkeypatch.context() as m:
        m.setattr(ops, "upfirdn2d", per_map_upfirdn2d)
        return fn()


def test_depthwise_fir_images_match_per_map_filter(monkeypatch):
    G = _generator()
    z = torch.randn(6, G.z_dim, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        got = G.generate(z, noise_mode="const")
        want = _with_per_map_filter(monkeypatch, lambda: G.generate(z, noise_mode="const"))
    assert got.shape == (6, 3, 32, 32)
    assert got.std() > 0.05  # a non-trivial image, so the comparison can fail
    torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-6)


def test_depthwise_fir_keeps_ppl_distances(monkeypatch):
    G = _generator()
    settings = resolve_settings(None, epsilon=1e-2, num_samples=8)
    fn = make_batch_fn(G, make_distance("l2"), settings, seed=0)
    idx = torch.arange(8)
    with torch.inference_mode():
        got = fn(idx)["distance"].double()
        want = _with_per_map_filter(monkeypatch, lambda: fn(idx)["distance"].double())
    assert (want > 0).all()
    assert float(((got - want).abs() / want).max()) <= 1e-5


def _nchw_and_channels_last(net):
    """(net, a channels_last copy as the package runs it on a CPU)."""
    fast = channels_last_on_cpu(copy.deepcopy(net), "cpu")
    assert next(p for p in fast.parameters() if p.ndim == 4).is_contiguous(memory_format=torch.channels_last)
    return net, fast


@pytest.mark.slow  # a random-init Inception-v3 (24M parameters); the classifier test covers the path by default
def test_inception_channels_last_keeps_fid_statistics():
    net, fast = _nchw_and_channels_last(FIDInceptionV3().randomize(0).eval())
    x = F.interpolate(torch.rand(3, 3, 8, 8, generator=torch.Generator().manual_seed(4)), size=(96, 96)) * 2 - 1
    with torch.inference_mode():
        want = net(x).double().numpy()
        got = fast(input_for(fast, x)).double().numpy()
    assert got.shape == (3, 2048) and np.abs(want).max() > 1e-3
    assert np.abs(got.mean(0) - want.mean(0)).max() <= 1e-6
    assert np.abs(np.cov(got, rowvar=False) - np.cov(want, rowvar=False)).max() <= 1e-6


def test_celebahq_classifier_channels_last_keeps_probabilities():
    net, fast = _nchw_and_channels_last(random_classifier(seed=1, resolution=32, fmap_base=1024, fmap_max=64).eval())
    x = torch.rand(8, 3, 32, 32, generator=torch.Generator().manual_seed(5)) * 2 - 1
    with torch.inference_mode():
        want = torch.sigmoid(2 * net(x).double())
        got = torch.sigmoid(2 * fast(input_for(fast, x)).double())
    assert want.std() > 1e-3  # distinct probabilities, so the comparison can fail
    torch.testing.assert_close(got, want, rtol=0, atol=1e-6)
