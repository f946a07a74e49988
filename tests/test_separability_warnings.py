"""Separability's degenerate-case warnings: one class kept, too few kept samples, an unconverged SVM."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from stylegan_eval.metrics import separability as sep


def _samples(n: int, dim: int, logits: np.ndarray) -> sep.SeparabilitySamples:
    rng = np.random.default_rng(0)
    z = rng.normal(size=(n, dim)).astype(np.float32)
    return sep.SeparabilitySamples(z, z.copy(), logits.astype(np.float32).reshape(n, -1), ["attr"], ["clf"], {}, [])


def test_one_class_kept_warns():
    n, dim = 400, 4
    logits = -np.abs(np.random.default_rng(1).normal(size=n)) - 0.1  # every sample in class 1
    res = sep.fit_separability(_samples(n, dim, logits), spaces=["z"], svm="fast")
    assert res.per_attribute["conditional_entropy_bits"].iloc[0] == 0
    assert any("one class" in w for w in res.meta["warnings"])


def test_too_few_kept_samples_warns():
    n, dim = 40, 32  # keeps 20 <= 32 dimensions: always linearly separable
    logits = np.random.default_rng(2).normal(size=n)
    res = sep.fit_separability(_samples(n, dim, logits), spaces=["z", "w"], svm="fast")
    hits = [w for w in res.meta["warnings"] if "do not exceed the 32 latent dimensions" in w]
    assert len(hits) == 2 and res.scores["z"] == pytest.approx(1.0)


def test_unconverged_svm_warns():
    table = pd.DataFrame(
        [
            {
                "space": "w",
                "attribute": "a",
                "label_balance": 0.4,
                "kept": 500,
                "converged": False,
                "svm_iterations": 1000,
            }
        ]
    )
    (msg,) = sep.degenerate_warnings(table, {"w": 8})
    assert "did not converge (1000 iterations)" in msg


@pytest.mark.slow
def test_no_warnings_on_the_demo_generator():
    from stylegan_eval.classifiers.registry import load_custom
    from stylegan_eval.demo import classifier_paths, default_checkpoint
    from stylegan_eval.formats import load_generator

    G = load_generator(default_checkpoint())
    clfs = [load_custom(p) for p in classifier_paths().values()]
    samples = sep.collect_samples(G, clfs, 400, seed=0, batch_size=100)
    res = sep.fit_separability(samples, keep=0.5, spaces=("z", "w"), svm="fast")
    assert res.meta["warnings"] == [], res.meta["warnings"]
