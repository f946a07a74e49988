"""The one generator interface that every checkpoint family adapts to and every metric uses.

Conventions
-----------
- ``z``: float32 [N, z_dim], drawn from N(0, I).
- ``c``: float32 [N, c_dim] one-hot class labels, or None for unconditional generators.
- ``ws``: float32 [N, num_ws, w_dim], one w per synthesis layer (the mapping output broadcast,
  or per-layer styles for style mixing).
- images: float32 NCHW in [-1, 1] (nominal; generators may overshoot slightly),
  ``img_channels`` channels, ``resolution`` x ``resolution`` pixels.
- noise: a list with one tensor [N, 1, H, W] per noise input of the network, in the order of
  :attr:`Generator.noise_shapes`.

Subclasses implement :meth:`_map` and :meth:`_synthesize` and set the dimension attributes;
the base class provides truncation, ``w_avg``, deterministic noise and the ``generate``
convenience used by the metrics.
"""

from __future__ import annotations

import abc
from typing import Any, Literal, Sequence

import torch
from torch import nn

from . import sampling
from .errors import UserError

NoiseMode = Literal["random", "const", "none"]
NOISE_MODES = ("random", "const", "none")

#: Number of z samples used to estimate w_avg when the checkpoint stores none.
W_AVG_SAMPLES = 20_000
W_AVG_SEED = 0


