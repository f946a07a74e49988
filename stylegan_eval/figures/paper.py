"""Figures of a generator from the StyleGAN paper: the truncation figure and the stochastic-variation figure.

Latents follow NVIDIA's ``gen_images.py``: seed s gives ``z = np.random.RandomState(s).randn(z_dim)``,
so the same seed shows the same latent in every figure and every checkpoint. Images are float
NCHW in [-1, 1] as the generator returns them; the figures show them as 8-bit RGB.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from ..errors import ArgumentError
from .style import Figure, caption, new_figure

#: The truncation figure's default rows: no truncation, the usual 0.7 and 0.5, the mean (0) and beyond.
DEFAULT_PSIS = (1.0, 0.7, 0.5, 0.0, -0.5)


def _seed_inputs(generator, seeds: Sequence[int], class_idx: int | None):
    from ..grids import class_label, seed_latents

    z = seed_latents(list(seeds), generator.z_dim).to(generator.device)
    return z, class_label(generator, class_idx, len(z))


def _hwc(images: torch.Tensor) -> np.ndarray:
    """[N, C, H, W] in [-1, 1] -> uint8 [N, H, W, 3]."""
    from ..imageops import as_uint8_nhwc

    return as_uint8_nhwc(images.detach().float().cpu())


def _tile_axes(axes, images: np.ndarray) -> None:
    for ax, img in zip(np.ravel(axes), images):
        ax.imshow(img, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        for side in ax.spines.values():
            side.set_visible(False)


@torch.inference_mode()
def truncation_figure(
    generator,
    seeds: Sequence[int] = tuple(range(6)),
    psis: Sequence[float] = DEFAULT_PSIS,
    *,
    class_idx: int | None = None,
    noise_mode: str = "const",
    name: str = "truncation",
) -> Figure:
    """The truncation trick (Karras et al. 2019, Fig. 8): one column per seed, one row per psi.

    Row psi shows ``w' = w_avg + psi (w - w_avg)`` for the same z of every column; psi = 1 is
    the untruncated sample, psi = 0 the mean image, negative psi the "opposite" face.

    Args:
        generator: a :class:`stylegan_eval.generator.Generator` with a W space.
        seeds: NumPy seeds of the columns (1-16).
        psis: truncation values of the rows (1-10), each in [-2, 2].
        class_idx: class of a conditional generator.
        noise_mode: 'const' (every row shares the noise), 'random' or 'none'.
    """
    if not getattr(generator, "supports_w", False):
        raise ArgumentError("generator", f"{generator.family}: the truncation figure needs a W space")
    if not 1 <= len(seeds) <= 16 or not 1 <= len(psis) <= 10:
        raise ArgumentError(
            "seeds", f"the truncation figure takes 1-16 seeds and 1-10 psi values, got {len(seeds)} and {len(psis)}"
        )
    z, c = _seed_inputs(generator, seeds, class_idx)
    w = generator.mapping(z, c)
    idx = torch.tensor(list(seeds), dtype=torch.int64)
    rows = [
        _hwc(generator.synthesis(generator.truncate(w, float(p)), noise_mode=noise_mode, noise_seed=0, indices=idx))
        for p in psis
    ]
    tile = 1.05
    fig, axes = new_figure(
        ncols=len(seeds), nrows=len(psis), width=0.9 + tile * len(seeds), height=0.35 + tile * len(psis)
    )
    axes = np.array(axes).reshape(len(psis), len(seeds))
    for r, (p, images) in enumerate(zip(psis, rows)):
        _tile_axes(axes[r], images)
        axes[r, 0].set_ylabel(f"ψ = {p:g}", rotation=0, ha="right", va="center", fontsize=9)
    for col, s in enumerate(seeds):
        axes[0, col].set_title(f"seed {s}", fontsize=8.5)
    fig.get_layout_engine().set(w_pad=0.01, h_pad=0.01, wspace=0.01, hspace=0.01)
    text = caption(
        "Truncation trick: each column one latent (NVIDIA seeds), each row w' = w_avg + ψ (w - w_avg); "
        "ψ = 1 is the untruncated sample, ψ = 0 the average image",
        n=f"{len(seeds)} seeds x {len(psis)} ψ values",
        seed=None,
        extra=[f"Noise '{noise_mode}'" + (" (shared by every row)" if noise_mode == "const" else "")],
    )
    return Figure(name, text, fig=fig)


@torch.inference_mode()
def variation_images(
    generator, seed: int, draws: int, *, class_idx: int | None = None, psi: float = 1.0, noise_seed: int = 0
) -> torch.Tensor:
    """Images [draws, C, H, W] in [-1, 1]: one w (NumPy seed ``seed``), ``draws`` different noise draws.

    Draw k is the noise of sample k under ``noise_seed`` in the sampling engine, so the figure is reproducible.
    """
    if not getattr(generator, "supports_w", False):
        raise ArgumentError("generator", f"{generator.family}: the stochastic-variation figure needs a W space")
    if not getattr(generator, "noise_shapes", None):
        raise ArgumentError("generator", f"{generator.family}: this generator has no noise inputs to vary")
    if not 2 <= draws <= 64:
        raise ArgumentError("draws", f"draws must be 2-64, got {draws}")
    z, c = _seed_inputs(generator, [seed], class_idx)
    ws = generator.truncate(generator.mapping(z, c), psi).repeat(draws, 1, 1)
    return generator.synthesis(
        ws, noise_mode="random", noise_seed=noise_seed, indices=torch.arange(draws, dtype=torch.int64)
    )


def variation_figure(
    generator,
    seed: int = 0,
    draws: int = 16,
    *,
    shown: int = 5,
    class_idx: int | None = None,
    psi: float = 1.0,
    noise_seed: int = 0,
    name: str = "stochastic_variation",
) -> Figure:
    """Stochastic variation (Karras et al. 2019, Fig. 4): ``shown`` of ``draws`` noise draws for one w,
    then the per-pixel standard deviation over all draws (8-bit levels, averaged over colour channels)."""
    images = variation_images(generator, seed, draws, class_idx=class_idx, psi=psi, noise_seed=noise_seed)
    levels = (images.float().cpu().clamp(-1, 1) + 1) * 127.5  # the 0-255 scale of the 8-bit image
    std = levels.std(dim=0, unbiased=True).mean(dim=0).numpy()
    shown = min(shown, draws)
    fig, axes = new_figure(ncols=shown + 1, width=0.9 + 1.25 * (shown + 1), height=1.9)
    _tile_axes(axes[:shown], _hwc(images[:shown]))
    for k, ax in enumerate(axes[:shown]):
        ax.set_title(f"noise draw {k}", fontsize=8)
    im = axes[shown].imshow(std, cmap="magma", interpolation="nearest", vmin=0)
    axes[shown].set_xticks([])
    axes[shown].set_yticks([])
    axes[shown].set_title(f"std over {draws} draws", fontsize=8)
    bar = fig.colorbar(im, ax=axes[shown], fraction=0.046, pad=0.04)
    bar.set_label("std [8-bit levels]", fontsize=7.5)
    bar.ax.tick_params(labelsize=7)
    text = caption(
        f"Stochastic variation: one latent (NVIDIA seed {seed}, ψ = {psi:g}) rendered with different noise inputs; "
        "right: standard deviation of each pixel over the draws (bright: detail the noise controls)",
        n=f"{draws} noise draws ({shown} shown)",
        seed=noise_seed,
        extra=["Noise draw k is sample k of the sampling engine's noise stream under that seed"],
    )
    return Figure(name, text, fig=fig)
