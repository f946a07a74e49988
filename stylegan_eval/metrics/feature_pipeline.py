"""The pipeline FID and KID share: detector, real statistics, generated features, estimators.

:func:`measure` runs it for :func:`stylegan_eval.metrics.fid.fid`, :func:`stylegan_eval.metrics.kid.kid`
and their registered runners with two typed objects: :class:`FeatureOptions` (the options both
entry points take: sampling, detector, real data) and :class:`Estimators` (what is computed from
the two feature sets). :func:`check_options` holds the checks of :class:`FeatureOptions` that
both modules' ``validate`` share.

Phases (each timed in ``FeatureMetricResult.seconds``): ``detector`` (built or given),
``real`` (statistics of the real data: a file, a cached image folder, or given),
``generator`` (detector features of the generated images, resumable), ``fid`` / ``kid``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Mapping

from ..errors import ArgumentError
from .context import RunContext
from .frechet import FID_METHODS
from .kid_estimator import MAX_SUBSET_SIZE, NUM_SUBSETS
from .stats_cache import FeatureStats


# ------------------------------------------------------------------------------ the result
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

        counts = {"num_real": self.num_real, "num_gen": self.num_gen}
        rows = []
        if self.fid is not None:
            rows.append({"metric": "fid", "value": self.fid, "std": None, **counts})
        if self.kid is not None:
            rows.append({"metric": "kid", "value": self.kid, "std": self.kid_std, **counts})
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


# ------------------------------------------------------------------------------ the options
@dataclass(frozen=True)
class FeatureOptions:
    """The options :func:`~stylegan_eval.metrics.fid.fid` and :func:`~stylegan_eval.metrics.kid.kid`
    share, with their names and defaults (checked by :func:`check_options`).

    Attributes:
        num_samples: generated images (>= 2; unused when generated images are given).
        seed: sampling seed (sample i uses (seed, i)); also the KID subsets' seed.
        batch_size: images per batch (None: by device and resolution).
        show_progress: progress bars on stderr.
        max_real: at most this many real images (None: all; subsampling is not implemented,
            so a larger real set is refused).
        detector: 'pytorch-fid', 'nvidia', 'dinov2-vitl14', 'clip-vitb32', or a built detector
            (:class:`~stylegan_eval.metrics.feature_detector.FeatureDetector`).
        inception_weights: the named detector's weights file (None: the weights manager's search).
        allow_random_weights: run the detector at random initialisation when its weights are
            missing (the result lists it in ``random_weights``).
        resize: 'detector' (the detector's own resize) or 'clean' (clean-fid's).
        psi: truncation (1: none); noise_mode: 'random', 'const' or 'none'; class_idx: the class
            of a conditional generator (None: random per sample).
        skip_bad: leave undecodable real images out (listed) instead of refusing the folder.
        num_workers: real image decoding processes (None: half the CPUs, at most 8; 0: in process).
        cache_dir, no_cache: the real statistics cache's folder (None: the default); bypass it.
        strict_data: refuse real images whose size differs from the generated ones' (or of mixed
            sizes) instead of warning.
    """

    num_samples: int = 50_000
    seed: int = 0
    batch_size: int | None = None
    show_progress: bool = False
    max_real: int | None = None
    detector: Any = "pytorch-fid"
    inception_weights: Any = None
    allow_random_weights: bool = False
    resize: str = "detector"
    psi: float = 1.0
    noise_mode: str = "random"
    class_idx: int | None = None
    skip_bad: bool = False
    num_workers: int | None = None
    cache_dir: Any = None
    no_cache: bool = False
    strict_data: bool = False

    @classmethod
    def pick(cls, arguments: Mapping[str, Any]) -> FeatureOptions:
        """The options among an entry point's ``arguments`` (its ``locals()``); the others are left out."""
        return cls(**{f.name: arguments[f.name] for f in fields(cls) if f.name in arguments})


@dataclass(frozen=True)
class Estimators:
    """What :func:`measure` computes from the real and generated features.

    Attributes:
        outputs: ``("fid",)``, ``("kid",)`` or ``("fid", "kid")``; the first is the headline.
        method: FID's matrix square root, 'eigen' or 'sqrtm' (:mod:`~stylegan_eval.metrics.frechet`).
        low_rank: with 'eigen' and fewer generated images than feature dimensions, take the
            low-rank route (the same value up to rounding).
        kid_subsets, kid_subset_size: KID's subsets (100 of at most 1000 features).
    """

    outputs: tuple[str, ...]
    method: str = "eigen"
    low_rank: bool = True
    kid_subsets: int = NUM_SUBSETS
    kid_subset_size: int = MAX_SUBSET_SIZE


