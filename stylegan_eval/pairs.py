"""The two images of a PPL pair share their noise, whatever the generator does with noise.

PPL measures how much the image changes when the latent moves by epsilon; a change of the noise
between the two images of a pair adds a large, meaningless distance (tens of thousands instead
of single digits). :class:`PairRenderer` renders pairs so that both halves see the same noise:

- ``explicit``: the generator takes explicit noise maps (``noise_shapes`` non-empty). The maps of
  pair i come from the sampling engine as a function of (seed, i) and are passed to both images
  in one batched call, as before.
- ``forked``: the generator draws its own noise (a module-managed adapter, a black box, a lazy
  package). Each half is rendered in its own call under the same forked torch RNG state (CPU and
  CUDA, :func:`torch.random.fork_rng`) seeded from (seed, first index, batch size), so whatever
  the module draws from torch's global generators (per call, per sample, per layer) is the same
  for both halves and for every rerun with the same batches; the caller's RNG state is untouched.

On the first batch the renderer checks that rendering the same input twice under the same RNG
state gives the same images; a generator whose noise does not come from torch's global RNG (its
own ``torch.Generator``, numpy, Python's ``random``, a counter) fails the check and PPL is
refused with one line naming the fix. An explicit-noise generator whose output still depends on
the RNG state (it draws extra noise besides the maps it is given) is switched to ``forked``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from . import sampling
from .errors import UserError
from .generator import Generator

#: Sampling-engine stream of the per-batch RNG seeds of the forked mode.
PAIR_RNG = 7
#: Tolerance of the first-batch reproducibility check, relative to the image scale (kernels, e.g.
#: cuDNN autotuning, may round differently between calls); looser for half-precision outputs.
CHECK_TOLERANCE = 1e-5
CHECK_TOLERANCE_HALF = 2e-2

FIX = (
    "give the adapter noise_shapes and a synthesis(ws, noise=...) that uses the maps it is given, or "
    "draw noise only from torch's global RNG (torch.randn without a generator=)"
)


@contextlib.contextmanager
def seeded_rng(seed: int, device: torch.device) -> Iterator[None]:
    """Run the block under a forked torch RNG (CPU and, on CUDA, ``device``) seeded with ``seed``."""
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices, enabled=True):
        torch.manual_seed(seed)
        yield


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    if a.shape != b.shape:
        return False
    # Non-finite values are the run's own check to report (with counts and indices), not a noise mismatch.
    finite = a.detach()[torch.isfinite(a.detach())]
    scale = float(finite.abs().max()) if finite.numel() else 0.0
    half = a.dtype in (torch.float16, torch.bfloat16) or b.dtype in (torch.float16, torch.bfloat16)
    tol = CHECK_TOLERANCE_HALF if half else CHECK_TOLERANCE
    return bool(torch.allclose(a.float(), b.float(), rtol=0.0, atol=tol * max(scale, 1.0), equal_nan=True))


class PairRenderer:
    """Render PPL pairs ``[A; B]`` (2n images) with noise shared between A[k] and B[k].

    Args:
        generator: the generator (eval mode, on its device).
        seed: the sampling-engine seed of the metric.
        dtype: dtype of the explicit noise maps (the generator's parameter dtype).
    """

    def __init__(self, generator: Generator, seed: int, dtype: torch.dtype = torch.float32):
        self.G = generator
        self.seed = int(seed)
        self.dtype = dtype
        explicit = generator.supports_w and (bool(generator.noise_shapes) or generator.noise_is_explicit)
        self.mode = "explicit" if explicit else "forked"
        # Our own networks take all their randomness from the noise argument: nothing to check.
        self.checked = explicit and generator.noise_is_explicit

    def _batch_seed(self, idx: torch.Tensor) -> int:
        first = idx[:1].to("cpu")
        return int(sampling.randint(self.seed, PAIR_RNG, first, 2**31 - 1)[0]) ^ (int(idx.shape[0]) << 8)

    def _call(
        self,
        idx: torch.Tensor,
        ws: torch.Tensor | None,
        z: torch.Tensor | None,
        c: torch.Tensor | None,
        psi: float,
        rng_seed: int,
    ) -> torch.Tensor:
        """One generator call on all 2n rows (explicit) or two calls of n rows (forked)."""
        G = self.G
        n = idx.shape[0]
        device = G.device
        if self.mode == "explicit":
            noise = G.make_noise(n, "random", noise_seed=self.seed, indices=idx, device=device)
            noise = [torch.cat([m, m]).to(self.dtype) for m in noise]
            with seeded_rng(rng_seed, device):
                return G.synthesis(ws, noise=noise)
        noise = None
        if ws is not None and G.noise_shapes:
            noise = [
                m.to(self.dtype) for m in G.make_noise(n, "random", noise_seed=self.seed, indices=idx, device=device)
            ]
        halves = []
        for h in range(2):
            with seeded_rng(rng_seed, device):
                if ws is not None:
                    halves.append(G.synthesis(ws[h * n : (h + 1) * n], noise=noise))
                else:
                    ch = None if c is None else c[h * n : (h + 1) * n]
                    halves.append(G.generate(z[h * n : (h + 1) * n], ch, psi=psi))
        return torch.cat(halves)

    def __call__(
        self,
        idx: torch.Tensor,
        *,
        ws: torch.Tensor | None = None,
        z: torch.Tensor | None = None,
        c: torch.Tensor | None = None,
        psi: float = 1.0,
    ) -> torch.Tensor:
        """Images [2n, C, H, W] for the pairs of sample indices ``idx`` [n].

        Pass ``ws`` [2n, num_ws, w_dim] (generators with W space; the first n rows are the
        starts of the pairs, the last n the ends) or ``z`` [2n, z_dim] (and ``c`` [2n, c_dim]) for
        black boxes, which apply ``psi`` themselves.
        """
        if (ws is None) == (z is None):
            raise ValueError("pass exactly one of ws and z")
        rng_seed = self._batch_seed(idx)
        out = self._call(idx, ws, z, c, psi, rng_seed)
        if not self.checked:
            self.checked = True
            out = self._check(idx, ws, z, c, psi, rng_seed, out)
        return out

    def _check(self, idx, ws, z, c, psi, rng_seed, out) -> torch.Tensor:
        name = getattr(self.G, "spec", None) or self.G.family
        if not _same(out, self._call(idx, ws, z, c, psi, rng_seed)):
            raise UserError(
                f"{name}: PPL refused: two calls on the same input under the same torch RNG state gave different "
                f"images, so the two images of a pair cannot be given the same noise; {FIX}"
            )
        if self.mode == "explicit" and not _same(out, self._call(idx, ws, z, c, psi, rng_seed + 1)):
            # The maps we pass are not all the noise it uses: share the rest through the RNG.
            self.mode = "forked"
            again = self._call(idx, ws, z, c, psi, rng_seed)
            if not _same(again, self._call(idx, ws, z, c, psi, rng_seed)):
                raise UserError(f"{name}: PPL refused: the generator's output is not reproducible; {FIX}")
            return again
        return out


__all__ = ["PAIR_RNG", "PairRenderer", "seeded_rng"]
