"""rosinality/style-based-gan-pytorch (StyleGAN1) ``.model`` checkpoints.

On-disk layouts accepted (read with ``torch.load(weights_only=True)``):

- train.py phase snapshots ``{'generator', 'discriminator', 'g_optimizer', 'd_optimizer',
  'g_running'}``; the EMA generator ``g_running`` is preferred over ``generator``,
- a bare ``StyledGenerator`` state dict (train.py's periodic ``g_running`` saves), keys
  ``generator.progression.*``, ``generator.to_rgb.*``, ``style.*``,
- any of these with DataParallel's ``module.`` key prefix.

The channel table, mapping depth/width, per-block upsampling kind and image channels are
inferred from tensor shapes. The output resolution is NOT recorded: the model always holds all
9 blocks (4 ... 1024 px). It comes from the ``resolution`` option (``--resolution``), else from
this heuristic: blocks that were never trained keep their initial ``noise*.weight_orig`` (all
0) and AdaIN biases ([1]*C + [0]*C); the resolution is that of the highest trained block,
provided the trained blocks are exactly 0..k with 1 <= k < last block. Otherwise (no block
trained, every block trained, or a gap) the inference is refused with a CheckpointError asking
for --resolution: non-initial values in every block do not prove the top block was trained.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

import torch

from ..errors import CheckpointError, UserError
from ..networks.stylegan1 import StyledGenerator, StyleGAN1Generator, block_resolution
from .checks import check_state_dict

NAME = "stylegan1-rosinality"
MIN_RESOLUTION = 8
MAX_RESOLUTION = 1024
#: Tolerance when comparing AdaIN biases with their initial [1, 0] values (an EMA of a constant
#: can round by an ulp).
_INIT_ATOL = 1e-6


def _strip(sd: Mapping[str, Any]) -> dict[str, Any]:
    return {(k[7:] if isinstance(k, str) and k.startswith("module.") else k): v for k, v in sd.items()}


def _is_sg1_state_dict(obj: Any) -> bool:
    if not isinstance(obj, Mapping) or not obj:
        return False
    keys = [k[7:] if isinstance(k, str) and k.startswith("module.") else k for k in obj]
    keys = [k for k in keys if isinstance(k, str)]
    return any(k.startswith("generator.progression.") for k in keys) and any(k.startswith("style.") for k in keys)


def _pick_state_dict(obj: Any) -> tuple[dict[str, Any], str] | None:
    """(prefix-stripped state dict, layout name) of the generator to evaluate, or None."""
    if not isinstance(obj, Mapping):
        return None
    for key in ("g_running", "generator"):
        if key in obj and _is_sg1_state_dict(obj[key]):
            return _strip(obj[key]), key
    if _is_sg1_state_dict(obj):
        return _strip(obj), "state_dict"
    return None


def detect(raw) -> bool:
    """True for torch files holding a rosinality StyleGAN1 generator (g_running / generator / bare)."""
    return getattr(raw, "kind", None) == "torch" and _pick_state_dict(raw.obj) is not None


def _tensor(sd: dict[str, Any], key: str, path, ndim: int) -> torch.Tensor:
    t = sd.get(key)
    if not isinstance(t, torch.Tensor):
        raise CheckpointError(f"{path}: rosinality StyleGAN1 state dict lacks tensor {key!r}")
    if t.ndim != ndim:
        raise CheckpointError(f"{path}: {key} has shape {list(t.shape)}, expected {ndim} dimensions")
    return t


def infer_config(sd: dict[str, Any], path="checkpoint") -> dict[str, Any]:
    """StyledGenerator constructor kwargs (code_dim, n_mlp, channels, fused, img_channels) from shapes."""
    mlp = sorted(int(m.group(1)) for k in sd if (m := re.fullmatch(r"style\.(\d+)\.linear\.weight_orig", str(k))))
    n_mlp = len(mlp)
    if not mlp or mlp != list(range(1, 2 * n_mlp, 2)):
        raise CheckpointError(
            f"{path}: mapping layers style.N.linear.weight_orig must be numbered 1, 3, 5, ..., found {mlp}"
        )
    code_dim = _tensor(sd, "style.1.linear.weight_orig", path, 2).shape[1]
    blocks = sorted({int(m.group(1)) for k in sd if (m := re.match(r"generator\.progression\.(\d+)\.", str(k)))})
    if not blocks or blocks != list(range(len(blocks))):
        raise CheckpointError(f"{path}: generator.progression blocks must be numbered 0..n-1, found {blocks}")
    channels = [_tensor(sd, "generator.progression.0.conv1.input", path, 4).shape[1]]
    fused = [False]
    for i in blocks[1:]:
        p = f"generator.progression.{i}.conv1."
        if p + "0.weight" in sd:  # FusedUpsample: [in, out, 3, 3]
            channels.append(_tensor(sd, p + "0.weight", path, 4).shape[1])
            fused.append(True)
        else:  # Upsample, EqualConv2d [out, in, 3, 3], Blur
            channels.append(_tensor(sd, p + "1.conv.weight_orig", path, 4).shape[0])
            fused.append(False)
    img_channels = _tensor(sd, "generator.to_rgb.0.conv.weight_orig", path, 4).shape[0]
    return dict(
        code_dim=int(code_dim),
        n_mlp=n_mlp,
        channels=tuple(int(c) for c in channels),
        fused=tuple(fused),
        img_channels=int(img_channels),
    )


def build(sd: dict[str, Any], path="checkpoint") -> StyledGenerator:
    """A :class:`StyledGenerator` with ``sd`` loaded strictly (CheckpointError on any mismatch)."""
    cfg = infer_config(sd, path)
    try:
        net = StyledGenerator(**cfg)
    except ValueError as exc:
        raise CheckpointError(f"{path}: unsupported StyleGAN1 configuration ({exc})") from None
    check_state_dict(net, sd, path, "a rosinality StyleGAN1 generator")
    try:
        net.load_state_dict(sd, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(
            f"{path}: could not load the rosinality StyleGAN1 weights ({str(exc).splitlines()[0]})"
        ) from None
    return net


def trained_blocks(net: StyledGenerator) -> list[bool]:
    """Per block: whether its noise strengths or AdaIN biases differ from their initial values."""
    out = []
    for blk in net.generator.progression:
        c = blk.noise1.weight_orig.shape[1]
        init_bias = torch.cat([torch.ones(c), torch.zeros(c)])
        changed = bool(blk.noise1.weight_orig.detach().ne(0).any() or blk.noise2.weight_orig.detach().ne(0).any())
        for ada in (blk.adain1, blk.adain2):
            bias = ada.style.linear.bias.detach().cpu()
            changed = changed or not torch.allclose(bias, init_bias, rtol=0.0, atol=_INIT_ATOL)
        out.append(changed)
    return out


def infer_resolution(net: StyledGenerator, path="checkpoint") -> int:
    """Resolution of the highest trained block (see the module docstring), else CheckpointError."""
    trained = trained_blocks(net)
    n = len(trained)
    hint = f"pass --resolution (a power of two in [{MIN_RESOLUTION}, {block_resolution(n - 1)}], e.g. 256)"
    if not any(trained):
        raise CheckpointError(f"{path}: cannot infer the resolution: every block still has its initial weights; {hint}")
    top = max(i for i, t in enumerate(trained) if t)
    if not all(trained[: top + 1]):
        gaps = [block_resolution(i) for i in range(top) if not trained[i]]
        raise CheckpointError(
            f"{path}: cannot infer the resolution: blocks for {gaps} px look untrained below a trained "
            f"{block_resolution(top)} px block; {hint}"
        )
    if top == n - 1:
        raise CheckpointError(
            f"{path}: cannot infer the resolution: all {n} blocks (up to {block_resolution(top)} px) "
            f"have non-initial weights; {hint}"
        )
    if block_resolution(top) < MIN_RESOLUTION:
        raise CheckpointError(f"{path}: cannot infer the resolution: only the 4 px block looks trained; {hint}")
    return block_resolution(top)


def check_resolution(resolution: Any, num_blocks: int, path="checkpoint") -> int:
    """``resolution`` as an int power of two in [8, min(1024, largest block)], else CheckpointError."""
    top = min(MAX_RESOLUTION, block_resolution(num_blocks - 1))
    try:
        res = int(resolution)
        ok = res == resolution if not isinstance(resolution, str) else str(res) == resolution.strip()
    except (TypeError, ValueError):
        res, ok = 0, False
    if not ok or res < MIN_RESOLUTION or res > top or res & (res - 1):
        raise CheckpointError(
            f"{path}: --resolution {resolution!r} is invalid: expected a power of two in [{MIN_RESOLUTION}, {top}] "
            f"(this checkpoint has {num_blocks} blocks, 4 to {block_resolution(num_blocks - 1)} px)"
        )
    return res


def load(raw, resolution: int | None = None, **options: Any) -> StyleGAN1Generator:
    """Build the generator of a rosinality StyleGAN1 checkpoint.

    Options: ``resolution`` (output size; inferred from which blocks were trained when None).
    """
    if options:
        raise UserError(f"{NAME}: unknown option(s) {', '.join(sorted(options))}")
    path = raw.path
    picked = _pick_state_dict(raw.obj)
    if picked is None:
        raise CheckpointError(
            f"{path}: expected a rosinality StyleGAN1 checkpoint (a dict with 'g_running' or a StyledGenerator state dict)"
        )
    sd, layout = picked
    sd = {k: (v.float() if isinstance(v, torch.Tensor) and v.is_floating_point() else v) for k, v in sd.items()}
    net = build(sd, path)
    n = net.generator.num_blocks
    if resolution is None:
        res = infer_resolution(net, path)
        source = "inferred from trained blocks"
    else:
        res = check_resolution(resolution, n, path)
        source = "--resolution"
    trained = trained_blocks(net)
    extra = {
        "checkpoint_layout": layout,
        "resolution_source": source,
        "trained_blocks_px": [block_resolution(i) for i, t in enumerate(trained) if t],
    }
    return StyleGAN1Generator(net, res, NAME, extra=extra)


def from_config(config: dict[str, Any], state_dict: dict[str, Any]) -> StyleGAN1Generator:
    """Rebuild the generator from ``Generator.config()`` and its ``state_dict()`` (CheckpointError on mismatch)."""
    from ..networks import stylegan1

    try:
        return stylegan1.from_config(config, state_dict)
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise CheckpointError(
            f"{NAME}: config/state dict do not fit ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})"
        ) from None