def check_options(generator: Any, options: FeatureOptions) -> None:
    """The checks of :class:`FeatureOptions` (a metric's ``validate`` runs them first):
    ArgumentError naming the first argument out of range, before anything is built or read."""
    from .common import check_sampling
    from .inception_weights import DETECTORS, RESIZE_MODES
    from .modern_weights import MODERN_DETECTORS

    o = options
    check_sampling(
        generator,
        num_samples=o.num_samples,
        batch_size=o.batch_size,
        psi=o.psi,
        noise_mode=o.noise_mode,
        class_idx=o.class_idx,
    )
    if o.max_real is not None and not (isinstance(o.max_real, int) and o.max_real >= 1):
        raise ArgumentError("max_real", f"max_real must be a positive integer or None, got {o.max_real!r}")
    if isinstance(o.detector, str) and o.detector not in DETECTORS + MODERN_DETECTORS:
        raise ArgumentError("detector", f"detector must be one of {DETECTORS + MODERN_DETECTORS}, got {o.detector!r}")
    if o.resize not in RESIZE_MODES:
        raise ArgumentError("resize", f"resize must be one of {RESIZE_MODES}, got {o.resize!r}")
    if o.num_workers is not None and not (isinstance(o.num_workers, int) and o.num_workers >= 0):
        raise ArgumentError("num_workers", f"num_workers must be an integer >= 0 or None, got {o.num_workers!r}")


def check_method(method: str) -> None:
    """ArgumentError naming ``method`` unless it is one of :data:`~stylegan_eval.metrics.frechet.FID_METHODS`."""
    if method not in FID_METHODS:
        raise ArgumentError("method", f"method must be one of {FID_METHODS}, got {method!r}")


# ------------------------------------------------------------------------------ the phases
def _detector(options: FeatureOptions, device: Any) -> Any:
    """The built detector of ``options`` (a detector instance is used as given)."""
    from . import inception

    if not isinstance(options.detector, str):
        return options.detector
    return inception.make_detector(
        options.detector,
        options.inception_weights,
        allow_random=options.allow_random_weights,
        resize=options.resize,
        device=device,
    )


def _real_side(
    real: Any, det: Any, options: FeatureOptions, *, keep_features: bool, device: Any
) -> tuple[FeatureStats, dict[str, Any]]:
    """(statistics, info) of ``real`` (:func:`~stylegan_eval.metrics.real.real_statistics`)."""
    from .real import real_statistics

    return real_statistics(
        real,
        det,
        keep_features=keep_features,
        batch_size=options.batch_size,
        device=device,
        show_progress=options.show_progress,
        skip_bad=options.skip_bad,
        num_workers=options.num_workers,
        cache_dir=options.cache_dir,
        no_cache=options.no_cache,
    )


def _check_max_real(max_real: int | None, real_info: Mapping[str, Any]) -> None:
    """ArgumentError naming ``max_real`` when the real set is larger (subsampling it is not implemented)."""
    num_real = real_info.get("num_real")
    if max_real is not None and num_real is not None and num_real > max_real:
        raise ArgumentError(
            "max_real",
            f"max_real={max_real}: subsampling the real images is not supported yet "
            f"(the real set has {num_real}); use the _full variant",
        )


def feature_fingerprint(
    generator: Any, det: Any, real_info: Mapping[str, Any], options: FeatureOptions, estimators: Estimators
) -> dict[str, Any]:
    """Every input a FID/KID result depends on (the resume state is keyed on it too); the
    settings of an estimator not computed are None."""
    from .common import generator_digest

    outputs = estimators.outputs
    with_fid, with_kid = "fid" in outputs, "kid" in outputs
    return {
        "metric": "+".join(outputs),
        "generator": generator_digest(generator),
        "seed": options.seed,
        "num_samples": options.num_samples,
        "psi": options.psi,
        "noise_mode": options.noise_mode,
        "class_idx": options.class_idx,
        **det.describe(),
        "random_weights": bool(det.random_weights),
        "real": real_info.get("identity"),
        "max_real": options.max_real,
        "method": estimators.method if with_fid else None,
        "low_rank": estimators.low_rank if with_fid else None,
        "kid_subsets": estimators.kid_subsets if with_kid else None,
        "kid_subset_size": estimators.kid_subset_size if with_kid else None,
    }


