"""Tiny random rosinality StyleGAN2 checkpoints for tests (shared by several test modules).

Usage::

    from sg2_utils import make_rosinality_checkpoint, make_sg2_net
    path = make_rosinality_checkpoint(tmp_path / "g.pt")               # {'g_ema', 'latent_avg'}
    path = make_rosinality_checkpoint(tmp_path / "t.pt", with_args=True)  # training layout

Nets have narrow channels (default {4: 16, 8: 16, 16: 8, 32: 8, 64: 8}) and every parameter,
including the noise strengths and biases that rosinality initialises to zero, set to non-zero
random values, so that tests are sensitive to every part of the network; ToRGB weights are
scaled down so that images stay roughly within [-2, 2]. Generation is seeded and deterministic.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from stylegan_eval.networks.stylegan2 import StyleGAN2

TINY_CHANNELS = {4: 16, 8: 16, 16: 8, 32: 8, 64: 8, 128: 8, 256: 8}


def make_sg2_net(
    size: int = 16, style_dim: int = 32, n_mlp: int = 2, channels: dict[int, int] | None = None, seed: int = 0, **kwargs
) -> StyleGAN2:
    """A randomly initialised :class:`StyleGAN2` in eval mode (kwargs go to the constructor)."""
    if channels is None and "channel_multiplier" not in kwargs:
        channels = {r: c for r, c in TINY_CHANNELS.items() if r <= size}
    g = torch.Generator().manual_seed(seed)
    net = StyleGAN2(size, style_dim, n_mlp, channels=channels, **kwargs)
    with torch.no_grad():
        for name, p in net.named_parameters():
            if name.endswith("noise.weight"):
                p.copy_(0.1 + 0.2 * torch.rand(p.shape, generator=g))
            elif name.endswith("modulation.bias"):
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g))
            elif name.endswith("bias"):
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
            elif name.startswith("to_rgb") and name.endswith("conv.weight"):
                p.copy_(0.1 * torch.randn(p.shape, generator=g))  # keeps images roughly in [-2, 2]
            elif name.startswith("style.") or name.startswith("embed."):
                lr = net.lr_mlp if name.startswith("style.") else 1.0
                p.copy_(torch.randn(p.shape, generator=g) / lr)
            else:
                p.copy_(torch.randn(p.shape, generator=g))
        for name, b in net.named_buffers():
            if name.startswith("noises."):
                b.copy_(torch.randn(b.shape, generator=g))
    return net.eval().requires_grad_(False)


def make_rosinality_checkpoint(
    path,
    size: int = 16,
    style_dim: int = 32,
    n_mlp: int = 2,
    channels: dict[int, int] | None = None,
    with_args: bool = False,
    layout: str | None = None,
    seed: int = 0,
    module_prefix: bool = False,
    **kwargs,
) -> Path:
    """Write a tiny rosinality-style checkpoint and return its path.

    layout: 'g_ema' -> {'g_ema': sd, 'latent_avg': [style_dim]} (what convert_weight.py writes);
            'train' -> train.py's {'g', 'd', 'g_ema', 'g_optim', 'd_optim', 'args' (Namespace),
            'ada_aug_p'} (no latent_avg); 'bare' -> the state dict itself.
            Default: 'train' if ``with_args`` else 'g_ema'.
    module_prefix: prefix every key with 'module.' (DataParallel-saved weights).
    The stored latent_avg is a seeded random vector (not the mapping mean), so tests can tell
    it apart from an estimate.
    """
    layout = layout or ("train" if with_args else "g_ema")
    net = make_sg2_net(size, style_dim, n_mlp, channels, seed, **kwargs)
    sd = {("module." if module_prefix else "") + k: v.clone() for k, v in net.state_dict().items()}
    g = torch.Generator().manual_seed(seed + 1)
    latent_avg = torch.randn(style_dim, generator=g)
    if layout == "g_ema":
        obj = {"g_ema": sd, "latent_avg": latent_avg}
    elif layout == "train":
        disc = {"convs.0.0.weight": torch.randn(4, 3, 1, 1, generator=g), "final_linear.1.bias": torch.zeros(1)}
        params = [torch.nn.Parameter(v.clone()) for v in list(sd.values())[:2]]
        optim = torch.optim.Adam(params, lr=0.002, betas=(0.0, 0.99)).state_dict()
        args = argparse.Namespace(
            size=size,
            latent=style_dim,
            n_mlp=n_mlp,
            channel_multiplier=2,
            batch=4,
            iter=800000,
            r1=10.0,
            arch="stylegan2",
            path="lmdb",
        )
        obj = {
            "g": {k: v.clone() for k, v in sd.items()},
            "d": disc,
            "g_ema": sd,
            "g_optim": optim,
            "d_optim": optim,
            "args": args,
            "ada_aug_p": 0.0,
        }
    elif layout == "bare":
        obj = sd
    else:
        raise ValueError(f"unknown layout {layout!r}")
    path = Path(path)
    torch.save(obj, path)
    return path


def expected_latent_avg(style_dim: int = 32, seed: int = 0) -> torch.Tensor:
    """The latent_avg that :func:`make_rosinality_checkpoint` stores for these arguments."""
    return torch.randn(style_dim, generator=torch.Generator().manual_seed(seed + 1))
