"""The StyleGAN2 FIR filter runs as one depthwise conv (the fast CPU path); these tests hold it to
the plain formulation it replaced (one single-channel conv over the N * C maps) on a small
random-init generator: images to float32 rounding and PPL distances within 1e-5 relative at eps 1e-2.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from sg2_utils import make_sg2_net

from stylegan_eval.metrics.distances import make_distance
from stylegan_eval.metrics.ppl import make_batch_fn, resolve_settings
from stylegan_eval.networks import ops
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
