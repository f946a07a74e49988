"""Toy adapters that draw their own noise, or break the contract, for tests/test_custom_generators.py.

Every toy renders ``img = A(ws) + strength * noise`` (linear in ws, additive noise, no clamp), so
PPL with a squared-L2 distance has a closed form when both images of a pair share the noise: the
noise cancels and PPL equals the noise-free module's value exactly.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

R = 8
Z_DIM = 6
NUM_WS = 2


class Base(nn.Module):
    z_dim = Z_DIM
    w_dim = Z_DIM
    num_ws = NUM_WS
    resolution = R

    def __init__(self, strength: float = 1.0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(1)
        self.map = nn.Parameter(torch.randn(Z_DIM, Z_DIM, generator=g) / Z_DIM**0.5)
        self.to_img = nn.Parameter(torch.randn(NUM_WS, Z_DIM, 3 * R * R, generator=g) / 4)
        self.strength = strength

    def mapping(self, z, c=None):
        return z @ self.map

    def clean(self, ws):
        return torch.einsum("nlw,lwp->np", ws, self.to_img).reshape(-1, 3, R, R)


class NoNoise(Base):
    """The reference: no noise at all (explicit contract with no noise inputs)."""

    noise_shapes: tuple = ()

    def synthesis(self, ws, noise=None):
        return self.clean(ws)


class PerCall(Base):
    """One noise map per call, shared by the batch, from the global RNG."""

    def synthesis(self, ws):
        return self.clean(ws) + self.strength * torch.randn(1, 1, R, R)


class PerSample(Base):
    """One map per sample, drawn in a Python loop from the global RNG (what lazy packages do)."""

    def synthesis(self, ws):
        noise = torch.stack([torch.randn(1, R, R) for _ in range(ws.shape[0])])
        return self.clean(ws) + self.strength * noise


class OwnRNG(Base):
    """Noise from its own, ever-advancing torch.Generator: cannot be shared; PPL must be refused."""

    def __init__(self) -> None:
        super().__init__()
        self.gen = torch.Generator().manual_seed(0)

    def synthesis(self, ws):
        return self.clean(ws) + torch.randn(ws.shape[0], 1, R, R, generator=self.gen)


class NumpyRNG(Base):
    """Noise from numpy's global RNG: cannot be shared; PPL must be refused."""

    def synthesis(self, ws):
        return self.clean(ws) + torch.from_numpy(np.random.standard_normal((ws.shape[0], 1, R, R)).astype(np.float32))


class KwargsExplicit(Base):
    """Declares noise_shapes and takes ``**kwargs``: the engine's noise must be passed as ``noise=``."""

    noise_shapes = ((R, R),)
    seen: list = []  # noqa: RUF012 - records the calls

    def synthesis(self, ws, **kwargs):
        noise = kwargs["noise"]
        KwargsExplicit.seen.append(noise[0].shape)
        return self.clean(ws) + self.strength * noise[0]


class ExplicitPlusHidden(Base):
    """Uses the maps it is given but also draws extra noise per call: switched to the forked RNG."""

    noise_shapes = ((R, R),)

    def synthesis(self, ws, noise=None):
        return self.clean(ws) + noise[0] + self.strength * torch.randn(ws.shape[0], 1, R, R)


class NoiseWithoutArgument(Base):
    """Declares noise_shapes but synthesis cannot take noise=: refused at load."""

    noise_shapes = ((R, R),)

    def synthesis(self, ws):
        return self.clean(ws)


def black_box(z):
    """A black box drawing noise per call from the global RNG."""
    return torch.tanh(z[:, :3, None, None].expand(-1, 3, R, R)) + torch.randn(z.shape[0], 3, R, R)


black_box.z_dim = Z_DIM
black_box.resolution = R


def black_box_clean(z):
    return torch.tanh(z[:, :3, None, None].expand(-1, 3, R, R))


black_box_clean.z_dim = Z_DIM
black_box_clean.resolution = R


# ---------------------------------------------------------------- contract violations
class NHWC(NoNoise):
    def synthesis(self, ws, noise=None):
        return self.clean(ws).permute(0, 2, 3, 1)


class ZeroOne(NoNoise):
    def synthesis(self, ws, noise=None):
        return torch.sigmoid(self.clean(ws))


class NonFinite(NoNoise):
    def synthesis(self, ws, noise=None):
        out = self.clean(ws)
        out[:, 0, 0, 0] = float("nan")
        return out


class Chatty(NoNoise):
    def __init__(self) -> None:
        print("loading chatty weights ...")
        super().__init__()

    def synthesis(self, ws, noise=None):
        print("synthesis called")
        return torch.tanh(self.clean(ws))


class NumpyDims(NoNoise):
    z_dim = np.int64(Z_DIM)
    w_dim = np.int32(Z_DIM)
    num_ws = np.int64(NUM_WS)
    resolution = np.uint16(R)

    def synthesis(self, ws, noise=None):
        return torch.tanh(self.clean(ws))


def needs_path(path):
    return NoNoise()


def raises():
    raise RuntimeError("CUDA driver not found")


def with_args(strength: float = 1.0, name: str = "x"):
    gen = PerCall(strength)
    gen.name = name
    return gen
