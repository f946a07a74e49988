"""Figures of a generator for given seeds: NVIDIA's seed latents, seed images and style-mixing grids.

``generate``, ``mix``, ``demo`` and every report's sample figures (:mod:`stylegan_eval.plots`)
render through these functions, so that the same seeds give the same images everywhere.

Seeds follow NVIDIA's ``gen_images.py`` / ``style_mixing.py`` (StyleGAN2-ADA / StyleGAN3): image
k has ``z = np.random.RandomState(seeds[k]).randn(1, z_dim)`` and the one-hot label of
``class_idx``; sample indices instead take the latents of the sampling engine under a seed (the
latents every metric uses for those indices). Images are float32 NCHW in [-1, 1].
"""

from __future__ import annotations

import numpy as np
import torch

from . import generator as gen_api
from .errors import UserError


def seed_latents(seeds: list[int], z_dim: int) -> torch.Tensor:
    """z [N, z_dim] float32 as ``gen_images.py`` draws it: row k is ``np.random.RandomState(seeds[k]).randn(1, z_dim)``.

    NVIDIA's mapping network casts the float64 draw to float32 first, as done here.
    """
    for s in seeds:
        if not 0 <= s < 2**32:
            raise UserError(f"--seeds: {s} is out of range (NumPy seeds are 0 to 2**32 - 1)")
    return torch.from_numpy(np.concatenate([np.random.RandomState(s).randn(1, z_dim) for s in seeds])).float()


def class_label(G, class_idx: int | None, n: int) -> torch.Tensor | None:
    """One-hot labels [n, c_dim] of ``class_idx`` (None for unconditional generators), as gen_images.py."""
    if G.c_dim == 0:
        return None
    if class_idx is None:
        raise UserError(f"this generator is conditional ({G.c_dim} classes): pass a class label with --class")
    if class_idx >= G.c_dim:
        raise UserError(f"--class {class_idx}: this generator has {G.c_dim} classes (0-{G.c_dim - 1})")
    c = torch.zeros(n, G.c_dim, device=G.device)
    c[:, class_idx] = 1
    return c


def input_transform(translate: tuple[float, float], rotate: float) -> torch.Tensor:
    """[3, 3] matrix StyleGAN3 keeps in ``synthesis.input.transform``: the inverse of
    gen_images.py's ``make_transform(translate, rotate)`` (rotation in degrees)."""
    a = rotate / 360.0 * 2 * np.pi
    s, c = np.sin(a), np.cos(a)
    m = np.array([[c, s, translate[0]], [-s, c, translate[1]], [0.0, 0.0, 1.0]])
    return torch.from_numpy(np.linalg.inv(m)).float()


@torch.inference_mode()
def render_seeds(
    G,
    seeds: list[int],
    psi: float = 1.0,
    noise_mode: str = "const",
    class_idx: int | None = None,
    batch_size: int = 16,
    *,
    translate: tuple[float, float] = (0.0, 0.0),
    rotate: float = 0.0,
    noise_seed: int = 0,
) -> torch.Tensor:
    """Images [N, C, H, W] in [-1, 1] for NVIDIA seeds (see the module docstring), batched.

    ``noise_seed`` only matters for ``noise_mode='random'`` (noise drawn per seed value).
    """
    transform = None
    if translate != (0.0, 0.0) or rotate != 0.0:
        if not getattr(G, "supports_input_transform", False):
            raise UserError(f"--translate/--rotate: {G.family} has no input transform (StyleGAN3 only)")
        transform = input_transform(translate, rotate)
    z_all = seed_latents(seeds, G.z_dim)
    out = []
    for start in range(0, len(seeds), batch_size):
        z = z_all[start : start + batch_size].to(G.device)
        idx = torch.tensor(seeds[start : start + batch_size], dtype=torch.int64)
        c = class_label(G, class_idx, len(z))
        if transform is None:
            out.append(G.generate(z, c, psi=psi, noise_mode=noise_mode, noise_seed=noise_seed, indices=idx))
        else:
            ws = G.truncate(G.mapping(z, c), psi)
            noise = G.make_noise(len(z), noise_mode, noise_seed, idx, G.device)
            out.append(G.synthesis_transformed(ws, transform, noise=noise))
    return torch.cat(out)


@torch.inference_mode()
def render_indices(G, seeds, psi, noise_mode, seed, class_idx, batch_size) -> torch.Tensor:
    """Images [N, C, H, W] in [-1, 1] for the given sample indices of the sampling engine (``--indices``)."""
    out = []
    for idx in torch.tensor(seeds, dtype=torch.int64).split(batch_size):
        z = gen_api.latents(G, seed, idx)
        c = gen_api.labels(G, seed, idx, class_idx)
        out.append(G.generate(z, c, psi=psi, noise_mode=noise_mode, noise_seed=seed, indices=idx))
    return torch.cat(out)


@torch.inference_mode()
def mixing_grid(G, rows, cols, layers, psi, noise_mode, seed, class_idx, *, nvidia_seeds: bool = False) -> torch.Tensor:
    """Images [(R+1)*(C+1), C, H, W] in [-1, 1], row-major; the top-left cell is blank (-1).

    ``rows``/``cols`` are sample indices of the sampling engine under ``seed``, or with
    ``nvidia_seeds`` NumPy seeds as ``generate --seeds`` (one-hot ``class_idx`` labels then).
    """
    seeds = torch.tensor(rows + cols, dtype=torch.int64)
    if nvidia_seeds:
        z = seed_latents(rows + cols, G.z_dim).to(G.device)
        c = class_label(G, class_idx, len(z))
    else:
        z = gen_api.latents(G, seed, seeds)
        c = gen_api.labels(G, seed, seeds, class_idx)
    ws = G.truncate(G.mapping(z, c), psi)
    target_ws, source_ws = ws[: len(rows)], ws[len(rows) :]
    mixed = target_ws[:, None].repeat(1, len(cols), 1, 1)  # [R, C, num_ws, w_dim]
    mixed[:, :, layers] = source_ws[None, :, layers]
    all_ws = torch.cat([ws, mixed.flatten(0, 1)])
    # Every cell of target r keeps target r's noise, so only the styles differ along a row.
    noise_idx = torch.cat([seeds, seeds[: len(rows)].repeat_interleave(len(cols))])
    images = G.synthesis(all_ws, noise_mode=noise_mode, noise_seed=seed, indices=noise_idx)
    n_r, n_c = len(rows), len(cols)
    blank = torch.full_like(images[:1], -1.0)
    top = torch.cat([blank, images[n_r : n_r + n_c]])
    body = [torch.cat([images[r : r + 1], images[n_r + n_c + r * n_c : n_r + n_c + (r + 1) * n_c]]) for r in range(n_r)]
    return torch.cat([top, *body])


def ranges(values: list[int]) -> str:
    """[0, 1, 2, 5] -> '0-2,5'."""
    parts, start = [], None
    for i, v in enumerate(values):
        if start is None:
            start = v
        if i + 1 == len(values) or values[i + 1] != v + 1:
            parts.append(str(start) if start == v else f"{start}-{v}")
            start = None
    return ",".join(parts)
