"""The sampling engine shared by every metric.

Every random number a metric draws for sample ``i`` (its latent, its interpolation position,
its noise maps, its class label) is a pure function of ``(seed, stream, i, element)``. It is
computed by a counter-based hash on the device, in one batched tensor operation, so a metric's
result is identical for any batch size, device count, shard layout or resume point: sample
``i`` never depends on which batch or process produced it.

Streams keep the different random quantities of one sample independent; each metric names the
streams it uses from the constants below.
"""

from __future__ import annotations

import math
from typing import Iterator, Sequence

import torch

#: Version of the algorithm behind these numbers; part of every --resume state's key.
ALGORITHM = 2

# Stream identifiers. Noise maps use NOISE + layer index.
Z = 1  #: the latent z of a sample (PPL: the start of the pair)
Z_END = 2  #: PPL: the end of the pair
T = 3  #: PPL: the interpolation position t
LABEL = 4  #: class labels of conditional generators
W_AVG = 5  #: samples used to estimate w_avg when a checkpoint does not store it
MIX = 6  #: style-mixing sources
NOISE = 1000  #: per-layer noise maps, NOISE + layer index
CONST_NOISE_SEED = 0x5EED  #: seed of the fixed noise used by noise_mode='const' when none is stored

_MASK32 = 0xFFFFFFFF
# Multiplier < 2**31 so that (value < 2**32) * multiplier never overflows int64.
_MUL = 0x45D9F3B
_GOLDEN = 0x9E3779B9


def _mix32(x: torch.Tensor) -> torch.Tensor:
    """A 32-bit integer finaliser on int64 tensors holding values in [0, 2**32)."""
    x = x ^ (x >> 16)
    x = (x * _MUL) & _MASK32
    x = x ^ (x >> 16)
    x = (x * _MUL) & _MASK32
    x = x ^ (x >> 16)
    return x


def _hash(seed: int, stream: int, index: torch.Tensor, element: torch.Tensor) -> torch.Tensor:
    """Hash of (seed, stream, sample index, element index) -> uint32 values held in int64.

    ``index`` has shape [N, 1] and ``element`` shape [1, M]; the result is [N, M].
    """
    key = _mix32(torch.tensor([(seed & _MASK32) ^ _GOLDEN], dtype=torch.int64, device=index.device))
    key = _mix32(key ^ ((stream * _GOLDEN) & _MASK32))
    key = _mix32(key ^ ((seed >> 32) & _MASK32))
    h = _mix32((index & _MASK32) ^ key)
    h = _mix32(h ^ ((index >> 32) & _MASK32))
    return _mix32((h + _mix32(element & _MASK32)) & _MASK32)


def _as_index(indices: torch.Tensor | Sequence[int], device: torch.device | str) -> torch.Tensor:
    idx = torch.as_tensor(indices, dtype=torch.int64, device=device)
    if idx.ndim != 1:
        raise ValueError(f"sample indices must be a 1-D tensor, got shape {tuple(idx.shape)}")
    if idx.numel() and int(idx.min()) < 0:
        raise ValueError("sample indices must be >= 0")
    return idx