def _generated_features(generator: Any, det: Any, options: FeatureOptions, batch: int, resume: Any) -> Any:
    """Detector features [N, D] of the generated images (sampled, or the images given)."""
    from .features import generator_features

    o = options
    return generator_features(
        generator,
        det,
        o.num_samples,
        batch_size=batch,
        seed=o.seed,
        psi=o.psi,
        noise_mode=o.noise_mode,
        class_idx=o.class_idx,
        show_progress=o.show_progress,
        state=resume,
    )


def _as_sampled(generator: Any, feats: Any, options: FeatureOptions) -> FeatureOptions:
    """The options the features were made with: generated images given as images count every
    one of them and have no sampling options (psi 1 and noise 'random' name no protocol change)."""
    from dataclasses import replace

    from .image_samples import GeneratedImages

    if isinstance(generator, GeneratedImages):
        return replace(options, num_samples=int(feats.shape[0]), psi=1.0, noise_mode="random", class_idx=None)
    return options


@dataclass
class _Estimates:
    fid: float | None = None
    kid: float | None = None
    kid_std: float | None = None
    kid_subset_size: int | None = None
    warnings: list[str] = field(default_factory=list)


def _estimate(
    real_fs: FeatureStats, feats: Any, estimators: Estimators, *, seed: int, device: Any, timer: Any
) -> _Estimates:
    """FID and/or KID of the real statistics against the generated features."""
    from .frechet import fid_from_stats
    from .kid_estimator import kernel_inception_distance

    out = _Estimates()
    e = estimators
    if "fid" in e.outputs:
        with timer("fid"):
            gen_fs = FeatureStats.from_features(feats, keep=e.low_rank)
            res = fid_from_stats(real_fs, gen_fs, method=e.method, device=device)  # type: ignore[arg-type]
        out.fid, out.warnings = res.fid, list(res.warnings)
    if "kid" in e.outputs:
        if real_fs.features is None:  # statistics passed in as real_stats without them
            raise ArgumentError("kid", "KID needs the real images' features, which these statistics do not hold")
        with timer("kid"):
            k = kernel_inception_distance(
                real_fs.features, feats, e.kid_subsets, e.kid_subset_size, seed=seed, device=device
            )
        out.kid, out.kid_std, out.kid_subset_size = k.mean, k.std, k.subset_size
    return out


def _data_warnings(generator: Any, det: Any, real_info: dict[str, Any], options: FeatureOptions) -> list[str]:
    """Warnings about the real data: another detector's statistics file, skipped images, image
    sizes unlike the generated ones' (refused with ``strict_data``)."""
    from .data_sizes import generator_sizes, size_warning
    from .real import stats_warnings

    gen_sizes = generator_sizes(generator, options.num_samples)
    note = size_warning(real_info.get("sizes"), gen_sizes, det, options.strict_data)
    return stats_warnings(det, real_info) + ([note] if note else [])


def _settings(generator: Any, det: Any, options: FeatureOptions, estimators: Estimators, batch: int) -> dict[str, Any]:
    """The result's settings: every protocol choice, and the protocol names of its outputs."""
    o, e = options, estimators
    return {
        "num_gen": o.num_samples,
        "max_real": o.max_real,
        "fid_method": e.method,
        "low_rank": e.low_rank,
        "kid_subsets": e.kid_subsets,
        "kid_subset_size": e.kid_subset_size,
        "psi": o.psi,
        "noise_mode": o.noise_mode,
        "seed": o.seed,
        "detector": det.name,
        "resize": getattr(det, "resize", o.resize),
        "skip_bad_images": o.skip_bad,
        "covariance": "unbiased (N-1)",
        "batch_size": batch,
        "class_idx": o.class_idx,
        "protocol": {x: protocol_name(x, o.num_samples, o.max_real, o.psi, o.noise_mode) for x in e.outputs},
        "generated": getattr(generator, "kind", "generator"),
    }


