"""Train the demo's tiny StyleGAN2 on the procedural shapes (:mod:`stylegan_eval.demo.shapes`).

    python -m tools.train_gan --out runs/demo_gan --kimg 100

The generator is the project's own :class:`~stylegan_eval.networks.stylegan2.StyleGAN2`
(rosinality key names); the discriminator is a compact StyleGAN2-style residual network
defined here. Losses follow StyleGAN2: non-saturating logistic loss, lazy R1 on reals every
``--r1-every`` D steps (scaled by the interval), mixing regularisation (two ws per sample with
probability ``--mixing``), an EMA copy of G with ADA's ramp-up, Adam(0, 0.99) with the lazy-reg
correction of the learning rate and betas. No path-length regularisation (kept off to save CPU;
``--pl-weight`` is not implemented).

Written to ``--out``:
- ``state.pt``: everything needed to resume (``--resume``), not for shipping;
- ``snapshot-NNNNNN.pt``: ``{'g_ema': state_dict, 'latent_avg': [style_dim]}`` every
  ``--snap-kimg`` kimg: the rosinality StyleGAN2 layout that ``load_generator`` autodetects;
- ``grid-NNNNNN.png``: g_ema samples at fixed latents; ``log.txt``: losses and timings.
Use :func:`export` (``--export SNAPSHOT --to FILE``) to write a shippable half-precision copy.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from stylegan_eval import sampling
from stylegan_eval.demo import shapes
from stylegan_eval.imageops import image_grid, save_png
from stylegan_eval.networks import ops
from stylegan_eval.networks.stylegan2 import StyleGAN2

#: The demo generator's architecture (also recorded in each snapshot's sidecar json).
DEMO_G = dict(size=32, style_dim=64, n_mlp=4, channels={4: 64, 8: 64, 16: 32, 32: 32}, lr_mlp=0.01)
DEMO_D_CHANNELS = {32: 16, 16: 32, 8: 64, 4: 64}


# ---------------------------------------------------------------------------- discriminator
class EqualConv2d(nn.Module):
    """Equalized-lr conv: weight ~ N(0, 1) used * 1/sqrt(fan_in)."""

    def __init__(self, cin: int, cout: int, k: int, stride: int = 1, padding: int = 0, bias: bool = True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin, k, k))
        self.bias = nn.Parameter(torch.zeros(cout)) if bias else None
        self.scale = 1.0 / math.sqrt(cin * k * k)
        self.stride, self.padding = stride, padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, stride=self.stride, padding=self.padding)


class EqualLinear(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin))
        self.bias = nn.Parameter(torch.zeros(cout))
        self.scale = 1.0 / math.sqrt(cin)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.scale, self.bias)


def fast_upfirdn2d(x: torch.Tensor, kernel: torch.Tensor, up=1, down=1, pad=(0, 0)) -> torch.Tensor:
    """Same result as :func:`stylegan_eval.networks.ops.upfirdn2d` (checked in tests/test_demo.py),
    computed as one depthwise conv instead of a single-channel conv over N*C images: ~5x faster
    forward+backward on CPU. Training patches it into ``ops`` (see :func:`fast_ops`)."""
    up_x, up_y = ops._pair(up)
    down_x, down_y = ops._pair(down)
    if len(pad) == 2:
        px0, px1, py0, py1 = pad[0], pad[1], pad[0], pad[1]
    else:
        px0, px1, py0, py1 = pad
    n, c, h, w = x.shape
    if up_x > 1 or up_y > 1:
        z = x.new_zeros(n, c, h * up_y, w * up_x)
        z[:, :, ::up_y, ::up_x] = x
        x = z
    x = F.pad(x, [px0, px1, py0, py1])  # negative pads crop
    kh, kw = kernel.shape
    wt = torch.flip(kernel, [0, 1]).to(x.dtype).reshape(1, 1, kh, kw).expand(c, 1, kh, kw)
    return F.conv2d(x, wt, stride=(down_y, down_x), groups=c)


class fast_ops:
    """Context manager: use :func:`fast_upfirdn2d` inside the project's networks while training."""

    def __enter__(self):
        self._saved = ops.upfirdn2d
        ops.upfirdn2d = fast_upfirdn2d
        return self

    def __exit__(self, *exc):
        ops.upfirdn2d = self._saved
        return False