def uniform(
    seed: int,
    stream: int,
    indices: torch.Tensor | Sequence[int],
    shape: Sequence[int] = (),
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """Uniform numbers in (0, 1), float32, shape [N, *shape], row k a function of (seed, indices[k])."""
    idx = _as_index(indices, device)
    numel = math.prod(shape)
    element = torch.arange(numel, dtype=torch.int64, device=idx.device)[None, :]
    bits = _hash(seed, stream, idx[:, None], element) >> 8  # 24 random bits
    u = (bits.to(torch.float32) + 0.5) * (1.0 / (1 << 24))
    return u.reshape(idx.shape[0], *shape)


# Box-Muller from + - * / and sqrt only: IEEE float64 rounds these exactly the same way on every
# CPU, kernel path (ATen capability, MKL's instruction set) and CUDA device, whereas torch.log /
# cos / sin go through per-CPU vector libraries (MKL VML) and differ by an ulp between machines.
_LN2 = 0.6931471805599453  # ln 2, nearest float64
_SQRT_HALF = 0.7071067811865476
_TWO_PI = 6.283185307179586
_MANTISSA = (1 << 52) - 1
_HALF_EXP = 1022 << 52  # float64 exponent bits of [0.5, 1)


def _log_unit(u: torch.Tensor) -> torch.Tensor:
    """ln(u) for float64 ``u`` in (0, 1], |error| < 1e-14, from exact integer ops and + - * /."""
    bits = u.view(torch.int64)
    e = (bits >> 52) - 1022
    m = ((bits & _MANTISSA) | _HALF_EXP).view(torch.float64)  # u = m * 2**e, m in [0.5, 1)
    low = m < _SQRT_HALF
    m = torch.where(low, m * 2.0, m)  # m in [sqrt(1/2), sqrt(2)): |s| <= 0.172 below
    e = e.sub_(low.to(torch.int64)).to(torch.float64)
    s = (m - 1.0).div_(m.add_(1.0))
    s2 = s * s
    acc = torch.full_like(s, 1.0 / 23.0)
    for k in range(10, -1, -1):  # ln m = 2 s (1 + s^2/3 + s^4/5 + ... + s^22/23)
        acc.mul_(s2).add_(1.0 / (2 * k + 1))
    return acc.mul_(s).mul_(2.0).add_(e.mul_(_LN2))


def _cos_sin_turns(u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(cos 2 pi u, sin 2 pi u) for float64 ``u`` in [0, 1], |error| < 1e-15, from + - * / only."""
    q = torch.floor(u * 4.0 + 0.5)  # the nearest quarter turn; both steps exact
    x = (u - q * 0.25).mul_(_TWO_PI)  # in [-pi/4, pi/4]
    x2 = x * x
    sin = torch.full_like(x, -1.0 / math.factorial(19))  # Taylor series to x^19 / x^20: the next
    cos = torch.full_like(x, 1.0 / math.factorial(20))  # terms are < 1e-19 on [-pi/4, pi/4]
    for k in range(8, -1, -1):
        sin.mul_(x2).add_((-1.0) ** k / math.factorial(2 * k + 1))
    for k in range(9, -1, -1):
        cos.mul_(x2).add_((-1.0) ** k / math.factorial(2 * k))
    sin.mul_(x)
    quadrant = q.to(torch.int64) % 4
    swap = (quadrant % 2) == 1  # odd quarter turns exchange cos and sin
    c = torch.where(swap, sin, cos)
    s = torch.where(swap, cos, sin)
    c = torch.where((quadrant == 1) | (quadrant == 2), -c, c)
    s = torch.where(quadrant >= 2, -s, s)
    return c, s


def normal(
    seed: int,
    stream: int,
    indices: torch.Tensor | Sequence[int],
    shape: Sequence[int],
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """Standard normal numbers, float32, shape [N, *shape] (Box-Muller over two uniform draws).

    Computed in float64 from elementary operations that every device rounds alike, then
    rounded to float32 once: the same bits on every machine, CPU kernel path and CUDA device.
    """
    idx = _as_index(indices, device)
    numel = math.prod(shape)
    half = (numel + 1) // 2
    element = torch.arange(half, dtype=torch.int64, device=idx.device)[None, :]
    scale = 1.0 / (1 << 24)
    u1 = ((_hash(seed, stream, idx[:, None], 2 * element) >> 8).to(torch.float64) + 0.5) * scale
    u2 = ((_hash(seed, stream, idx[:, None], 2 * element + 1) >> 8).to(torch.float64) + 0.5) * scale
    radius = torch.sqrt(-2.0 * _log_unit(u1))
    cos, sin = _cos_sin_turns(u2)
    out = torch.cat([radius * cos, radius * sin], dim=1)[:, :numel].to(torch.float32)
    return out.reshape(idx.shape[0], *shape)


def randint(
    seed: int,
    stream: int,
    indices: torch.Tensor | Sequence[int],
    high: int,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """Integers in [0, high), int64, shape [N], row k a function of (seed, indices[k])."""
    if high <= 0:
        raise ValueError("high must be positive")
    idx = _as_index(indices, device)
    element = torch.zeros(1, 1, dtype=torch.int64, device=idx.device)
    return (_hash(seed, stream, idx[:, None], element)[:, 0] % high).to(torch.int64)


def batch_indices(
    num_samples: int, batch_size: int, start: int = 0, rank: int = 0, world_size: int = 1
) -> Iterator[torch.Tensor]:
    """Yield int64 index tensors covering [start, num_samples) in batches.

    With ``world_size > 1`` each rank takes every ``world_size``-th batch of the global
    sequence; the union over ranks is exactly [start, num_samples) and every sample keeps its
    global index, hence its random numbers.
    """
    if batch_size <= 0:
        raise ValueError("batch_size must be positive")
    for b, lo in enumerate(range(start, num_samples, batch_size)):
        if b % world_size == rank:
            yield torch.arange(lo, min(lo + batch_size, num_samples), dtype=torch.int64)
