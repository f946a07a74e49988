"""Tiny rosinality StyleGAN1 networks and checkpoints in rosinality's on-disk layouts (shared by
the StyleGAN1, convert and hostile-input tests)."""

from __future__ import annotations

from pathlib import Path

import torch

from stylegan_eval.networks.stylegan1 import StyledGenerator

# Narrow copy of the published table (same 9 blocks, same key names; block 0 needs in == out).
TINY = (8, 8, 8, 6, 6, 4, 4, 4, 4)
CODE_DIM = 16
N_MLP = 3


def make_net(
    trained_up_to: int | None = 8, seed: int = 0, channels=TINY, code_dim: int = CODE_DIM, n_mlp: int = N_MLP
) -> StyledGenerator:
    """A StyledGenerator whose blocks 0..trained_up_to have 'trained' (non-initial, random) values.

    Blocks above keep rosinality's initial noise strengths (0) and AdaIN biases ([1]*C + [0]*C);
    every other weight is random (as at rosinality's init). Biases are made non-zero so that tests
    are sensitive to them; ToRGB weights are scaled down to keep images roughly in [-2, 2].
    """
    g = torch.Generator().manual_seed(seed)
    net = StyledGenerator(code_dim, n_mlp, channels=channels)
    top = -1 if trained_up_to is None else trained_up_to
    with torch.no_grad():
        for name, p in net.named_parameters():
            block = int(name.split(".")[2]) if name.startswith("generator.progression.") else -1
            if block > top and (".noise" in name or ".adain" in name and name.endswith("bias")):
                continue  # untrained: keep the initial value
            if ".noise" in name:
                p.copy_(0.2 + 0.3 * torch.rand(p.shape, generator=g))
            elif ".adain" in name and name.endswith("bias"):
                c = p.shape[0] // 2
                p.copy_(torch.cat([torch.ones(c), torch.zeros(c)]) + 0.2 * torch.randn(p.shape, generator=g))
            elif name.endswith("bias"):
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
            elif name.startswith("generator.to_rgb"):
                p.copy_(0.3 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(torch.randn(p.shape, generator=g))
    return net.eval().requires_grad_(False)


def save_checkpoint(
    path: Path,
    layout: str = "full",
    trained_up_to: int | None = 8,
    seed: int = 0,
    module_prefix: bool = False,
    legacy: bool = False,
) -> tuple[Path, dict]:
    """Write a tiny checkpoint in one of rosinality's on-disk layouts; returns (path, evaluated state dict).

    layout: 'full' (train.py phase snapshot with g_running), 'generator_only' (dict without
    g_running), 'bare' (a g_running state dict, as train.py's periodic saves).
    """
    running = make_net(trained_up_to, seed)
    sd = running.state_dict()
    prefix = "module." if module_prefix else ""
    pre = lambda d: {prefix + k: v for k, v in d.items()}  # noqa: E731
    if layout == "bare":
        obj = pre(sd)
    else:
        other = make_net(trained_up_to, seed + 100)  # the non-EMA generator differs
        opt = torch.optim.Adam(list(other.parameters())[:3], lr=1e-3)
        obj = {
            "generator": pre(other.state_dict()),
            "discriminator": {"linear.linear.weight_orig": torch.randn(1, 4), "linear.linear.bias": torch.zeros(1)},
            "g_optimizer": opt.state_dict(),
            "d_optimizer": opt.state_dict(),
        }
        if layout == "full":
            obj["g_running"] = pre(sd)
        else:
            sd = other.state_dict()
    torch.save(obj, path, _use_new_zipfile_serialization=not legacy)
    return path, sd
