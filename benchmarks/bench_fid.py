"""FID feature throughput: stylegan-eval vs pytorch-fid vs torch-fidelity vs clean-fid, same data and weights.

All four run the same Inception-v3 function: our seeded random FID Inception (the published
``pt_inception-2015-12-05-6726825d.pth`` cannot be downloaded here) saved as a state dict, which
loads unchanged into pytorch-fid's ``InceptionV3`` (its download patched to read the file) and
into torch-fidelity's ``FeatureExtractorInceptionV3`` (``feature_extractor_weights_path``).

Measured, on the device given (CPU by default), images/second of
1. real statistics: a folder of PNGs -> features (-> mu, sigma for stylegan-eval),
   each tool with its own loader and preprocessing (pytorch-fid: float [0, 1] + torch bilinear;
   torch-fidelity: uint8 + TF1-style bilinear; clean-fid: PIL bicubic antialiased resize per image
   on the CPU, then pytorch-fid's network; stylegan-eval pytorch-fid detector);
   decoding in the main process for all (0 loader workers);
2. generator features: a random-init StyleGAN2 (project network) -> uint8 -> features;
   pytorch-fid has no generator API, so the loop a user writes around it is timed; torch-fidelity
   runs its ``GenerativeModelModuleWrapper`` path, clean-fid its ``get_model_features``;
3. the statistics cache: stylegan-eval's first ``dataset_stats`` call (miss, computes and writes)
   and a second call on unchanged data (hit), in-process, and a second ``stylegan-eval stats``
   command (process start and imports included).
It also prints how far each peer's mean feature vector is from ours (same weights, so only
resize differences remain).

Usage: python benchmarks/bench_fid.py [--num-real 32] [--num-gen 16] [--batch-size 8] [--size 64]
Prints a Markdown section (``--append`` adds it to benchmarks/RESULTS.md).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

os.environ.setdefault("STYLEGAN_EVAL_OFFLINE", "1")

from stylegan_eval.imageops import to_uint8  # noqa: E402
from stylegan_eval.metrics.features import dataset_stats, generator_features  # noqa: E402
from stylegan_eval.metrics.inception import FIDInceptionV3, make_detector  # noqa: E402
from stylegan_eval.networks.stylegan2 import StyleGAN2, StyleGAN2Generator  # noqa: E402


def make_generator(resolution: int) -> StyleGAN2Generator:
    torch.manual_seed(0)
    table = {4: 128, 8: 128, 16: 64, 32: 64, 64: 32, 128: 16, 256: 8}
    net = StyleGAN2(resolution, style_dim=128, n_mlp=4, channels={r: c for r, c in table.items() if r <= resolution})
    return StyleGAN2Generator(net.eval().requires_grad_(False), "stylegan2-bench").eval()


def write_images(folder: Path, n: int, size: int) -> list[Path]:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    g = torch.Generator().manual_seed(0)
    x = F.interpolate(
        torch.rand(n, 3, size // 8, size // 8, generator=g), size=size, mode="bicubic", align_corners=False
    )
    arr = (x.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    paths = []
    for i, a in enumerate(arr):
        p = folder / f"{i:05d}.png"
        Image.fromarray(a).save(p)
        paths.append(p)
    return paths


REPEATS = 1


def _version(dist: str) -> str:
    import importlib.metadata as md

    return md.version(dist)


def timed(fn, repeats: int | None = None):
    """(result, best wall time over ``repeats`` runs): the shared CPU makes single runs noisy."""
    best, out = float("inf"), None
    for _ in range(repeats or REPEATS):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return out, best


def machine(device: torch.device) -> str:
    from stylegan_eval.report import cpu_model

    cpu = cpu_model()
    import importlib.metadata as md

    vers = ", ".join(
        f"{p} {md.version(p)}" for p in ("torch", "numpy", "scipy", "pytorch-fid", "torch-fidelity", "clean-fid")
    )
    dev = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    return (
        f"{platform.platform()}; CPU {cpu}, {os.cpu_count()} logical cores, torch threads {torch.get_num_threads()}; "
        f"device {dev}; python {platform.python_version()}, {vers}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--num-real", type=int, default=32)
    ap.add_argument("--num-gen", type=int, default=16)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--size", type=int, default=64, help="side of the real PNGs and of the generator output")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeats", type=int, default=2, help="best of this many runs per measurement")
    ap.add_argument("--append", action="store_true", help="append the section to benchmarks/RESULTS.md")
    args = ap.parse_args()
    global REPEATS
    REPEATS = args.repeats
    device = torch.device(args.device)
    cuda = device.type == "cuda"
    tmp = Path(tempfile.mkdtemp(prefix="bench_fid_"))
    os.environ["STYLEGAN_EVAL_CACHE"] = str(tmp / "cache")
    files = write_images(tmp / "real", args.num_real, args.size)
    weights_file = tmp / "random_fid_inception.pth"
    torch.save(FIDInceptionV3().randomize().state_dict(), weights_file)
    rows = []

    # ---------------------------------------------------------------- real statistics
    det = make_detector("pytorch-fid", weights_file, device=device, verify=False)
    det(torch.zeros(1, 3, args.size, args.size, dtype=torch.uint8, device=device))  # build + warm up
    (ours, _), t = timed(
        lambda: dataset_stats(
            tmp / "real",
            det,
            batch_size=args.batch_size,
            num_workers=0,
            use_cache=False,
            device=device,
            show_progress=False,
        )
    )
    rows.append(("real statistics", "stylegan-eval (pytorch-fid detector, float64 stats)", args.num_real / t))

    import pytorch_fid.inception as pfi
    from pytorch_fid.fid_score import calculate_activation_statistics

    pfi.load_state_dict_from_url = lambda *a, **k: torch.load(weights_file, map_location="cpu", weights_only=True)
    pf_model = pfi.InceptionV3([3]).eval().to(device)
    with torch.no_grad():
        pf_model(torch.zeros(1, 3, args.size, args.size, device=device))  # warm up
    (pf_mu, _), t = timed(
        lambda: calculate_activation_statistics(
            [str(p) for p in files], pf_model, args.batch_size, 2048, str(device), 0
        )
    )
    rows.append(("real statistics", "pytorch-fid 0.3.0 (calculate_activation_statistics)", args.num_real / t))

    from torch_fidelity.datasets import ImagesPathDataset
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
    from torch_fidelity.utils import get_featuresdict_from_dataset, get_featuresdict_from_generative_model

    tf_model = FeatureExtractorInceptionV3(
        "inception-v3-compat", ["2048"], feature_extractor_weights_path=str(weights_file)
    ).to(device)
    with torch.no_grad():
        tf_model(torch.zeros(1, 3, args.size, args.size, dtype=torch.uint8, device=device))  # warm up
    tf_feats, t = timed(
        lambda: get_featuresdict_from_dataset(
            ImagesPathDataset([str(p) for p in files]), tf_model, args.batch_size, cuda, True, False
        )["2048"]
    )
    rows.append(("real statistics", "torch-fidelity 0.4.0 (features only, no stats)", args.num_real / t))
    # clean-fid: its own folder loader and "clean" resize (PIL bicubic with antialiasing, on the
    # CPU, per image) in front of the same Inception weights (pytorch-fid's network, [0, 255] in).
    from cleanfid import fid as cfid

    def cf_model(x: torch.Tensor) -> torch.Tensor:
        return pf_model(x / 255)[0].squeeze(-1).squeeze(-1)

    cf_feats, t = timed(
        lambda: cfid.get_folder_features(
            str(tmp / "real"),
            cf_model,
            num_workers=0,
            batch_size=args.batch_size,
            device=device,
            mode="clean",
            verbose=False,
        )
    )
    rows.append(
        ("real statistics", f"clean-fid {_version('clean-fid')} (get_folder_features, mode clean)", args.num_real / t)
    )
    dev_pf = float(np.abs(pf_mu - ours.mu).max())
    dev_cf = float(np.abs(cf_feats.astype(np.float64).mean(0) - ours.mu).max())
    dev_tf = float(np.abs(tf_feats.double().mean(0).numpy() - ours.mu).max())

    # ---------------------------------------------------------------- generator features
    G = make_generator(args.size).to(device)
    G.generate(torch.zeros(1, G.z_dim, device=device))  # warm up
    _, t = timed(
        lambda: generator_features(G, det, args.num_gen, batch_size=args.batch_size, seed=0, show_progress=False)
    )
    rows.append(("generator features", "stylegan-eval (engine.collect, seeded per-sample z/noise)", args.num_gen / t))

    @torch.no_grad()
    def pytorch_fid_loop():
        out = []
        for start in range(0, args.num_gen, args.batch_size):
            n = min(args.batch_size, args.num_gen - start)
            img = G.generate(torch.randn(n, G.z_dim, device=device))
            x = to_uint8(img).float() / 255  # the same quantisation, then pytorch-fid's [0, 1] input
            out.append(pf_model(x)[0].squeeze(-1).squeeze(-1).cpu())
        return torch.cat(out)

    _, t = timed(pytorch_fid_loop)
    rows.append(
        ("generator features", "pytorch-fid 0.3.0 (user loop: generate -> uint8 -> /255 -> model)", args.num_gen / t)
    )

    from torch_fidelity import GenerativeModelModuleWrapper

    class U8(torch.nn.Module):
        def __init__(self, g):
            super().__init__()
            self.g = g

        def forward(self, z):
            return to_uint8(self.g.generate(z))

    wrapper = GenerativeModelModuleWrapper(U8(G), G.z_dim, "normal", 0)
    _, t = timed(
        lambda: get_featuresdict_from_generative_model(wrapper, tf_model, args.num_gen, args.batch_size, cuda, 0, False)
    )
    rows.append(("generator features", "torch-fidelity 0.4.0 (GenerativeModelModuleWrapper)", args.num_gen / t))

    def cf_generator(z: torch.Tensor) -> torch.Tensor:  # clean-fid wants [0, 255] images
        return to_uint8(G.generate(z)).float()

    _, t = timed(
        lambda: cfid.get_model_features(
            cf_generator,
            cf_model,
            mode="clean",
            z_dim=G.z_dim,
            num_gen=args.num_gen,
            batch_size=args.batch_size,
            device=device,
            verbose=False,
        )
    )
    rows.append(
        ("generator features", f"clean-fid {_version('clean-fid')} (get_model_features, mode clean)", args.num_gen / t)
    )

    # ---------------------------------------------------------------- cache
    (_, miss), t_miss = timed(
        lambda: dataset_stats(
            tmp / "real", det, batch_size=args.batch_size, num_workers=0, device=device, show_progress=False
        ),
        1,
    )
    (_, hit), t_hit = timed(
        lambda: dataset_stats(
            tmp / "real", det, batch_size=args.batch_size, num_workers=0, device=device, show_progress=False
        ),
        1,
    )
    assert not miss.cache_hit and hit.cache_hit and hit.files_hashed == 0
    # The CLI refuses weight files without the published hash, so it runs the built-in random
    # initialisation (--allow-random-weights); its first run fills that cache entry.
    cmd = [
        sys.executable,
        "-m",
        "stylegan_eval",
        "--no-config",
        "stats",
        str(tmp / "real"),
        "--out",
        str(tmp / "s.npz"),
        "--allow-random-weights",
        "--quiet",
        "--num-workers",
        "0",
        "--device",
        str(device),
    ]
    subprocess.run(cmd, check=True, capture_output=True)
    _, t_cli = timed(lambda: subprocess.run(cmd, check=True, capture_output=True), 1)
    import_cmd = [sys.executable, "-c", "import stylegan_eval.cli"]
    _, t_import = timed(lambda: subprocess.run(import_cmd, check=True, capture_output=True))

    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"## FID features (`benchmarks/bench_fid.py`, {now})",
        "",
        f"Machine: {machine(device)}",
        "",
        "All four tools run the **same random-initialised** FID Inception-v3 (seeded; the published "
        "`pt_inception-2015-12-05-6726825d.pth` cannot be downloaded here), loaded from one state-dict file: "
        "throughput only, no meaningful FID values. "
        f"{args.num_real} real PNGs of {args.size}x{args.size}, {args.num_gen} generated {args.size}x{args.size} images "
        f"(random-init StyleGAN2, style 128), batch {args.batch_size}, 0 loader workers, device {device}; "
        f"best of {args.repeats} runs each. "
        "The CPU was shared with other jobs, so absolute numbers are noisy.",
        "",
        "| what | tool | images/s |",
        "|---|---|---|",
    ]
    lines += [f"| {what} | {tool} | {ips:.2f} |" for what, tool, ips in rows]
    lines += [
        "",
        "| statistics cache | seconds |",
        "|---|---|",
        f"| first `dataset_stats` (miss: hash {miss.files_hashed} files, features, write) | {t_miss:.2f} |",
        f"| second `dataset_stats`, unchanged data (hit, {hit.files_hashed} files re-read) | {t_hit:.3f} |",
        f"| second `stylegan-eval stats` command, whole process | {t_cli:.2f} |",
        f"| of which: `python -c 'import stylegan_eval.cli'` alone | {t_import:.2f} |",
        "",
        f"Largest |mu_peer - mu_ours| over the 2048 features (same weights): pytorch-fid {dev_pf:.2e} "
        f"(same bilinear resize), torch-fidelity {dev_tf:.2e} (TF1-style bilinear resize, as NVIDIA's TorchScript), "
        f"clean-fid {dev_cf:.2e} (antialiased PIL bicubic resize: a different preprocessing, so a different value is expected).",
        "",
        f"Command: `python benchmarks/bench_fid.py --num-real {args.num_real} --num-gen {args.num_gen} --batch-size {args.batch_size} "
        f"--size {args.size} --repeats {args.repeats} --device {device}`",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.append:
        results = Path(__file__).with_name("RESULTS.md")
        header = (
            "# Benchmark results\n\nEach section names its script, machine and settings; numbers are from the machine "
            "stated in the section.\n\n"
        )
        if not results.exists():
            results.write_text(header)
        with open(results, "a") as f:  # append only: other benchmarks write their own sections
            f.write("\n" + text)


if __name__ == "__main__":
    main()
