"""The demo's metric values, pinned: refactors must leave them bit-identical (``==`` on floats, no tolerance).

Every number below was produced with the exact calls of these tests. They depend on the shipped demo generator and classifiers, the sampling engine and
the random-initialisation rule of the detectors (LPIPS VGG and Inception run at random weights
offline), so a change there legitimately needs new pins.

They were produced with one intra-op thread, and the tests run with one: CPU kernels split
their reductions by thread count, so the last bits differ between 1 and 2 threads (the same
float-rounding latitude the README states for batch sizes).
"""

from __future__ import annotations

import math

import pytest

pytestmark = pytest.mark.usefixtures("one_thread")


# run_demo(8, None, fid_samples=8, sep_samples=64, device="cpu"): (value, ci95_low, ci95_high)
DEMO_PPL = {
    "ppl_zfull": (10.729157974477857, 3.4525931334472264, 22.34732419025386),
    "ppl_zend": (33.78818478062749, 9.354841964226223, 71.07990437438711),
    "ppl_wfull": (12.770879209041595, 1.2438166488893334, 32.40919536994771),
    "ppl_wend": (86.4818126372993, 2.7592217114754027, 250.1152039148845),
}
DEMO_SEPARABILITY_SCORE = {"z": 1.0, "w": 1.0}
DEMO_FID = 1.1233356648356594

# api.evaluate(demo G, [...], num_samples=16, seed=1, data=<16 shapes PNGs, seed 5>, the four demo
# classifiers, allow_random_weights=True, fid_method="eigen", svm="fast", details=True)
EVALUATE = {
    "ppl_zfull": (16.043365985155106, 2.1058851933106784, 41.92576354322955),
    "ppl_wend": (5.409360983874649, 1.266534768487327, 12.819596071541309),
    "ppl2_wend": (4.639245441183448, 1.0532560796244073, 11.21347596978303),
    "ls_z": (1.0, None, None),
    "ls_w": (1.0, None, None),
    "fid": (1.5910182898746932, None, None),
    "kid": (2.3511910370683785e-05, None, None),
}


@pytest.mark.slow
def test_demo_values_are_pinned():
    from stylegan_eval.commands.demo import run_demo

    rep = run_demo(8, None, fid_samples=8, sep_samples=64, device="cpu")
    rows = rep.table.to_dict(orient="records")
    got_ppl = {r["metric"]: (r["value"], r["ci95_low"], r["ci95_high"]) for r in rows if r["section"] == "ppl"}
    assert got_ppl == DEMO_PPL
    scores = {r["space"]: r["value"] for r in rows if r["metric"] == "separability_score"}
    assert scores == DEMO_SEPARABILITY_SCORE
    entropies = [r["value"] for r in rows if r["metric"] == "conditional_entropy_bits"]
    assert len(entropies) == 8 and all(e == 0.0 for e in entropies)
    (fid,) = [r["value"] for r in rows if r["section"] == "fid"]
    assert fid == DEMO_FID


def test_evaluate_values_are_pinned(tmp_path):
    from stylegan_eval import demo
    from stylegan_eval.api import evaluate
    from stylegan_eval.demo import shapes
    from stylegan_eval.formats import load_generator

    folder = shapes.write_png_folder(tmp_path / "real", 16, seed=5)
    G = load_generator(demo.default_checkpoint())
    res = evaluate(
        G,
        list(EVALUATE),
        num_samples=16,
        seed=1,
        data=folder,
        classifiers=list(demo.classifier_paths().values()),
        allow_random_weights=True,
        fid_method="eigen",
        svm="fast",
        details=True,
    )
    got = {k: (m.value, m.ci_low, m.ci_high) for k, m in res.items()}
    assert got == EVALUATE
    assert all(math.isfinite(v[0]) for v in got.values())
