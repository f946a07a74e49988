"""PPL throughput: stylegan-eval vs torchmetrics vs torch-fidelity on the same generator and settings.

All three run the *same* StyleGAN2 network (the project's :mod:`stylegan_eval.networks.stylegan2`,
random init) and the *same* LPIPS-VGG16 weights (our random-init backbone copied into the peers'
networks; the published VGG16 cannot be downloaded here). Common settings: Z space, 'end'
sampling, lerp, resize 64, float32 images (no uint8), eps 1e-4, same number of pairs and batch
size. The peers draw our latents (their sampler is patched), so all three compute the same
distances (up to float32 rounding, amplified by 1/eps^2); the script reports pairs/second and
the largest per-pair deviation from stylegan-eval fp32. Reduced precision (bf16 autocast) and
stylegan-eval's default per-pair seeded noise (the peers use the stored constant noise) are
timed for stylegan-eval only.

Usage: python benchmarks/bench_ppl.py [--num-samples 128] [--batch-size 32] [--resolution 64]
Prints a Markdown table (paste into benchmarks/RESULTS.md).
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import types

import numpy as np
import torch
from torch import nn

os.environ.setdefault("STYLEGAN_EVAL_OFFLINE", "1")

from stylegan_eval import sampling  # noqa: E402
from stylegan_eval.metrics import ppl as P  # noqa: E402
from stylegan_eval.metrics.distances import LPIPSVGG  # noqa: E402
from stylegan_eval.networks.stylegan2 import StyleGAN2, StyleGAN2Generator  # noqa: E402

EPS = 1e-4


#: Generator sizes: channel tables up to 256 px and the style (w) width.
CONFIGS = {
    "medium": ({4: 256, 8: 256, 16: 128, 32: 128, 64: 64, 128: 32, 256: 16}, 256),
    "small": ({4: 128, 8: 128, 16: 64, 32: 64, 64: 32, 128: 16, 256: 8}, 128),
}


def make_generator(resolution: int, config: str = "medium") -> StyleGAN2Generator:
    """A small but complete StyleGAN2 (mapping 4 x style_dim), random init, seed 0."""
    torch.manual_seed(0)
    table, style_dim = CONFIGS[config]
    channels = {r: c for r, c in table.items() if r <= resolution}
    net = StyleGAN2(resolution, style_dim=style_dim, n_mlp=4, channels=channels).eval().requires_grad_(False)
    return StyleGAN2Generator(net, "stylegan2-bench").eval()


class PeerGenerator(nn.Module):
    """The peers' generator contract around ours: sample() hands out our z0, then our z1; images in [0, 255]."""

    def __init__(self, G, z0, z1):
        super().__init__()
        self.G, self.pair, self.calls = G, (z0, z1), 0

    def sample(self, num_samples):  # called twice per run: z0, then z1
        self.calls += 1
        return self.pair[(self.calls - 1) % 2]

    def forward(self, z):
        return (self.G.generate(z, noise_mode="const") + 1) * 127.5


def vgg_features(distance: LPIPSVGG) -> nn.Sequential:
    import copy

    layers = {}
    for k in range(1, 6):
        for name, module in getattr(distance.net, f"slice{k}").named_children():
            layers[int(name)] = copy.deepcopy(module)
    return nn.Sequential(*(layers[i] for i in range(30)))


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def run_ours(G, dist, n, bs, precision="fp32"):
    res = P.ppl(
        G,
        "z",
        "end",
        n,
        EPS,
        False,
        distance=dist,
        z_interpolation="lerp",
        resize=64,
        batch_size=bs,
        precision=precision,
        bootstrap_resamples=0,
    )
    return res.distances


def run_torchmetrics(G, dist, z0, z1, n, bs):
    from torchmetrics.functional.image.lpips import _LPIPS
    from torchmetrics.functional.image.perceptual_path_length import perceptual_path_length

    net = _LPIPS(pretrained=True, net="vgg", resize=64, pnet_rand=True)
    net.net.load_state_dict(dist.net.state_dict())
    gen = PeerGenerator(G, z0, z1)
    return lambda: (
        perceptual_path_length(
            gen,
            num_samples=n,
            batch_size=bs,
            epsilon=EPS,
            interpolation_method="lerp",
            lower_discard=None,
            upper_discard=None,
            sim_net=net,
        )[2]
        .double()
        .numpy()
    )


def run_torch_fidelity(G, dist, z0, z1, n, bs):
    import lpips
    import torch_fidelity.metric_ppl as tf_ppl
    import torch_fidelity.sample_similarity_lpips as tf_lpips
    from torch_fidelity import GenerativeModelModuleWrapper

    heads = torch.load(os.path.join(lpips.__path__[0], "weights/v0.1/vgg.pth"), map_location="cpu")
    tf_lpips.load_state_dict_from_url = lambda *a, **k: heads  # offline: the same v0.1 heads
    tf_lpips.torchvision_load_pretrained_vgg16 = lambda **k: types.SimpleNamespace(features=vgg_features(dist))
    sim = tf_lpips.SampleSimilarityLPIPS(
        "lpips-vgg16", sample_similarity_resize=64, sample_similarity_dtype="float32"
    ).eval()
    tf_ppl.create_sample_similarity = lambda *a, **k: sim  # built once, outside the timing
    gen = PeerGenerator(G, z0, z1)
    tf_ppl.sample_random = lambda rng, shape, z_type: gen.sample(shape[0])
    model = GenerativeModelModuleWrapper(gen, G.z_dim, "normal", 0)
    kw = dict(
        input1_model_num_samples=n,
        batch_size=bs,
        cuda=False,
        verbose=False,
        ppl_epsilon=EPS,
        ppl_z_interp_mode="lerp",
        ppl_sample_similarity_resize=64,
        ppl_sample_similarity_dtype="float32",
        ppl_reduction="none",
        ppl_discard_percentile_lower=None,
        ppl_discard_percentile_higher=None,
        save_cpu_ram=True,
    )
    return lambda: np.asarray(
        tf_ppl.calculate_ppl(1, input1=model, **kw)["perceptual_path_length_raw"], dtype=np.float64
    )