def _lrelu(x: torch.Tensor) -> torch.Tensor:
    return ops.fused_leaky_relu(x)


class BlurDown(nn.Module):
    """Blur with [1,3,3,1] then keep every 2nd pixel (rosinality's downsampling conv preamble)."""

    def __init__(self, pad: tuple[int, int]):
        super().__init__()
        self.register_buffer("kernel", ops.make_kernel((1, 3, 3, 1)))
        self.pad = pad

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return fast_upfirdn2d(x, self.kernel, pad=self.pad)


class DResBlock(nn.Module):
    """conv3x3 -> lrelu -> blur -> conv3x3 stride 2 -> lrelu, plus a blurred 1x1 stride-2 skip; / sqrt 2."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv1 = EqualConv2d(cin, cin, 3, padding=1)
        self.blur = BlurDown((2, 2))  # 3x3 stride-2 conv after a 4-tap blur: pads (k-2+3-1)/2
        self.conv2 = EqualConv2d(cin, cout, 3, stride=2)
        self.skip_blur = BlurDown((1, 1))
        self.skip = EqualConv2d(cin, cout, 1, stride=2, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = _lrelu(self.conv1(x))
        out = _lrelu(self.conv2(self.blur(out)))
        return (out + self.skip(self.skip_blur(x))) / math.sqrt(2)


class Discriminator(nn.Module):
    """Residual D: fromRGB 1x1, res blocks down to 4x4, minibatch stddev, conv, two linear layers."""

    def __init__(
        self, size: int = 32, channels: dict[int, int] | None = None, img_channels: int = 3, mbstd_group: int = 4
    ):
        super().__init__()
        channels = channels or DEMO_D_CHANNELS
        self.from_rgb = EqualConv2d(img_channels, channels[size], 1)
        blocks = []
        res = size
        while res > 4:
            blocks.append(DResBlock(channels[res], channels[res // 2]))
            res //= 2
        self.blocks = nn.Sequential(*blocks)
        c4 = channels[4]
        self.mbstd_group = mbstd_group
        self.final_conv = EqualConv2d(c4 + 1, c4, 3, padding=1)
        self.fc1 = EqualLinear(c4 * 16, c4)
        self.fc2 = EqualLinear(c4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.blocks(_lrelu(self.from_rgb(x)))
        n, c, h, w = out.shape
        g = min(n, self.mbstd_group)
        while n % g:
            g -= 1
        std = out.reshape(g, -1, c, h, w)
        std = torch.sqrt(std.var(0, unbiased=False) + 1e-8).mean([1, 2, 3])  # [n / g]
        std = std.reshape(-1, 1, 1, 1).repeat(g, 1, h, w)
        out = _lrelu(self.final_conv(torch.cat([out, std], 1)))
        out = _lrelu(self.fc1(out.flatten(1)))
        return self.fc2(out)


# ---------------------------------------------------------------------------- helpers
def make_generator(**overrides) -> StyleGAN2:
    cfg = {**DEMO_G, **overrides}
    return StyleGAN2(
        cfg.pop("size"), cfg.pop("style_dim"), cfg.pop("n_mlp"), channels=cfg.pop("channels"), lr_mlp=cfg.pop("lr_mlp")
    )


def random_noise(g: StyleGAN2, n: int) -> list[torch.Tensor]:
    return [torch.randn(n, 1, h, w) for h, w in g.noise_shapes]


def sample_ws(g: StyleGAN2, n: int, mixing: float) -> torch.Tensor:
    """ws [n, n_latent, style_dim]; with probability ``mixing`` a sample switches to a second w at a random layer."""
    z = torch.randn(2, n, g.z_dim)
    w = g.mapping(z.reshape(2 * n, -1)).reshape(2, n, -1)
    ws = w[0].unsqueeze(1).repeat(1, g.n_latent, 1)
    if mixing > 0:
        cut = torch.randint(1, g.n_latent, (n,))
        use = torch.rand(n) < mixing
        cut = torch.where(use, cut, torch.full_like(cut, g.n_latent))
        layer = torch.arange(g.n_latent)[None, :, None]
        ws = torch.where(layer < cut[:, None, None], ws, w[1].unsqueeze(1))
    return ws


@torch.no_grad()
def latent_avg(g: StyleGAN2, n: int = 10_000) -> torch.Tensor:
    idx = torch.arange(n)
    z = sampling.normal(0, sampling.W_AVG, idx, (g.z_dim,))
    return g.mapping(z).mean(0)


@torch.no_grad()
def save_grid(g: StyleGAN2, path: Path, n: int = 64) -> None:
    z = sampling.normal(123, sampling.Z, torch.arange(n), (g.z_dim,))
    ws = g.mapping(z).unsqueeze(1).repeat(1, g.n_latent, 1)
    noise = [
        sampling.normal(123, sampling.NOISE + k, torch.arange(n), (1, h, w)) for k, (h, w) in enumerate(g.noise_shapes)
    ]
    save_png(image_grid(g(ws, noise).clamp(-1, 1), 8), path)


def rosinality_checkpoint(g_ema: StyleGAN2, half: bool = False) -> dict:
    sd = {k: v.detach().clone() for k, v in g_ema.state_dict().items()}
    avg = latent_avg(g_ema)
    if half:
        sd = {k: (v.half() if v.is_floating_point() else v) for k, v in sd.items()}
        avg = avg.half()
    return {"g_ema": sd, "latent_avg": avg}


def export(snapshot: str | os.PathLike, to: str | os.PathLike, half: bool = True) -> Path:
    """Re-save a snapshot's g_ema (+ latent_avg) as a shippable file, optionally in float16.

    The result is still a plain ``{'g_ema', 'latent_avg'}`` rosinality checkpoint; the loader
    converts float16 tensors to float32 on load.
    """
    obj = torch.load(snapshot, map_location="cpu", weights_only=True)
    sd = obj["g_ema"]
    avg = obj["latent_avg"]
    if half:
        sd = {k: (v.half() if v.is_floating_point() else v) for k, v in sd.items()}
        avg = avg.half()
    to = Path(to)
    to.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"g_ema": sd, "latent_avg": avg}, to)
    return to


def accumulate(ema: nn.Module, model: nn.Module, beta: float) -> None:
    with torch.no_grad():
        for pe, pm in zip(ema.parameters(), model.parameters()):
            pe.lerp_(pm, 1 - beta)
        for be, bm in zip(ema.buffers(), model.buffers()):
            be.copy_(bm)


# ---------------------------------------------------------------------------- training
def train(args: argparse.Namespace) -> None:
    with fast_ops():
        _train(args)


def _train(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    g = make_generator()
    g.set_fused_modconv(False)  # same function; ~4x faster forward+backward on CPU for batches
    d = Discriminator()
    g_ema = copy.deepcopy(g).eval().requires_grad_(False)
    r1_c = args.r1_every / (args.r1_every + 1)
    g_opt = torch.optim.Adam(g.parameters(), lr=args.lr, betas=(0.0, 0.99))
    d_opt = torch.optim.Adam(d.parameters(), lr=args.lr * r1_c, betas=(0.0, 0.99**r1_c))
    step, nimg, t_used = 0, 0, 0.0
    state_path = out / "state.pt"
    if args.resume and state_path.exists():
        st = torch.load(state_path, map_location="cpu", weights_only=True)
        g.load_state_dict(st["g"]), d.load_state_dict(st["d"]), g_ema.load_state_dict(st["g_ema"])
        g_opt.load_state_dict(st["g_opt"]), d_opt.load_state_dict(st["d_opt"])
        step, nimg, t_used = st["step"], st["nimg"], st["time"]
        print(f"resumed at {nimg / 1000:.1f} kimg", flush=True)
    total = int(args.kimg * 1000)
    bs = args.batch
    log = open(out / "log.txt", "a")
    (out / "config.json").write_text(
        json.dumps(
            {
                "args": vars(args),
                "G": {**DEMO_G, "channels": {str(k): v for k, v in DEMO_G["channels"].items()}},
                "D_channels": {str(k): v for k, v in DEMO_D_CHANNELS.items()},
            },
            indent=1,
        )
    )
    next_snap = (nimg // int(args.snap_kimg * 1000) + 1) * int(args.snap_kimg * 1000)
    t0 = time.time() - t_used
    data_step = nimg // bs
    r1 = torch.zeros(())  # last R1 value (computed every r1_every steps)
    while nimg < total:
        # -------- D step
        real, _ = shapes.render(args.data_seed, torch.arange(data_step * bs, (data_step + 1) * bs))
        data_step += 1
        with torch.no_grad():
            fake = g(sample_ws(g, bs, args.mixing), random_noise(g, bs))
        d_real, d_fake = d(real), d(fake)
        d_loss = F.softplus(d_fake).mean() + F.softplus(-d_real).mean()
        d_opt.zero_grad(set_to_none=True)
        d_loss.backward()
        d_opt.step()
        if step % args.r1_every == 0:
            real_r = real.detach().requires_grad_(True)
            (grad,) = torch.autograd.grad(d(real_r).sum(), real_r, create_graph=True)
            r1 = grad.pow(2).sum([1, 2, 3]).mean()
            d_opt.zero_grad(set_to_none=True)
            (args.r1_gamma / 2 * r1 * args.r1_every).backward()
            d_opt.step()
        # -------- G step
        d.requires_grad_(False)
        fake = g(sample_ws(g, bs, args.mixing), random_noise(g, bs))
        g_loss = F.softplus(-d(fake)).mean()
        g_opt.zero_grad(set_to_none=True)
        g_loss.backward()
        g_opt.step()
        d.requires_grad_(True)
        # -------- EMA (ADA: half-life ema_kimg, ramped up over the first 5% of images seen)
        nimg += bs
        step += 1
        ema_nimg = min(args.ema_kimg * 1000, nimg * args.ema_rampup)
        accumulate(g_ema, g, 0.5 ** (bs / max(ema_nimg, 1e-8)))
        if step % 20 == 0:
            el = time.time() - t0
            line = (
                f"kimg {nimg / 1000:7.2f}  time {el:7.0f}s  D {d_loss.item():.3f}  G {g_loss.item():.3f}  "
                f"R1 {r1.item():.4f}  D(real) {d_real.mean().item():+.2f}  D(fake) {d_fake.mean().item():+.2f}"
            )
            print(line, flush=True)
            log.write(line + "\n"), log.flush()
        if nimg >= next_snap or nimg >= total:
            k = nimg // 1000
            torch.save(rosinality_checkpoint(g_ema), out / f"snapshot-{k:06d}.pt")
            save_grid(g_ema, out / f"grid-{k:06d}.png")
            torch.save(
                {
                    "g": g.state_dict(),
                    "d": d.state_dict(),
                    "g_ema": g_ema.state_dict(),
                    "g_opt": g_opt.state_dict(),
                    "d_opt": d_opt.state_dict(),
                    "step": step,
                    "nimg": nimg,
                    "time": time.time() - t0,
                },
                state_path,
            )
            next_snap += int(args.snap_kimg * 1000)
    log.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", help="run folder")
    p.add_argument("--kimg", type=float, default=100, help="training length in thousands of real images shown")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--lr", type=float, default=0.0025)
    p.add_argument("--r1-gamma", type=float, default=0.05)
    p.add_argument("--r1-every", type=int, default=16)
    p.add_argument("--mixing", type=float, default=0.5)
    p.add_argument("--ema-kimg", type=float, default=2.0)
    p.add_argument("--ema-rampup", type=float, default=0.05)
    p.add_argument("--snap-kimg", type=float, default=4.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-seed", type=int, default=0)
    p.add_argument(
        "--threads", type=int, default=1, help="1 is fastest on a shared CPU (2 threads were ~8x slower here)"
    )
    p.add_argument("--resume", action="store_true")
    p.add_argument("--export", metavar="SNAPSHOT", help="instead of training: re-save SNAPSHOT in float16 to --to")
    p.add_argument("--to", help="output file of --export")
    a = p.parse_args(argv)
    if a.export:
        if not a.to:
            p.error("--export needs --to FILE")
        print(export(a.export, a.to))
        return 0
    if not a.out:
        p.error("--out is required")
    train(a)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
