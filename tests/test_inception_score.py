"""Inception Score: closed forms, torch-fidelity on the same logits, the entry point's plumbing."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from stylegan_eval.metrics.inception_score import (
    inception_score,
    inception_score_from_logits,
    inception_score_from_probabilities,
)

sys.path.insert(0, str(Path(__file__).parent))


def test_uniform_predictions_score_one():
    mean, std, splits = inception_score_from_logits(torch.zeros(100, 1008))
    assert mean == pytest.approx(1.0, abs=1e-12) and std == pytest.approx(0.0, abs=1e-12) and len(splits) == 10


def test_confident_balanced_predictions_score_the_class_count():
    classes = 7
    labels = torch.arange(10 * classes) % classes  # every split holds each class once
    probs = torch.nn.functional.one_hot(labels, classes).double() * (1 - 1e-12) + 1e-12 / classes
    mean, std, _ = inception_score_from_probabilities(probs)
    assert mean == pytest.approx(classes, rel=1e-8) and std < 1e-8


def test_matches_torch_fidelity_on_the_same_logits():
    from torch_fidelity.metric_isc import isc_features_to_metric

    logits = torch.randn(230, 50, generator=torch.Generator().manual_seed(0)) * 3
    mean, std, _ = inception_score_from_logits(logits, 10)
    ref = isc_features_to_metric(logits, splits=10, shuffle=False)
    assert abs(mean - ref["inception_score_mean"]) < 1e-6 and abs(std - ref["inception_score_std"]) < 1e-6


def test_probabilities_and_logits_routes_agree():
    logits = torch.randn(60, 12, generator=torch.Generator().manual_seed(1)).double()
    a = inception_score_from_logits(logits, 6)
    b = inception_score_from_probabilities(logits.softmax(1), 6)
    assert a[0] == pytest.approx(b[0], rel=1e-10) and a[1] == pytest.approx(b[1], rel=1e-8, abs=1e-12)


def test_fid_inception_has_the_unbiased_logit_layer():
    from stylegan_eval.metrics.inception import FIDInceptionV3

    sd = FIDInceptionV3().state_dict()  # the pytorch-fid file's keys: fc is part of it
    assert sd["fc.weight"].shape == (1008, 2048) and sd["fc.bias"].shape == (1008,)


class _TinyInception(torch.nn.Module):
    """A stand-in detector with the Inception Score hook: logits from pooled pixels."""

    name = "tiny"

    def __init__(self) -> None:
        super().__init__()
        self.random_weights = ["tiny (test)"]
        self.w = torch.randn(3 * 16, 10, generator=torch.Generator().manual_seed(2))

    def logits_unbiased(self, images):
        x = torch.nn.functional.adaptive_avg_pool2d(images.float() / 255, 4).flatten(1)
        return (x - 0.5) @ self.w * 4

    def describe(self):
        return {"detector": self.name}


def test_entry_point_is_deterministic_and_batch_independent(monkeypatch):
    from eq_toys import BandLimitedGenerator

    from stylegan_eval.metrics import inception_score as mod

    monkeypatch.setattr(mod, "FeatureDetector", _TinyInception)  # accept the stand-in as a built detector
    g = BandLimitedGenerator(16)
    a = inception_score(g, num_samples=40, num_splits=4, batch_size=8, detector=_TinyInception())
    b = inception_score(g, num_samples=40, num_splits=4, batch_size=5, detector=_TinyInception())
    assert a.name == "is40_splits4"
    # batch shapes may round the generator's kernels differently (engine docs): equal to float32 precision
    assert a.value == pytest.approx(b.value, rel=1e-6) and a.spread["is"] == pytest.approx(
        b.spread["is"], rel=1e-4, abs=1e-7
    )
    assert a.value > 1.0 and len(a.extra["splits"]) == 4 and a.random_weights
    assert np.isfinite(a.spread["is"])
