"""The computations whose results tests/test_pinned_values.py pins, runnable in a subprocess.

``python tests/pinned_computation.py evaluate|demo|inputs [--threads N] [--mkldnn 0|1]`` prints
one JSON object: the values (``evaluate``, ``demo``) or the sha256 digests of the sampled inputs
(``inputs``). The kernel path is chosen by the caller through ``ATEN_CPU_CAPABILITY`` (read by
torch at import), ``--mkldnn`` (oneDNN on or off) and ``--threads`` (reductions split by thread
count). The detectors run at random initialisation (offline, package weights off), so the pins
do not depend on which published weights a machine holds.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path

if __name__ == "__main__":  # the worktree's package, whatever the current directory
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

#: Environment every pinned computation runs under (random-init detectors, no network).
PINNED_ENV = {"STYLEGAN_EVAL_OFFLINE": "1", "STYLEGAN_EVAL_PACKAGE_WEIGHTS": "0", "MPLBACKEND": "Agg"}
#: The reference kernel path of the pins: ATen's scalar kernels, MKL and oneDNN at their x86-64
#: baseline (what every x86-64 CPU runs), oneDNN on, one thread (``--threads 1 --mkldnn 1``).
REFERENCE_ENV = {"ATEN_CPU_CAPABILITY": "default", "MKL_ENABLE_INSTRUCTIONS": "SSE4_2", "ONEDNN_MAX_CPU_ISA": "SSE41"}

#: api.evaluate: samples per metric, sampling seed, real-image folder seed.
EVALUATE_SAMPLES = 16
EVALUATE_SEED = 1
REAL_SEED = 5
EVALUATE_METRICS = ("ppl_zfull", "ppl_wend", "ppl2_wend", "ls_z", "ls_w", "fid", "kid")
#: run_demo's arguments.
DEMO_ARGS = {"num_samples": 8, "fid_samples": 8, "sep_samples": 64}


def evaluate_values(workdir: Path) -> dict[str, list[float | None]]:
    """api.evaluate of the demo generator: metric -> [value, ci95_low, ci95_high]."""
    from stylegan_eval import demo
    from stylegan_eval.api import evaluate
    from stylegan_eval.demo import shapes
    from stylegan_eval.formats import load_generator

    folder = shapes.write_png_folder(workdir / "real", EVALUATE_SAMPLES, seed=REAL_SEED)
    res = evaluate(
        load_generator(demo.default_checkpoint()),
        list(EVALUATE_METRICS),
        num_samples=EVALUATE_SAMPLES,
        seed=EVALUATE_SEED,
        data=folder,
        classifiers=list(demo.classifier_paths().values()),
        allow_random_weights=True,
        fid_method="eigen",
        svm="fast",
        details=True,
    )
    return {k: [m.value, m.ci_low, m.ci_high] for k, m in res.items()}


def demo_values() -> dict[str, list[float | None]]:
    """run_demo's table: '<section>/<metric>[/<space>]' -> [value, ci95_low, ci95_high]."""
    from stylegan_eval.commands.demo import run_demo

    rep = run_demo(DEMO_ARGS["num_samples"], None, fid_samples=DEMO_ARGS["fid_samples"],
                   sep_samples=DEMO_ARGS["sep_samples"], device="cpu")  # fmt: skip
    out: dict[str, list[float | None]] = {}
    for r in rep.table.to_dict(orient="records"):
        key = "/".join(str(r[c]) for c in ("section", "metric", "space", "attribute") if isinstance(r.get(c), str))
        out[key] = [_num(r.get("value")), _num(r.get("ci95_low")), _num(r.get("ci95_high"))]
    return out


def _num(v) -> float | None:
    return None if v is None or v != v else float(v)


def _digest(*tensors) -> str:
    h = hashlib.sha256()
    for t in tensors:
        h.update(str(tuple(t.shape)).encode() + str(t.dtype).encode())
        h.update(t.detach().contiguous().cpu().numpy().tobytes())
    return h.hexdigest()


def input_digests(workdir: Path) -> dict[str, str]:
    """sha256 of every sampled input of :func:`evaluate_values` (bytes, shapes and dtypes)."""
    import torch

    from stylegan_eval import demo, sampling
    from stylegan_eval.demo import shapes
    from stylegan_eval.formats import load_generator
    from stylegan_eval.generator import labels, latents

    G = load_generator(demo.default_checkpoint())
    seed, idx = EVALUATE_SEED, torch.arange(EVALUATE_SAMPLES, dtype=torch.int64)
    folder = shapes.write_png_folder(workdir / "real", EVALUATE_SAMPLES, seed=REAL_SEED)
    png = hashlib.sha256(b"".join(p.read_bytes() for p in sorted(folder.iterdir())))
    lab = labels(G, seed, idx)
    forced = torch.nn.functional.one_hot(sampling.randint(seed, sampling.LABEL, idx, 10), 10)
    return {
        "z": _digest(latents(G, seed, idx, sampling.Z)),
        "z_end": _digest(latents(G, seed, idx, sampling.Z_END)),
        "t": _digest(sampling.uniform(seed, sampling.T, idx, ())),
        "noise": _digest(*G.make_noise(EVALUATE_SAMPLES, "random", noise_seed=seed, indices=idx)),
        "labels": "unconditional" if lab is None else _digest(lab),
        "labels_10_classes": _digest(forced),
        "real_pngs": png.hexdigest(),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("evaluate", "demo", "inputs"))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--mkldnn", type=int, choices=(0, 1), default=1)
    args = parser.parse_args(argv)
    os.environ.update(PINNED_ENV)
    import torch

    torch.set_num_threads(args.threads)
    torch.backends.mkldnn.enabled = bool(args.mkldnn)
    with tempfile.TemporaryDirectory() as tmp:
        if args.what == "evaluate":  # with the digests of its inputs, under the same kernel path
            result: dict = {**evaluate_values(Path(tmp)), "_inputs": input_digests(Path(tmp) / "inputs")}
        elif args.what == "demo":
            result = demo_values()
        else:
            result = input_digests(Path(tmp))
    result["_kernel"] = [torch.backends.cpu.get_cpu_capability(), args.threads, args.mkldnn]
    print(json.dumps(result))


if __name__ == "__main__":
    main()