class Generator(nn.Module, abc.ABC):
    """Abstract StyleGAN-like generator.

    Attributes:
        family: short name of the checkpoint family ("stylegan1-rosinality", ...).
        z_dim: dimensionality of z.
        w_dim: dimensionality of w.
        num_ws: number of per-layer w vectors that synthesis consumes.
        resolution: output side length in pixels.
        img_channels: output channels (3 for RGB).
        c_dim: number of classes for conditional generators, 0 otherwise.
        supports_w: False for black-box generators that only map z to images.
    """

    family: str = "unknown"
    z_dim: int
    w_dim: int
    num_ws: int
    resolution: int
    img_channels: int = 3
    c_dim: int = 0
    supports_w: bool = True
    #: True for generators whose synthesis input has a user transform (StyleGAN3's
    #: ``G.synthesis.input.transform``); the equivariance metrics need it.
    supports_input_transform: bool = False
    #: True when every random input of synthesis is the ``noise`` argument (the project's own
    #: networks): PPL then needs no check that the two images of a pair share their noise.
    noise_is_explicit: bool = False
    #: The family's truncation rule: layers [0, cutoff) are truncated when a caller of
    #: :meth:`truncate` gives no cutoff (NVIDIA's TF StyleGAN1 ``G_style``: 8); None = all layers.
    truncation_cutoff: int | None = None

    def __init__(self) -> None:
        super().__init__()
        self._w_avg_cache: torch.Tensor | None = None

    # ------------------------------------------------------------------ to implement
    @abc.abstractmethod
    def _map(self, z: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
        """z [N, z_dim] (and c) -> untruncated ws [N, num_ws, w_dim]."""

    @abc.abstractmethod
    def _synthesize(self, ws: torch.Tensor, noise: list[torch.Tensor]) -> torch.Tensor:
        """ws [N, num_ws, w_dim] and explicit noise maps -> images [N, C, H, W] in [-1, 1]."""

    @property
    @abc.abstractmethod
    def noise_shapes(self) -> list[tuple[int, int]]:
        """(H, W) of every noise input, in the order :meth:`_synthesize` consumes them."""

    def stored_w_avg(self) -> torch.Tensor | None:
        """The truncation centre stored in the checkpoint, [w_dim], or None."""
        return None

    def stored_const_noise(self) -> list[torch.Tensor] | None:
        """Noise maps stored in the checkpoint ([1, 1, H, W] each) for noise_mode='const'."""
        return None

    def extra_info(self) -> dict[str, Any]:
        """Family-specific facts for ``stylegan-eval info``."""
        return {}

    def config(self) -> dict[str, Any]:
        """JSON-able description from which the family's loader rebuilds this network.

        ``{"family": ..., **constructor arguments and extras (w_avg stored?, truncation rule)}``;
        ``stylegan-eval convert`` writes it beside the state dict. Families that cannot be
        rebuilt from weights alone (custom modules) raise UserError.
        """
        raise UserError(f"{self.family}: this generator cannot be described as a code-free config")

    def _synthesize_transformed(
        self, ws: torch.Tensor, noise: list[torch.Tensor], transform: torch.Tensor
    ) -> torch.Tensor:
        """Like :meth:`_synthesize` with the input layer's user transform [N, 3, 3] (see :meth:`synthesis_transformed`)."""
        raise UserError(f"{self.family}: this generator has no input transform (equivariance metrics need StyleGAN3)")

    # ------------------------------------------------------------------ public API
    @property
    def device(self) -> torch.device:
        for t in self.parameters():
            return t.device
        for t in self.buffers():
            return t.device
        return torch.device("cpu")

    def _check_c(self, c: torch.Tensor | None, n: int) -> torch.Tensor | None:
        if self.c_dim == 0:
            return None
        if c is None:
            raise UserError(f"this generator is conditional ({self.c_dim} classes): pass a class label (--class)")
        if c.shape != (n, self.c_dim):
            raise ValueError(f"c must have shape [{n}, {self.c_dim}], got {tuple(c.shape)}")
        return c

    def mapping(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        """Map z [N, z_dim] to untruncated ws [N, num_ws, w_dim]."""
        if not self.supports_w:
            raise UserError(
                f"{self.family}: this generator exposes no mapping network (black-box mode), so W space is unavailable"
            )
        if z.ndim != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"z must have shape [N, {self.z_dim}], got {tuple(z.shape)}")
        return self._map(z, self._check_c(c, z.shape[0]))

    def make_noise(
        self,
        n: int,
        noise_mode: NoiseMode = "random",
        noise_seed: int | None = None,
        indices: torch.Tensor | None = None,
        device: torch.device | str | None = None,
    ) -> list[torch.Tensor]:
        """Noise maps for a batch of ``n`` samples.

        - 'random' with ``noise_seed``: noise of row k is a function of (noise_seed, indices[k]).
        - 'random' without a seed: torch's global generator.
        - 'const': the checkpoint's stored noise, else one fixed map shared by all samples.
        - 'none': zeros.
        """
        if noise_mode not in NOISE_MODES:
            raise UserError(f"noise mode must be one of {NOISE_MODES}, got {noise_mode!r}")
        device = device or self.device
        shapes = self.noise_shapes
        if noise_mode == "none":
            return [torch.zeros(n, 1, h, w, device=device) for h, w in shapes]
        if noise_mode == "const":
            stored = self.stored_const_noise()
            if stored is None:
                zero = torch.zeros(1, dtype=torch.int64)
                stored = [
                    sampling.normal(sampling.CONST_NOISE_SEED, sampling.NOISE + k, zero, (1, h, w), device)
                    for k, (h, w) in enumerate(shapes)
                ]
            return [s.to(device).expand(n, 1, *s.shape[-2:]) for s in stored]
        if noise_seed is None:
            return [torch.randn(n, 1, h, w, device=device) for h, w in shapes]
        if indices is None:
            indices = torch.arange(n, dtype=torch.int64)
        if indices.shape != (n,):
            raise ValueError(f"indices must have shape [{n}], got {tuple(indices.shape)}")
        return [
            sampling.normal(noise_seed, sampling.NOISE + k, indices, (1, h, w), device)
            for k, (h, w) in enumerate(shapes)
        ]

    def synthesis(
        self,
        ws: torch.Tensor,
        noise_mode: NoiseMode = "random",
        noise_seed: int | None = None,
        indices: torch.Tensor | None = None,
        noise: Sequence[torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """Render ws [N, num_ws, w_dim] to images [N, C, H, W] in [-1, 1].

        ``noise`` (explicit maps) takes precedence over ``noise_mode``/``noise_seed``.
        """
        if not self.supports_w:
            raise UserError(f"{self.family}: black-box generator has no synthesis network; W space is unavailable")
        if ws.ndim != 3 or ws.shape[1:] != (self.num_ws, self.w_dim):
            raise ValueError(f"ws must have shape [N, {self.num_ws}, {self.w_dim}], got {tuple(ws.shape)}")
        if noise is None:
            noise = self.make_noise(ws.shape[0], noise_mode, noise_seed, indices, ws.device)
        return self._synthesize(ws, list(noise))

    def synthesis_transformed(
        self,
        ws: torch.Tensor,
        transform: torch.Tensor,
        noise_mode: NoiseMode = "const",
        noise: Sequence[torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """Render ws with the synthesis input's user transform, as StyleGAN3's equivariance metrics do.

        Args:
            ws: [N, num_ws, w_dim].
            transform: [N, 3, 3] or [3, 3] float32, the matrix NVIDIA stores in
                ``G.synthesis.input.transform`` (identity = the untransformed image); it maps
                output coordinates to input-feature coordinates, in the input layer's units.
            noise_mode, noise: as :meth:`synthesis` (default 'const', as the metrics use).

        Returns:
            images [N, C, H, W] in [-1, 1].
        """
        if not self.supports_input_transform:
            raise UserError(
                f"{self.family}: this generator has no input transform (equivariance metrics need StyleGAN3)"
            )
        if ws.ndim != 3 or ws.shape[1:] != (self.num_ws, self.w_dim):
            raise ValueError(f"ws must have shape [N, {self.num_ws}, {self.w_dim}], got {tuple(ws.shape)}")
        if transform.shape == (3, 3):
            transform = transform.expand(ws.shape[0], 3, 3)
        if transform.shape != (ws.shape[0], 3, 3):
            raise ValueError(f"transform must have shape [3, 3] or [{ws.shape[0]}, 3, 3], got {tuple(transform.shape)}")
        if noise is None:
            noise = self.make_noise(ws.shape[0], noise_mode, device=ws.device)
        return self._synthesize_transformed(ws, list(noise), transform.to(ws.device, torch.float32))

    @property
    def w_avg(self) -> torch.Tensor:
        """The truncation centre [w_dim]: stored in the checkpoint, else estimated.

        The estimate is the mean of mapping(z) over :data:`W_AVG_SAMPLES` latents drawn by the
        sampling engine with seed :data:`W_AVG_SEED`, so it is the same on every run.
        """
        stored = self.stored_w_avg()
        if stored is not None:
            return stored
        if self._w_avg_cache is None:
            self._w_avg_cache = self.estimate_w_avg()
        return self._w_avg_cache

    @torch.inference_mode()
    def estimate_w_avg(self, num_samples: int = W_AVG_SAMPLES, batch_size: int = 10_000) -> torch.Tensor:
        total = torch.zeros(self.w_dim, dtype=torch.float64, device=self.device)
        for idx in sampling.batch_indices(num_samples, batch_size):
            z = sampling.normal(W_AVG_SEED, sampling.W_AVG, idx, (self.z_dim,), self.device)
            c = None
            if self.c_dim:
                labels = sampling.randint(W_AVG_SEED, sampling.LABEL, idx, self.c_dim, self.device)
                c = torch.nn.functional.one_hot(labels, self.c_dim).float()
            total += self._map(z, c)[:, 0].double().sum(0)
        return (total / num_samples).float()

    def truncation_rule(self) -> str:
        """Which layers :meth:`truncate` applies psi to by default (for ``info``)."""
        if self.truncation_cutoff is None:
            return "all layers"
        return f"layers [0, {self.truncation_cutoff}) (truncation_cutoff {self.truncation_cutoff})"

    def truncate(self, ws: torch.Tensor, psi: float = 1.0, cutoff: int | None = None) -> torch.Tensor:
        """``w_avg + psi * (w - w_avg)`` on layers [0, cutoff); cutoff None = :attr:`truncation_cutoff`
        (the family's rule; all layers when that is None too)."""
        if psi == 1.0:
            return ws
        if cutoff is None:
            cutoff = self.truncation_cutoff
        avg = self.w_avg.to(ws.device, ws.dtype)
        out = avg + psi * (ws - avg)
        if cutoff is not None:
            out = torch.cat([out[:, :cutoff], ws[:, cutoff:]], dim=1)
        return out

    def generate(
        self,
        z: torch.Tensor,
        c: torch.Tensor | None = None,
        psi: float = 1.0,
        noise_mode: NoiseMode = "random",
        noise_seed: int | None = None,
        indices: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """z -> images [N, C, H, W] in [-1, 1]: mapping, optional truncation, synthesis."""
        ws = self.truncate(self.mapping(z, c), psi)
        return self.synthesis(ws, noise_mode=noise_mode, noise_seed=noise_seed, indices=indices)

    def info(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "resolution": self.resolution,
            "z_dim": self.z_dim,
            "w_dim": self.w_dim if self.supports_w else None,
            "num_ws": self.num_ws if self.supports_w else None,
            "img_channels": self.img_channels,
            "c_dim": self.c_dim,
            "conditional": self.c_dim > 0,
            "parameters": sum(p.numel() for p in self.parameters()),
            "w_avg_stored": self.stored_w_avg() is not None,
            **self.extra_info(),
        }


def latents(generator: Generator, seed: int, indices: torch.Tensor, stream: int = sampling.Z) -> torch.Tensor:
    """z for the given global sample indices, on the generator's device."""
    return sampling.normal(seed, stream, indices, (generator.z_dim,), generator.device)


def labels(generator: Generator, seed: int, indices: torch.Tensor, class_idx: int | None = None) -> torch.Tensor | None:
    """One-hot labels [N, c_dim] for conditional generators (random per sample, or a fixed class)."""
    if generator.c_dim == 0:
        return None
    n = indices.shape[0]
    if class_idx is not None:
        if not 0 <= class_idx < generator.c_dim:
            raise UserError(f"--class must be in [0, {generator.c_dim}), got {class_idx}")
        lab = torch.full((n,), class_idx, dtype=torch.int64, device=generator.device)
    else:
        lab = sampling.randint(seed, sampling.LABEL, indices, generator.c_dim, generator.device)
    return torch.nn.functional.one_hot(lab, generator.c_dim).float()


def make_noise_maps(
    gen: Generator,
    shapes: list[tuple[int, ...]],
    dist: str,
    n: int,
    noise_mode: str,
    noise_seed: int | None,
    indices: torch.Tensor | None,
    device: Any,
) -> list[torch.Tensor]:
    """Noise maps [n, *shape] of ``dist`` ('normal' / 'uniform'); the per-sample rule of :meth:`Generator.make_noise`."""
    full = [(1, *s) if len(s) == 2 else tuple(s) for s in shapes]
    if dist == "normal" and all(len(s) == 2 for s in shapes):
        return Generator.make_noise(gen, n, noise_mode, noise_seed, indices, device)  # type: ignore[arg-type]
    device = device or gen.device
    draw = sampling.normal if dist == "normal" else sampling.uniform
    if noise_mode == "none":
        return [torch.zeros(n, *s, device=device) for s in full]
    if noise_mode == "const":
        zero = torch.zeros(1, dtype=torch.int64)
        return [
            draw(sampling.CONST_NOISE_SEED, sampling.NOISE + k, zero, s, device).expand(n, *s)
            for k, s in enumerate(full)
        ]
    if noise_mode != "random":
        Generator.make_noise(gen, n, noise_mode)  # type: ignore[arg-type]  # raises the standard message
    if noise_seed is None:
        rand = torch.randn if dist == "normal" else torch.rand
        return [rand(n, *s, device=device) for s in full]
    if indices is None:
        indices = torch.arange(n, dtype=torch.int64)
    return [draw(noise_seed, sampling.NOISE + k, indices, s, device) for k, s in enumerate(full)]