def machine() -> str:
    from stylegan_eval.report import cpu_model

    cpu = cpu_model()
    return f"{cpu}, {os.cpu_count()} cores visible, torch {torch.__version__} ({torch.get_num_threads()} threads), Python {platform.python_version()}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--num-samples", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--resolution", type=int, default=64)
    ap.add_argument("--config", choices=sorted(CONFIGS), default="medium", help="generator size")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    ap.add_argument(
        "--repeats", type=int, default=3, help="interleaved rounds; the best time of each implementation is reported"
    )
    args = ap.parse_args()
    n, bs = args.num_samples, args.batch_size
    if args.threads:
        torch.set_num_threads(args.threads)

    G = make_generator(args.resolution, args.config)
    dist = LPIPSVGG(allow_random=True, download=False)
    idx = torch.arange(n)
    z0, z1 = sampling.normal(0, sampling.Z, idx, (G.z_dim,)), sampling.normal(0, sampling.Z_END, idx, (G.z_dim,))

    # our pipeline with the peers' noise handling: the generator's stored constant noise
    class ConstNoise(StyleGAN2Generator):
        def make_noise(self, n, noise_mode="random", noise_seed=None, indices=None, device=None):
            return super().make_noise(n, "const", device=device)

    Gconst = ConstNoise(G.net, "stylegan2-bench")

    best = {}
    outputs = {}
    impls = {
        "stylegan-eval (fp32)": lambda: run_ours(Gconst, dist, n, bs),
        "torchmetrics 1.9 PerceptualPathLength": run_torchmetrics(G, dist, z0, z1, n, bs),
        "torch-fidelity 0.4 PPL": run_torch_fidelity(G, dist, z0, z1, n, bs),
        "stylegan-eval (bf16 autocast)": lambda: run_ours(Gconst, dist, n, bs, "bf16"),
        "stylegan-eval (fp32, default per-pair seeded noise)": lambda: run_ours(G, dist, n, bs),
    }
    for _ in range(args.repeats):  # interleaved, so load from other processes hits all alike
        for name, fn in impls.items():
            outputs[name], sec = timed(fn)
            best[name] = min(best.get(name, float("inf")), sec)
    results = {name: (n / best[name], outputs[name]) for name in impls}

    ref = results["stylegan-eval (fp32)"][1]
    fastest_peer = max(v[0] for k, v in results.items() if "stylegan-eval" not in k)
    print(f"Machine: {machine()}")
    table, style_dim = CONFIGS[args.config]
    print(
        f"Generator: StyleGAN2 {args.resolution}px '{args.config}' (mapping 4x{style_dim}, channels {table[4]}->{table[args.resolution]}), random init; LPIPS-VGG16 random backbone + v0.1 heads"
    )
    print(
        f"Settings: Z space, end, lerp, resize 64, float images, eps 1e-4, {n} pairs, batch {bs} pairs, best of {args.repeats}"
    )
    print()
    print("| implementation | pairs/s | vs faster peer | max rel. diff of per-pair distances vs stylegan-eval fp32 |")
    print("|---|---|---|---|")
    for name, (sps, out) in results.items():
        rel = float(np.max(np.abs(out - ref) / np.maximum(np.abs(ref), 1e-12)))
        rel_text = "n/a (other noise maps)" if "seeded noise" in name else f"{rel:.2e}"
        print(f"| {name} | {sps:.2f} | {sps / fastest_peer:.2f}x | {rel_text} |")
    breakdown(G, dist, bs, args.repeats)


def breakdown(G, dist, bs, repeats):
    """Best-of-``repeats`` seconds per batch of ``bs`` pairs for each stage (less sensitive to load)."""
    from torchmetrics.functional.image.lpips import _LPIPS

    net = _LPIPS(pretrained=True, net="vgg", resize=64, pnet_rand=True)
    net.net.load_state_dict(dist.net.state_dict())
    z = sampling.normal(0, sampling.Z, torch.arange(2 * bs), (G.z_dim,))

    def best(fn):
        fn()
        out = float("inf")
        for _ in range(repeats):
            out = min(out, timed(fn)[1])
        return out

    with torch.inference_mode():
        img = G.generate(z, noise_mode="const")
        scaled = (img + 1) * 127.5
        rows = {
            "generator, 2x batch (same code for all)": best(lambda: G.generate(z, noise_mode="const")),
            "per-pair seeded noise maps (stylegan-eval default only)": best(
                lambda: G.make_noise(bs, "random", noise_seed=0, indices=torch.arange(bs))
            ),
            "LPIPS, stylegan-eval (pair batch, channels-last)": best(lambda: dist.paired(P.preprocess(img, False, 64))),
            "LPIPS, torchmetrics _LPIPS (two halves, NCHW)": best(
                lambda: net(2 * (scaled[:bs] / 255) - 1, 2 * (scaled[bs:] / 255) - 1)
            ),
        }
    print()
    print(f"Per-batch stage times ({bs} pairs = {2 * bs} images, best of {repeats}):")
    print()
    print("| stage | seconds per batch |")
    print("|---|---|")
    for k, v in rows.items():
        print(f"| {k} | {v:.3f} |")


if __name__ == "__main__":
    main()
