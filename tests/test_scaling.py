"""How cost grows (benchmarks/scaling.py): the exponent fit, one real point of each cheap sweep,
and the precision/recall memory bound the sweep checks (one distance block alive at a time)."""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys
import weakref
from pathlib import Path

import numpy as np
import pytest
import torch

from stylegan_eval.metrics import precision_recall as pr

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def scaling():
    spec = importlib.util.spec_from_file_location("scaling", ROOT / "benchmarks" / "scaling.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_fit_exponent_recovers_power_laws(scaling):
    ns = np.array([1000, 2000, 4000, 8000])
    assert scaling.fit_exponent(ns, 3e-6 * ns**2) == pytest.approx(2.0)
    assert scaling.fit_exponent(ns, 5.0 * ns**0.5) == pytest.approx(0.5)
    assert scaling.fit_exponent(ns, [7.0] * 4) == pytest.approx(0.0, abs=1e-12)
    assert math.isnan(scaling.fit_exponent([1000], [1.0]))


def test_points_of_the_cheap_sweeps_and_their_tables(scaling, tmp_path):
    # the separability SVM at tiny sizes (a tenth of a second); the other sweeps run in the slow test below
    points = []
    for n in (300, 600):
        out = scaling.POINTS["svm"](n, tmp_path)
        points.append({**out, "kind": "svm", "n": n, "load": 0.0, "peak_rss_mib": out["base_rss_mib"] + 1.0})
    points.append({"kind": "svm", "n": 1200, "skipped": "not run: projected"})
    assert all(p["seconds"] > 0 for p in points[:2])
    assert "bits" in points[0]["note"] and "iters" in points[1]["note"]
    [row] = scaling.exponents(points)
    assert row["range"] == "300-600"
    assert row["memory"] == pytest.approx(0.0, abs=1e-12)  # peak - base is 1 MiB at both sizes
    text = scaling.markdown(points, "machine")
    assert text.count("| svm |") == 4  # three points (one skipped) + the exponent row
    assert "not run: projected" in text


def test_distance_blocks_are_freed_before_the_next_is_computed(monkeypatch):
    """Several column blocks per row block: no earlier block may still be alive when the next one is made."""
    alive_at_call: list[int] = []
    made: list[weakref.ref] = []
    original = pr._sq_block

    def tracked(*args):
        alive_at_call.append(sum(r() is not None for r in made))
        out = original(*args)
        made.append(weakref.ref(out))
        return out

    monkeypatch.setattr(pr, "_sq_block", tracked)
    g = torch.Generator().manual_seed(0)
    real, fake = torch.randn(70, 6, generator=g), torch.randn(50, 6, generator=g)
    ref = {k: v for k, v in pr.prdc(real, fake, 3, tile=8).items() if not k.endswith("radii")}
    alive_at_call.clear()
    out = pr.prdc(real, fake, 3, row_batch_size=16, col_batch_size=16, tile=8)
    assert len(alive_at_call) > 10
    assert max(alive_at_call) == 0
    assert {k: v for k, v in out.items() if not k.endswith("radii")} == ref  # same numbers as one block


@pytest.mark.slow
def test_quick_run_end_to_end(tmp_path):
    js = tmp_path / "points.json"
    cmd = [sys.executable, str(ROOT / "benchmarks" / "scaling.py"), "--quick", "--only", "pr,svm,stats"]
    proc = subprocess.run([*cmd, "--json", str(js), "--out", str(tmp_path / "t.md")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    points = json.loads(js.read_text())
    assert {p["kind"] for p in points} == {"pr", "svm", "stats"}
    assert all(p["seconds"] > 0 and p["peak_rss_mib"] >= p["base_rss_mib"] for p in points), points
    assert "time exponent" in (tmp_path / "t.md").read_text()
