"""Each evaluation stage against this machine's own measured arithmetic rate (a roofline table),
and the measured best batch of every stage the package runs per batch (its default batch sizes).

    python benchmarks/roofline.py [--stages gen32,fid32,...] [--quick] [--rounds 3] [--device cpu]
                                  [--json PATH] [--write-table PATH]

First measures the machine's rate for the operations the stages are made of, with torch at the
same thread count: fp32 matrix multiply (2048^3), fp32 3x3 convolution (256 -> 256 channels,
64x64) and fp64 matrix multiply (the precision/recall distance tiles and the FID square root run
in float64). Then, for every stage, in a fresh subprocess each (so that its peak memory is its
own), a sweep over batch sizes: the same workload (the largest batch's number of items) in
batches of each size, the sizes alternating within the process over ``--rounds`` rounds (best
of the rounds per size; the load average after each round is reported, as the machine may be
shared), FLOPs per item counted by ``torch.utils.flop_counter.FlopCounterMode`` at the best batch,
the achieved fraction of the measured rate of the stage's dominant operation, and the peak
resident memory of the process. The batch the package chooses by default
(``stylegan_eval.runtime.default_batch_size``) is swept too and reported against the best batch.

Stages: what the package runs per batch, through its own code (the *pipelines*: ``gen`` the
generator alone, ``fid`` generator + Inception, ``sep`` generator + attribute classifiers,
``ppl`` a batch of latent pairs + LPIPS, ``stats`` PNG decoding + Inception; at 32 px, the demo
generator, and 256 px, ``gen`` also at 1024 px), and on request (``--stages``) the single
networks (LPIPS-VGG16 at 256, the FID Inception at 299, the CelebA-HQ classifier at 256) and the
numeric stages (the separability SVM, the precision/recall distance tiles, the FID square root).
``--write-table PATH`` writes the pipelines' best batches into a batch-size table (see
``stylegan_eval/batch_table.py``; entries of other stages, resolutions or devices already in
PATH are kept): the package's own ``stylegan_eval/assets/batch-sizes.json``, or a user's table
named by ``$STYLEGAN_EVAL_BATCH_TABLE`` / ``batch-sizes.json`` in the cache folder.

Networks run at random initialisation (the published weights are not needed for speed): the
project's StyleGAN2 at 32 (the demo generator), 256 and 1024 px (config-f channels), LPIPS
VGG16, the FID Inception-v3 and the CelebA-HQ attribute classifier. Non-torch stages (the
separability SVM, the FID square root) report items/s and peak memory; the FID square root's
FLOPs are the eigendecompositions' textbook count (about 9 n^3 each, 2 of them), stated as such.

Tests never assert timings: this script only prints and writes what it measured.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch

ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------------------------------------
# Machine rates
# ---------------------------------------------------------------------------------------------


def _best_time(fn: Callable[[], Any], repeats: int) -> float:
    fn()  # warm-up: allocator, oneDNN primitive creation
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


@torch.inference_mode()
def machine_rates(device: str, repeats: int = 5) -> dict[str, float]:
    """Measured FLOP/s of fp32 matmul, fp32 3x3 conv and fp64 matmul on ``device``."""
    n = 2048
    a32, b32 = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    a64, b64 = a32.double(), b32.double()
    x = torch.randn(8, 256, 64, 64, device=device)
    conv = torch.nn.Conv2d(256, 256, 3, padding=1).to(device)
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)

    def run(f: Callable[[], Any]) -> Callable[[], None]:
        return lambda: (f(), sync())

    conv_flops = 2 * 8 * 256 * 256 * 9 * 64 * 64
    return {
        "matmul_fp32": 2 * n**3 / _best_time(run(lambda: a32 @ b32), repeats),
        "conv_fp32": conv_flops / _best_time(run(lambda: conv(x)), repeats),
        "matmul_fp64": 2 * n**3 / _best_time(run(lambda: a64 @ b64), max(2, repeats // 2)),
    }


# ---------------------------------------------------------------------------------------------
# Stages: each builds a callable f(batch) and says what an item is and what dominates it
# ---------------------------------------------------------------------------------------------


@dataclass
class Stage:
    name: str
    item: str
    dominant: str  # key of machine_rates()
    batches: tuple[int, ...]
    quick_batches: tuple[int, ...]
    counts_flops: bool = True
    #: (batch-table stage, resolution) for the stages the package runs per batch (their best
    #: batch goes into the table and they have a default); None for single networks and numerics.
    table: tuple[str, int] | None = None


def _pipe(name: str, stage: str, res: int, item: str, batches: tuple[int, ...], quick: tuple[int, ...]) -> Stage:
    return Stage(name, item, "conv_fp32", batches, quick, table=(stage, res))


SMALL, LARGE = (4, 8, 16, 32, 64), (1, 2, 4, 8)
STAGES = {
    "gen32": _pipe("gen32", "generate", 32, "image", (4, 8, 16, 32, 64, 128), (8, 32, 128)),
    "gen256": _pipe("gen256", "generate", 256, "image", LARGE, (1, 2, 4)),
    "gen1024": _pipe("gen1024", "generate", 1024, "image", (1, 2), (1,)),
    "fid32": _pipe("fid32", "fid_generated", 32, "image", SMALL, (4, 16, 64)),
    "fid256": _pipe("fid256", "fid_generated", 256, "image", LARGE, (1, 2, 4)),
    "sep32": _pipe("sep32", "separability", 32, "image", (8, 16, 32, 64, 128), (16, 64, 128)),
    "sep256": _pipe("sep256", "separability", 256, "image", LARGE, (1, 4)),
    "ppl32": _pipe("ppl32", "ppl", 32, "pair", SMALL, (4, 16, 64)),
    "ppl256": _pipe("ppl256", "ppl", 256, "pair", LARGE, (1, 2, 4)),
    "stats32": _pipe("stats32", "stats", 32, "image", SMALL, (8, 32)),
    "stats256": _pipe("stats256", "stats", 256, "image", SMALL, (8, 32)),
    "lpips256": Stage("lpips256", "pair", "conv_fp32", (2, 4, 8, 16, 32), (4, 16)),
    "inception299": Stage("inception299", "image", "conv_fp32", (4, 8, 16, 32, 64), (8, 32)),
    "classifier256": Stage("classifier256", "image", "conv_fp32", (4, 8, 16, 32, 64), (8, 32)),
    "svm": Stage("svm", "sample", "matmul_fp64", (2000,), (2000,), counts_flops=False),
    "pr_tiles": Stage("pr_tiles", "distance", "matmul_fp64", (1024, 2048, 4096), (2048,)),
    "fid_sqrt": Stage("fid_sqrt", "covariance pair", "matmul_fp64", (1,), (1,), counts_flops=False),
}
#: Stages of a plain run: the pipelines the package runs (the single networks and numeric
#: stages are measured on request, ``--stages``).
DEFAULT_STAGES = (
    "gen32",
    "gen256",
    "gen1024",
    "fid32",
    "fid256",
    "sep32",
    "sep256",
    "ppl32",
    "ppl256",
    "stats32",
    "stats256",
)


def _generator(size: int, device: str):
    from stylegan_eval.formats import load_generator
    from stylegan_eval.networks.stylegan2 import StyleGAN2, StyleGAN2Generator

    if size == 32:
        return load_generator("demo", device=device)
    torch.manual_seed(0)
    return StyleGAN2Generator(StyleGAN2(size, channel_multiplier=2), "stylegan2").to(device).eval()


def _default_batch(name: str, device: torch.device) -> int | None:
    """The batch the package picks on its own for this stage (None for the single networks and
    numerics, which run only inside a pipeline), the way its call site asks for it."""
    from stylegan_eval import runtime

    table = STAGES[name].table
    if table is None:
        return None
    stage, res = table
    if stage == "stats":  # the dataset's image size is not known before it is read
        return runtime.default_batch_size(device, None, "stats")
    return runtime.generator_batch_size(_generator(res, str(device)), device, stage)


Run = Callable[[int, int], int]  # (batch, n) -> items processed, n items in batches of batch


def _looped(one_batch: Callable[[int], Any]) -> Run:
    """A single network's ``f(batch)`` as a :data:`Run`: whole batches until n items are done."""

    def run(b: int, n: int) -> int:
        calls = -(-n // b)
        for _ in range(calls):
            one_batch(b)
        return calls * b

    return run


def build(name: str, device: str, workload: int, sep_classifiers: int = 40) -> Run:
    """``f(batch, n)`` running n items of stage ``name`` in batches of ``batch``."""
    if name in STAGES and STAGES[name].table is not None and not name.startswith("gen"):
        return _build_pipeline(name, device, workload, sep_classifiers)
    gen = torch.Generator().manual_seed(0)
    if name.startswith("gen"):
        G = _generator(int(name[3:]), device)

        def run_gen(b: int) -> Any:
            z = torch.randn(b, G.z_dim, generator=gen).to(device)
            return G.generate(z, noise_mode="const")

        return _looped(run_gen)
    if name == "lpips256":
        from stylegan_eval.metrics.distances import make_distance

        dist = make_distance("lpips-vgg", allow_random=True, download=False).to(device).eval()
        return _looped(
            lambda b: dist(
                torch.rand(b, 3, 256, 256, device=device) * 2 - 1, torch.rand(b, 3, 256, 256, device=device) * 2 - 1
            )
        )
    if name == "inception299":
        from stylegan_eval.metrics.inception import FIDInceptionV3
        from stylegan_eval.networks.memory_format import channels_last_on_cpu, input_for

        net = channels_last_on_cpu(FIDInceptionV3().to(device).eval(), device)  # the package's layout
        return _looped(lambda b: net(input_for(net, torch.rand(b, 3, 299, 299, device=device) * 2 - 1)))
    if name == "classifier256":
        from stylegan_eval.classifiers.celebahq import random_classifier
        from stylegan_eval.networks.memory_format import channels_last_on_cpu, input_for

        clf = channels_last_on_cpu(random_classifier().to(device).eval(), device)
        return _looped(lambda b: clf(input_for(clf, torch.rand(b, 3, 256, 256, device=device) * 2 - 1)))
    one = _build_numeric(name, device)
    return lambda b, n: (one(b), _items(name, b))[1]


def _detector(device: str) -> Any:
    from stylegan_eval.metrics.inception import make_detector

    return make_detector("pytorch-fid", allow_random=True, download=False, device=device)


def _build_pipeline(name: str, device: str, workload: int, sep_classifiers: int) -> Run:
    """The package's own per-batch code for a pipeline stage, at random weights.

    fid: :func:`generator_features` (generator -> uint8 -> Inception at 299 px); sep:
    :func:`collect_samples` (generator + classifiers on the same batch: the four demo classifiers
    at 32 px, ``sep_classifiers`` passes of one random CelebA-HQ classifier at 256 px, as the 40
    attributes run); ppl: ppl2_wend's :func:`make_batch_fn` (mapping, pair synthesis, LPIPS-VGG16)
    through :func:`engine.collect`; stats: :func:`dataset_features` over a folder of ``workload``
    PNG files written from the generator (decoding in the package's default worker count).
    """
    stage, res = STAGES[name].table  # type: ignore[misc]
    G = _generator(res, device)
    if stage == "fid_generated":
        from stylegan_eval.metrics.features import generator_features

        det = _detector(device)
        return lambda b, n: len(generator_features(G, det, n, batch_size=b, show_progress=False))
    if stage == "separability":
        from stylegan_eval.metrics.separability import collect_samples

        if res == 32:
            from stylegan_eval import demo

            clfs: Any = demo.classifiers()
        else:
            from stylegan_eval.classifiers.celebahq import random_classifier

            module = random_classifier().to(device).eval()
            clfs = [(f"attribute{i}", module) for i in range(sep_classifiers)]
        return lambda b, n: len(collect_samples(G, clfs, max(2, n), batch_size=b).z)  # it needs 2 or more
    if stage == "ppl":
        from stylegan_eval.engine import collect
        from stylegan_eval.metrics.distances import make_distance
        from stylegan_eval.metrics.ppl import make_batch_fn, resolve_settings

        dist = make_distance("lpips-vgg", allow_random=True, download=False).to(device).eval()
        fn = make_batch_fn(G, dist, resolve_settings("ppl2_wend"))

        def run_ppl(b: int, n: int) -> int:
            with torch.inference_mode():
                return len(collect(fn, n, b, desc="ppl", show_progress=False)["distance"])

        return run_ppl
    return _build_stats(G, device, workload)


def _build_stats(G: Any, device: str, workload: int) -> Run:
    """Decode + Inception over ``workload`` PNG files (n is fixed by the folder)."""
    import tempfile

    from PIL import Image

    from stylegan_eval.metrics.features import dataset_features
    from stylegan_eval.metrics.real import default_workers
    from stylegan_eval.metrics.stats_cache import ImageSource

    folder = Path(tempfile.mkdtemp(prefix="roofline-stats-"))
    with torch.inference_mode():
        for i in range(workload):
            img = G.generate(torch.randn(1, G.z_dim, generator=torch.Generator().manual_seed(i)).to(device))
            u8 = (img[0].float() * 127.5 + 128).clamp(0, 255).to(torch.uint8).permute(1, 2, 0).cpu().numpy()
            Image.fromarray(u8).save(folder / f"{i:05d}.png")
    det = _detector(device)

    def run_stats(b: int, n: int) -> int:
        if n < workload:  # warm-up: the detector alone at this batch shape
            det(torch.randint(0, 256, (b, 3, G.resolution, G.resolution), dtype=torch.uint8, device=device))
            return b
        stats, _ = dataset_features(
            ImageSource(folder), det, batch_size=b, num_workers=default_workers(), device=device, show_progress=False
        )
        return int(stats.num)

    return run_stats


def _build_numeric(name: str, device: str) -> Callable[[int], Any]:
    import numpy as np

    rng = np.random.default_rng(0)
    if name == "svm":
        from stylegan_eval.metrics.separability import fit_svm

        x = rng.standard_normal((2000, 512)).astype(np.float32)
        y = (x[:, 0] + 0.5 * rng.standard_normal(2000) > 0).astype(np.int64)
        return lambda b: fit_svm(x[:b], y[:b], mode="reference")
    if name == "pr_tiles":
        from stylegan_eval.metrics.precision_recall import knn_radii

        feats = torch.from_numpy(rng.standard_normal((4096, 4096)).astype(np.float32))
        return lambda b: knn_radii(feats[:b], 3, device=device)
    if name == "fid_sqrt":
        from stylegan_eval.metrics.frechet import trace_sqrt_product_eigen

        a = rng.standard_normal((2048, 4096))
        s1, s2 = np.cov(a[:, :2048]), np.cov(a[:, 2048:])
        return lambda b: trace_sqrt_product_eigen(s1, s2, device=device)
    raise SystemExit(f"unknown stage {name!r} (choose from {', '.join(STAGES)})")


def _items(name: str, batch: int) -> int:
    """Items one call of batch ``batch`` handles (PR tiles: all pairwise distances)."""
    return batch * batch if name == "pr_tiles" else batch


def _flops_per_item(name: str, f: Run, batch: int) -> float | None:
    if name == "fid_sqrt":
        return 2 * 9 * 2048.0**3  # two symmetric eigendecompositions, textbook count
    if not STAGES[name].counts_flops:
        return None
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        items = f(batch, batch)
    return counter.get_total_flops() / items


@torch.inference_mode()
def child(
    name: str, batches: list[int], device: str, rounds: int, workload: int, sep_classifiers: int
) -> dict[str, Any]:
    """Sweep one stage in this process: every batch size once per round, the order alternating
    between rounds (so that a change in the machine's load hits every batch size alike), each
    timing the same ``workload`` items; best of the rounds per batch size, FLOPs per item at the
    best batch, the peak RSS of the process and the 1-minute load average after every round."""
    f = build(name, device, workload, sep_classifiers)
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    for b in batches:  # warm-up: allocator, oneDNN primitives of every batch shape
        f(b, b)
        sync()
    best = dict.fromkeys(batches, 0.0)
    loads = [os.getloadavg()[0]]
    for r in range(rounds):
        for b in batches if r % 2 == 0 else batches[::-1]:
            t = time.perf_counter()
            items = f(b, workload)
            sync()
            best[b] = max(best[b], items / (time.perf_counter() - t))
        loads.append(os.getloadavg()[0])
    top = max(best, key=lambda b: best[b])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB
    if device.startswith("cuda"):
        peak = torch.cuda.max_memory_allocated()
    return {
        "stage": name,
        "sweep": {str(b): v for b, v in best.items()},
        "flops_per_item": _flops_per_item(name, f, top),
        "peak_bytes": peak,
        "load_1min": [round(x, 2) for x in loads],
        "workload": workload,
        "rounds": rounds,
    }


def run_child(name: str, batches: list[int], args: argparse.Namespace) -> dict[str, Any]:
    """:func:`child` in a fresh process (its peak memory its own)."""
    workload = max(batches)
    cmd = [sys.executable, __file__, "--child", name, "--batches", ",".join(map(str, batches)), "--device", args.device]
    cmd += ["--rounds", str(args.rounds), "--workload", str(workload), "--sep-classifiers", str(args.sep_classifiers)]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=7200)
    if proc.returncode != 0:
        return {"stage": name, "error": proc.stderr.strip().splitlines()[-1:]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------


def summarise(stage: Stage, result: dict[str, Any], rates: dict[str, float], default: int | None) -> dict[str, Any]:
    if "error" in result:
        return {"stage": stage.name, "error": result["error"]}
    sweep = {int(b): v for b, v in result["sweep"].items()}
    best = max(sweep, key=lambda b: sweep[b])
    flops = result["flops_per_item"]
    achieved = flops * sweep[best] if flops else None
    return {
        "stage": stage.name,
        "item": stage.item,
        "best_batch": best,
        "items_per_s": sweep[best],
        "gflop_per_item": flops / 1e9 if flops else None,
        "achieved_gflops": achieved / 1e9 if achieved else None,
        "dominant": stage.dominant,
        "fraction_of_rate": achieved / rates[stage.dominant] if achieved else None,
        "peak_mib": result["peak_bytes"] / 2**20,
        "default_batch": default,
        "default_vs_best": sweep[default] / sweep[best] if default in sweep else None,
        "sweep": {b: round(v, 3) for b, v in sorted(sweep.items())},
        "load_1min": result["load_1min"],
    }


def _fmt(v: Any, spec: str = ".3g") -> str:
    return "-" if v is None else format(v, spec) if isinstance(v, float) else str(v)


def markdown(summary: list[dict[str, Any]], rates: dict[str, float], machine: dict[str, Any]) -> str:
    lines = [
        f"Machine: {machine['cpu']}, {machine['cores']} logical cores, torch {machine['torch']} "
        f"({machine['threads']} threads), device {machine['device']}; load average at start {machine['load']}",
        "",
        "Measured rates: "
        + ", ".join(f"{k} {v / 1e9:.1f} GFLOP/s" for k, v in rates.items())
        + " (2048^3 matmul; 3x3 conv 256->256 ch at 64x64, batch 8)",
        "",
        "| stage | item | best batch | items/s | GFLOP/item | achieved GFLOP/s | vs rate of | fraction | peak MiB | default batch | default vs best | sweep (batch: items/s) | load (1 min) per round |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in summary:
        if "error" in s:
            lines.append(f"| {s['stage']} | error: {s['error']} |" + " |" * 11)
            continue
        sweep = ", ".join(f"{b}: {v:g}" for b, v in s["sweep"].items())
        lines.append(
            f"| {s['stage']} | {s['item']} | {s['best_batch']} | {_fmt(s['items_per_s'])} | "
            f"{_fmt(s['gflop_per_item'])} | {_fmt(s['achieved_gflops'])} | {s['dominant']} | "
            f"{_fmt(s['fraction_of_rate'], '.0%')} | {s['peak_mib']:.0f} | {_fmt(s['default_batch'])} | "
            f"{_fmt(s['default_vs_best'], '.0%')} | {sweep} | {', '.join(map(str, s['load_1min']))} |"
        )
    return "\n".join(lines)


def machine_info(device: str) -> dict[str, Any]:
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "device": device,
        "load": ", ".join(f"{x:.2f}" for x in os.getloadavg()),
        "capability": torch.backends.cpu.get_cpu_capability(),
        "gpu": torch.cuda.get_device_name(device) if device.startswith("cuda") else None,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def table_entries(summary: list[dict[str, Any]], machine: dict[str, Any]) -> list[Any]:
    """Batch-table entries (:class:`stylegan_eval.batch_table.Entry`) of the measured pipeline stages."""
    from stylegan_eval.batch_table import Entry
    from stylegan_eval.runtime import num_parameters

    kind = "cuda" if machine["device"].startswith("cuda") else "cpu"
    where = f"{machine['gpu'] or machine['cpu']}, {machine['cores']} cores, torch {machine['torch']}"
    out = []
    for s in summary:
        table = STAGES[s["stage"]].table
        if table is None or "error" in s:
            continue
        stage, res = table
        out.append(
            Entry(
                device=kind,
                stage=stage,
                resolution=res,
                batch=s["best_batch"],
                num_params=None if stage == "stats" else num_parameters(_generator(res, "cpu")),
                items_per_s=round(s["items_per_s"], 4),
                machine=where[:200],
                date=time.strftime("%Y-%m-%d", time.gmtime()),
            )
        )
    return out


def _parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stages", default=",".join(DEFAULT_STAGES), help=f"comma-separated, from {', '.join(STAGES)}")
    ap.add_argument("--quick", action="store_true", help="fewer batch sizes per stage")
    ap.add_argument("--rounds", type=int, default=3, help="passes over the batch sizes (best of them per size)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--sep-classifiers", type=int, default=40, help="classifier passes per batch in sep256")
    ap.add_argument("--json", type=Path, help="also write the results as JSON")
    ap.add_argument("--write-table", type=Path, help="write the best batches into this batch-size table")
    ap.add_argument("--skip-default", action="store_true", help="sweep only the listed batch sizes, not the default")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--batches", help=argparse.SUPPRESS)
    ap.add_argument("--workload", type=int, help=argparse.SUPPRESS)
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    if args.child:
        batches = [int(b) for b in args.batches.split(",")]
        print(json.dumps(child(args.child, batches, args.device, args.rounds, args.workload, args.sep_classifiers)))
        return 0
    names = [s.strip() for s in args.stages.split(",") if s.strip()]
    unknown = [n for n in names if n not in STAGES]
    if unknown:
        raise SystemExit(f"--stages: unknown stage(s) {', '.join(unknown)} (choose from {', '.join(STAGES)})")
    machine = machine_info(args.device)
    rates = machine_rates(args.device)
    summary = []
    for name in names:
        stage = STAGES[name]
        default = None if args.skip_default else _default_batch(name, torch.device(args.device))
        batches = sorted(set(stage.quick_batches if args.quick else stage.batches) | ({default} if default else set()))
        summary.append(summarise(stage, run_child(name, batches, args), rates, default))
        print(f"{name}: {summary[-1]}", file=sys.stderr, flush=True)
        if args.write_table:  # after every stage, so that an interrupted run keeps what it measured
            from stylegan_eval.batch_table import write_table

            write_table(args.write_table, table_entries(summary[-1:], machine))
        if args.json:
            args.json.write_text(json.dumps({"machine": machine, "rates": rates, "stages": summary}, indent=1))
    print(markdown(summary, rates, machine))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
