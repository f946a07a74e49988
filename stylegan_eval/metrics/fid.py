"""Fréchet Inception Distance (Heusel et al., "GANs Trained by a Two Time-Scale Update Rule", 2017): the entry point.

:func:`fid` (and :func:`stylegan_eval.metrics.kid.kid`) run the detector on real and generated
images and compare the feature statistics; the distance itself, its two solvers ('eigen',
'sqrtm') and their safeguards are in :mod:`stylegan_eval.metrics.frechet`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import ArgumentError
from .context import Raw, RunContext
from .frechet import FID_METHODS, FIDMethod, fid_from_stats
from .stats_cache import FeatureStats


# ------------------------------------------------------------------------------ the entry point
@dataclass
class FeatureMetricResult:
    """FID and/or KID of a generator against real data (what :func:`fid` and :func:`kid` return).

    Attributes:
        name: 'fid' or 'kid' (the headline output).
        fid: the FID, or None when only KID was asked for.
        kid, kid_std, kid_subset_size: KID mean and std over subsets, subset size (None without KID).
        num_real, num_gen: image counts of both sides.
        settings: every protocol setting.
        random_weights: detector networks that ran at random initialisation.
        warnings: rank-deficiency and real-data warnings.
        real_info: where the real statistics came from (cache hit, skipped images, ...).
        detector: the detector's description (name, weights file and sha256, resize).
        seconds: wall-clock seconds per phase.
    """

    name: str
    fid: float | None
    kid: float | None
    kid_std: float | None
    kid_subset_size: int | None
    num_real: int | None
    num_gen: int
    settings: dict[str, Any] = field(default_factory=dict)
    random_weights: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    real_info: dict[str, Any] = field(default_factory=dict)
    detector: dict[str, Any] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    fingerprint_: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def value(self) -> float:
        v = self.fid if self.name == "fid" else self.kid
        return float("nan") if v is None else float(v)

    def __float__(self) -> float:
        """``float(result)``: the headline :attr:`value`."""
        return float(self.value)

    def values(self) -> dict[str, float]:
        return {k: float(v) for k, v in (("fid", self.fid), ("kid", self.kid)) if v is not None}

    def __repr__(self) -> str:
        from .intervals import nice, result_repr

        shown = {}
        if self.fid is not None:
            shown["fid"] = nice(self.fid)
        if self.kid is not None:
            shown["kid"] = nice(self.kid, self.kid_std)
        return result_repr(
            "FeatureMetricResult",
            shown,
            num_gen=self.num_gen,
            num_real=self.num_real,
            random_weights=list(self.random_weights),
        )

    def to_frame(self) -> Any:
        """One row per output: metric, value, std (KID's over subsets), num_real, num_gen."""
        import pandas as pd

        rows = []
        if self.fid is not None:
            rows.append(
                {"metric": "fid", "value": self.fid, "std": None, "num_real": self.num_real, "num_gen": self.num_gen}
            )
        if self.kid is not None:
            rows.append(
                {
                    "metric": "kid",
                    "value": self.kid,
                    "std": self.kid_std,
                    "num_real": self.num_real,
                    "num_gen": self.num_gen,
                }
            )
        return pd.DataFrame(rows)

    def fingerprint(self) -> dict[str, Any]:
        """Every input the result depends on: generator digest, seed, sample count, detector
        (name, weights sha256, random flag, resize), the real data's identity and the protocol."""
        return dict(self.fingerprint_)


#: (output, max_real) -> registry name, for 50k generated images, no truncation, random noise.
_PROTOCOLS = {
    ("fid", None): "fid50k_full",
    ("fid", 50_000): "fid50k",
    ("kid", 1_000_000): "kid50k_full",
    ("kid", 50_000): "kid50k",
}


def protocol_name(
    output: str, num_samples: int, max_real: int | None, psi: float = 1.0, noise_mode: str = "random"
) -> str:
    """The registry name whose protocol these settings equal (``fid50k_full`` ...), else one spelling them
    (``fid_n8_realall``, ``kid_n1000_real50000_psi0.7``)."""
    if num_samples == 50_000 and psi == 1.0 and noise_mode == "random" and (output, max_real) in _PROTOCOLS:
        return _PROTOCOLS[(output, max_real)]
    name = f"{output}_n{num_samples}_real{'all' if max_real is None else max_real}"
    if psi != 1.0:
        name += f"_psi{psi:g}"
    if noise_mode != "random":
        name += f"_noise{noise_mode}"
    return name


def _sampling_of(
    generator: Any, feats: Any, num_samples: int, psi: float, noise_mode: str, class_idx: int | None
) -> tuple[int, float, str, int | None]:
    """(num_samples, psi, noise_mode, class_idx) the features were made with: generated images given as
    images count every one of them and have no sampling options (psi 1, noise 'random' name no protocol change)."""
    from .image_samples import GeneratedImages

    if isinstance(generator, GeneratedImages):
        return int(feats.shape[0]), 1.0, "random", None
    return num_samples, psi, noise_mode, class_idx


def _feature_metric(
    generator: Any,
    real: Any,
    outputs: tuple[str, ...],
    *,
    num_samples: int,
    seed: int,
    batch_size: int | None,
    show_progress: bool,
    state: Any,
    max_real: int | None,
    detector: Any,
    inception_weights: Any,
    allow_random_weights: bool,
    resize: str,
    method: str,
    low_rank: bool,
    psi: float,
    noise_mode: str,
    class_idx: int | None,
    kid_subsets: int,
    kid_subset_size: int,
    skip_bad: bool,
    num_workers: int | None,
    cache_dir: Any,
    no_cache: bool,
    real_stats: tuple | None = None,
    strict_data: bool = False,
) -> FeatureMetricResult:
    import time

    from ..runtime import generator_batch_size
    from . import inception
    from .common import generator_digest, resolve_state
    from .data_sizes import generator_sizes, size_warning
    from .features import generator_features
    from .image_samples import as_generated
    from .kid_estimator import kernel_inception_distance
    from .real import real_statistics, stats_warnings

    generator = as_generated(generator)
    if not (isinstance(num_samples, int) and num_samples >= 2):
        raise ArgumentError("num_samples", f"num_samples must be an integer >= 2, got {num_samples!r}")
    if method not in FID_METHODS:
        raise ArgumentError("method", f"method must be one of {FID_METHODS}, got {method!r}")
    if batch_size is not None and batch_size <= 0:
        raise ArgumentError("batch_size", f"batch_size must be positive, got {batch_size}")
    device = generator.device
    seconds: dict[str, float] = {}
    t = time.perf_counter()
    det = (
        detector
        if not isinstance(detector, str)
        else inception.make_detector(
            detector,
            inception_weights,
            allow_random=allow_random_weights,
            resize=resize,
            device=device,
        )
    )
    seconds["detector"] = time.perf_counter() - t
    t = time.perf_counter()
    if real_stats is not None:
        real_fs, real_info = real_stats
    else:
        real_fs, real_info = real_statistics(
            real,
            det,
            keep_features="kid" in outputs,
            batch_size=batch_size,
            device=device,
            show_progress=show_progress,
            skip_bad=skip_bad,
            num_workers=num_workers,
            cache_dir=cache_dir,
            no_cache=no_cache,
        )
    seconds["real"] = time.perf_counter() - t
    if max_real is not None and real_info.get("num_real") is not None and real_info["num_real"] > max_real:
        raise ArgumentError(
            "max_real",
            f"max_real={max_real}: subsampling the real images is not supported yet "
            f"(the real set has {real_info['num_real']}); use the _full variant",
        )
    fingerprint = {
        "metric": "+".join(outputs),
        "generator": generator_digest(generator),
        "seed": seed,
        "num_samples": num_samples,
        "psi": psi,
        "noise_mode": noise_mode,
        "class_idx": class_idx,
        **det.describe(),
        "random_weights": bool(det.random_weights),
        "real": real_info.get("identity"),
        "max_real": max_real,
        "method": method if "fid" in outputs else None,
        "low_rank": low_rank if "fid" in outputs else None,
        "kid_subsets": kid_subsets if "kid" in outputs else None,
        "kid_subset_size": kid_subset_size if "kid" in outputs else None,
    }
    if strict_data:  # refuse before generating when both sizes are already known
        size_warning(real_info.get("sizes"), generator_sizes(generator, num_samples), det, strict=True)
    resume = resolve_state(state, "fid", fingerprint)
    batch = batch_size or generator_batch_size(generator, device)
    t = time.perf_counter()
    feats = generator_features(
        generator,
        det,
        num_samples,
        batch_size=batch,
        seed=seed,
        psi=psi,
        noise_mode=noise_mode,
        class_idx=class_idx,
        show_progress=show_progress,
        state=resume,
    )
    seconds["generator"] = time.perf_counter() - t
    num_samples, psi, noise_mode, class_idx = _sampling_of(generator, feats, num_samples, psi, noise_mode, class_idx)
    sizes_note = size_warning(real_info.get("sizes"), generator_sizes(generator, num_samples), det, strict_data)
    fid_value = kid_value = kid_std = subset = None
    warnings: list[str] = []
    if "fid" in outputs:
        t = time.perf_counter()
        res = fid_from_stats(real_fs, FeatureStats.from_features(feats, keep=low_rank), method=method, device=device)  # type: ignore[arg-type]
        fid_value, warnings = res.fid, list(res.warnings)
        seconds["fid"] = time.perf_counter() - t
    if "kid" in outputs:
        t = time.perf_counter()
        k = kernel_inception_distance(real_fs.features, feats, kid_subsets, kid_subset_size, seed=seed, device=device)  # type: ignore[arg-type]
        kid_value, kid_std, subset = k.mean, k.std, k.subset_size
        seconds["kid"] = time.perf_counter() - t
    warnings += stats_warnings(det, real_info) + [n for n in (sizes_note,) if n]
    settings = {
        "num_gen": num_samples,
        "max_real": max_real,
        "fid_method": method,
        "low_rank": low_rank,
        "kid_subsets": kid_subsets,
        "kid_subset_size": kid_subset_size,
        "psi": psi,
        "noise_mode": noise_mode,
        "seed": seed,
        "detector": det.name,
        "resize": getattr(det, "resize", resize),
        "skip_bad_images": skip_bad,
        "covariance": "unbiased (N-1)",
        "batch_size": batch,
        "class_idx": class_idx,
        "protocol": {o: protocol_name(o, num_samples, max_real, psi, noise_mode) for o in outputs},
        "generated": getattr(generator, "kind", "generator"),
    }
    result = FeatureMetricResult(
        outputs[0],
        fid_value,
        kid_value,
        kid_std,
        subset,
        real_info.get("num_real"),
        num_samples,
        settings,
        list(det.random_weights),
        warnings,
        real_info,
        det.describe(),
        seconds,
        fingerprint,
    )
    if resume is not None and resume is not state:
        resume.clear()
    return result


def fid(
    generator: Any,
    real: Any,
    *,
    num_samples: int = 50_000,
    seed: int = 0,
    batch_size: int | None = None,
    show_progress: bool = False,
    state: Any = None,
    max_real: int | None = None,
    kid: bool = False,
    detector: Any = "pytorch-fid",
    inception_weights: Any = None,
    allow_random_weights: bool = False,
    resize: str = "detector",
    method: FIDMethod = "eigen",
    low_rank: bool = True,
    psi: float = 1.0,
    noise_mode: str = "random",
    class_idx: int | None = None,
    kid_subsets: int = 100,
    kid_subset_size: int = 1000,
    skip_bad: bool = False,
    num_workers: int | None = None,
    cache_dir: Any = None,
    no_cache: bool = False,
    real_stats: tuple | None = None,
    strict_data: bool = False,
) -> FeatureMetricResult:
    """FID of ``generator`` against ``real`` (and KID with ``kid=True``), as the reference computes it.

    Args:
        generator: a :class:`~stylegan_eval.generator.Generator` (eval mode, on its device), or the
            generated images themselves: an image folder or zip, an NCHW tensor (float [-1, 1] or
            uint8) or an iterable of them (:mod:`~stylegan_eval.metrics.image_samples`; every
            image is used, ``num_samples`` and the sampling options are then unused).
        real: an image folder or zip (statistics cached), a statistics file (.npz mu/sigma,
            .pkl mean/cov), a :class:`~stylegan_eval.metrics.stats_cache.FeatureStats` or a
            ``(mu, sigma)`` pair.
        num_samples: generated images (>= 2).
        seed: sampling seed (also the KID subsets' seed).
        batch_size: images per batch (None: by device and resolution).
        show_progress: progress bars on stderr.
        state: a ResumeState or ``(name, fingerprint) -> ResumeState | None`` (asked with "fid").
        max_real: at most this many real images (None: all; subsampling is not implemented).
        kid: also compute KID (needs the real features).
        detector: 'pytorch-fid', 'nvidia', or a detector instance; inception_weights its file.
        allow_random_weights: run the detector at random initialisation when its weights are missing.
        resize: 'detector' or 'clean'.
        method: 'sqrtm' (reference) or 'eigen'.
        low_rank: with 'eigen' and fewer generated images than feature dimensions, take the
            low-rank route (same value up to rounding; ``compare`` uses False, as it always has).
        psi, noise_mode, class_idx: generator sampling options.
        kid_subsets, kid_subset_size: KID's subsets (100 of at most 1000).
        skip_bad, num_workers, cache_dir, no_cache: real image decoding and caching.
        real_stats: ``(FeatureStats, info)`` already computed with this detector (shared by ``compare``).
        strict_data: refuse real images whose size differs from the generated ones' (or of mixed
            sizes) instead of warning (ArgumentError naming ``strict_data``).
    """
    outputs = ("fid", "kid") if kid else ("fid",)
    return _feature_metric(
        generator,
        real,
        outputs,
        num_samples=num_samples,
        seed=seed,
        batch_size=batch_size,
        show_progress=show_progress,
        state=state,
        max_real=max_real,
        detector=detector,
        inception_weights=inception_weights,
        allow_random_weights=allow_random_weights,
        resize=resize,
        method=method,
        low_rank=low_rank,
        psi=psi,
        noise_mode=noise_mode,
        class_idx=class_idx,
        kid_subsets=kid_subsets,
        kid_subset_size=kid_subset_size,
        skip_bad=skip_bad,
        num_workers=num_workers,
        cache_dir=cache_dir,
        no_cache=no_cache,
        real_stats=real_stats,
        strict_data=strict_data,
    )


# ------------------------------------------------------------------------------ registered runner
def run_registered(
    ctx: RunContext, outputs: tuple[str, ...], *, low_rank: bool = False, **protocol: Any
) -> dict[str, Raw]:
    """The registry's runner (:mod:`stylegan_eval.metrics.context`): FID, and KID when it is
    wanted too, from one generated pass against the comparison's shared real statistics.
    ``low_rank`` (see :func:`fid`) stays off unless the protocol turns it on (the ``fid`` command)."""
    from .real import feature_raws, feature_run_options

    with_kid = "kid" in outputs
    res = fid(
        ctx.generator,
        ctx.options.data,
        kid=with_kid,
        method=ctx.options.fid_method,  # type: ignore[arg-type]
        low_rank=low_rank,
        state=ctx.state("+".join(outputs)),
        **feature_run_options(ctx, keep_features=with_kid),
        **protocol,
    )
    return feature_raws(res, outputs)


def report_figures(report: Any, runs: Any = None) -> tuple[list[Any], list[str]]:
    """The registry's ``report_figures`` hook: the FID/KID bars of a ``fid`` report (its rows
    ``metric``, ``value``), drawn by :func:`stylegan_eval.figures.reports.fid_report_figures`."""
    from ..figures.reports import fid_report_figures

    return fid_report_figures(report)
