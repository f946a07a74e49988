"""Measure how far the pinned values move between the CPU kernel paths torch offers on this machine.

    python tools/pin_spread.py [evaluate|demo|inputs] [--threads 1 2] [--capabilities default avx2 avx512]
                               [--mkldnn 1 0] [--libraries native baseline]

Runs ``tests/pinned_computation.py`` in one subprocess per kernel path: every
``ATEN_CPU_CAPABILITY`` this CPU supports (default, avx2 where the CPU has AVX2+FMA, avx512
where it has AVX-512 F/BW/VL/DQ), oneDNN on and off, 1 and 2 intra-op threads, and the
libraries' own instruction sets native or at their x86-64 baseline (``MKL_ENABLE_INSTRUCTIONS=
SSE4_2``, ``ONEDNN_MAX_CPU_ISA=SSE41``: what MKL and oneDNN pick on other CPUs). Prints each
value's results and its maximum relative spread ``(max - min) / max|v|`` over all paths, then
the largest spread per metric, which tests/test_pinned_values.py turns into tolerances. For
``inputs`` it prints whether every path gave the same digests (they must: sampling is exact).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tests" / "pinned_computation.py"
#: Environment of the "baseline" library setting: MKL and oneDNN limited to SSE4.
BASELINE_LIBRARIES = {"MKL_ENABLE_INSTRUCTIONS": "SSE4_2", "ONEDNN_MAX_CPU_ISA": "SSE41"}


def cpu_capabilities() -> list[str]:
    """The ATEN_CPU_CAPABILITY values this CPU can run (x86 flags from /proc/cpuinfo)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return ["default"]
    flags = set()
    for line in text.splitlines():
        if line.startswith(("flags", "Features")):
            flags.update(line.split(":", 1)[1].split())
            break
    caps = ["default"]
    if {"avx2", "fma"} <= flags:
        caps.append("avx2")
    if {"avx512f", "avx512bw", "avx512vl", "avx512dq"} <= flags:
        caps.append("avx512")
    return caps


def run_path(what: str, capability: str, threads: int, mkldnn: int, libraries: str = "native") -> dict:
    """One subprocess of the pinned computation under the given kernel path."""
    env = {k: v for k, v in os.environ.items() if k not in BASELINE_LIBRARIES}
    env.update(ATEN_CPU_CAPABILITY=capability, PYTHONPATH=str(ROOT))
    if libraries == "baseline":
        env.update(BASELINE_LIBRARIES)
    cmd = [sys.executable, str(SCRIPT), what, "--threads", str(threads), "--mkldnn", str(mkldnn)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} (ATEN_CPU_CAPABILITY={capability}) failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def spreads(results: list[dict]) -> dict[str, float]:
    """'<key>[i]' -> max relative spread over the runs (0 where every run agrees exactly)."""
    out: dict[str, float] = {}
    for key in results[0]:
        if key.startswith("_"):
            continue
        for i, first in enumerate(results[0][key]):
            if first is None:
                continue
            vals = [float(r[key][i]) for r in results]
            scale = max(abs(v) for v in vals)
            out[f"{key}[{i}]"] = (max(vals) - min(vals)) / scale if scale else 0.0
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", nargs="?", default="evaluate", choices=("evaluate", "demo", "inputs"))
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--capabilities", nargs="+", default=None, help="default: every one this CPU has")
    parser.add_argument("--mkldnn", type=int, nargs="+", choices=(0, 1), default=[1, 0])
    parser.add_argument("--libraries", nargs="+", choices=("native", "baseline"), default=["native", "baseline"])
    args = parser.parse_args(argv)
    caps = args.capabilities or cpu_capabilities()
    results = []
    for libs, cap, mkldnn, threads in itertools.product(args.libraries, caps, args.mkldnn, args.threads):
        res = run_path(args.what, cap, threads, mkldnn, libs)
        res["_kernel"].append(libs)
        results.append(res)
        print(json.dumps(res), flush=True)
    if args.what == "inputs":
        same = all(
            {k: v for k, v in r.items() if k != "_kernel"} == {k: v for k, v in results[0].items() if k != "_kernel"}
            for r in results
        )
        print(f"inputs identical on all {len(results)} kernel paths: {same}")
        return
    print(
        f"\nmax relative spread over {len(results)} kernel paths (libraries {args.libraries} x {caps} "
        f"x oneDNN {args.mkldnn} x threads {args.threads}):"
    )
    worst: dict[str, float] = {}
    for key, spread in spreads(results).items():
        print(f"  {key:48s} {spread:.3e}")
        metric = key.rsplit("[", 1)[0]
        worst[metric] = max(worst.get(metric, 0.0), spread)
    print("\nper metric (value and interval bounds):")
    for metric, spread in worst.items():
        print(f"  {metric:48s} {spread:.3e}")


if __name__ == "__main__":
    main()