# ------------------------------------------------------------------------------ the pipeline
def measure(
    generator: Any,
    real: Any,
    options: FeatureOptions,
    estimators: Estimators,
    *,
    state: Any = None,
    real_stats: tuple[FeatureStats, dict[str, Any]] | None = None,
) -> FeatureMetricResult:
    """FID and/or KID of ``generator`` against ``real`` (arguments as :func:`~stylegan_eval.metrics.fid.fid`'s,
    already checked by the calling module's ``validate``).

    Args:
        generator: a Generator, or generated images (:func:`~stylegan_eval.metrics.image_samples.as_generated`).
        real: image folder or zip, statistics file, FeatureStats or ``(mu, sigma)``.
        options, estimators: the pipeline's options and what it computes.
        state: a ResumeState or ``(name, fingerprint) -> ResumeState | None`` (asked with "fid").
        real_stats: ``(FeatureStats, info)`` already computed with this detector (then ``real`` is unused).
    """
    from ..runtime import Timer, generator_batch_size
    from .common import resolve_state
    from .data_sizes import generator_sizes, size_warning
    from .image_samples import as_generated

    generator = as_generated(generator)
    device, timer = generator.device, Timer()
    with timer("detector"):
        det = _detector(options, device)
    with timer("real"):
        keep = "kid" in estimators.outputs
        real_fs, real_info = real_stats or _real_side(real, det, options, keep_features=keep, device=device)
    _check_max_real(options.max_real, real_info)
    fingerprint = feature_fingerprint(generator, det, real_info, options, estimators)
    if options.strict_data:  # refuse before generating when both sizes are already known
        size_warning(real_info.get("sizes"), generator_sizes(generator, options.num_samples), det, strict=True)
    resume = resolve_state(state, "fid", fingerprint)
    batch = options.batch_size or generator_batch_size(generator, device, "fid_generated")
    with timer("generator"):
        feats = _generated_features(generator, det, options, batch, resume)
    used = _as_sampled(generator, feats, options)
    data_warnings = _data_warnings(generator, det, real_info, used)  # strict_data refuses here, before estimating
    est = _estimate(real_fs, feats, estimators, seed=used.seed, device=device, timer=timer)
    result = FeatureMetricResult(
        estimators.outputs[0],
        est.fid,
        est.kid,
        est.kid_std,
        est.kid_subset_size,
        real_info.get("num_real"),
        used.num_samples,
        _settings(generator, det, used, estimators, batch),
        list(det.random_weights),
        est.warnings + data_warnings,
        real_info,
        det.describe(),
        timer.seconds,
        fingerprint,
    )
    if resume is not None and resume is not state:
        resume.clear()
    return result


# ------------------------------------------------------------------------------ in a registered run
def context_options(ctx: RunContext, protocol: Mapping[str, Any]) -> FeatureOptions:
    """The options of a registered run: the run context's sampling and the user's detector and
    data choices, with the registry entry's ``protocol`` (FeatureOptions fields, e.g. ``max_real``)."""
    opts = ctx.options
    return FeatureOptions(
        num_samples=ctx.num_samples,
        seed=ctx.seed,
        batch_size=ctx.batch_size,
        show_progress=ctx.show_progress,
        detector=opts.detector,
        inception_weights=opts.inception_weights,
        allow_random_weights=opts.allow_random_weights,
        class_idx=ctx.class_idx,
        strict_data=opts.strict_data,
        resize=opts.resize,
        skip_bad=opts.skip_bad,
        num_workers=opts.num_workers,
        cache_dir=opts.cache_dir,
        no_cache=opts.no_cache,
        **protocol,
    )


def measure_in_context(
    ctx: RunContext, options: FeatureOptions, estimators: Estimators, *, label: str
) -> FeatureMetricResult:
    """:func:`measure` against the real statistics (and with the detector) built once per
    comparison / Evaluator and shared by every checkpoint; the resume state stored under ``label``."""
    from dataclasses import replace

    from .real import shared_real_statistics

    det, real_stats = shared_real_statistics(ctx, keep_features="kid" in estimators.outputs)
    return measure(
        ctx.generator,
        ctx.options.data,
        replace(options, detector=det),
        estimators,
        state=ctx.state(label),
        real_stats=real_stats,
    )
