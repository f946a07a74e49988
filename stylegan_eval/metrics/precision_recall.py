"""Improved precision and recall (Kynkäänniemi et al. 2019) with density and coverage (Naeem et al. 2020).

Protocol (NVIDIA's ``metrics/precision_recall.py``, ``pr50k3_full``): features of NVIDIA's
TorchScript VGG16 (``vgg16.pt``, ``return_features=True``, 4096-d) for up to 200k real images
(the first ``max_real`` in file order; 50k for ``pr50k3``) and 50k generated ones, stored as
float16 as NVIDIA stores them. The k-NN radius of a point is its (k+1)-th smallest Euclidean
distance to the points of its own set (the point itself counts as the first), k = 3.

- precision: the fraction of generated points within the radius of *any* real point (``<=``);
- recall: the fraction of real points within the radius of any generated point (``<=``);
- density: (1 / (k M)) sum over generated points of the number of real balls containing them;
- coverage: the fraction of real points whose nearest generated point lies inside their ball.
Density and coverage use ``<`` as Naeem et al.'s reference code does; they come from the same
real x generated distance blocks as precision and recall.

Distances are computed block by block on the features' device, never as an N x N matrix: row
batches of ``row_batch_size`` against column batches of ``col_batch_size``, keeping only a
running top-(k+1) per row (k-NN) or per-row / per-column reductions (the cross pass). Memory is
O(row_batch_size x col_batch_size) beyond the features themselves: one float64 block at a time.

Exactness: every squared distance is ``|x|^2 + |y|^2 - 2 x.y`` in float64 from one GEMM call of a
fixed *tile* shape (``tile`` x D times D x ``tile``, zero-padded at the ends), and batches are
whole numbers of tiles, so an element's value does not depend on the batch sizes (kernels are
chosen by shape) nor on which process computes it; the k-th neighbour selection (``topk``) and
the comparisons are then exact. Row batches are sharded across processes round-robin
(:class:`~stylegan_eval.engine.DistInfo`); integer counts and exact minima are all-reduced.
"""

from __future__ import annotations

import copy
import os
from typing import Any

import numpy as np
import torch

from .. import weights
from ..engine import DistInfo
from ..errors import ArgumentError, UserError, WeightsUnavailable
from .common import generator_fingerprint, resolve_state
from .context import Raw, RunContext
from .detector_weights import DetectorWeights
from .distances import NVIDIA_VGG16
from .feature_detector import FeatureDetector
from .result_simple import SimpleResult, raws, run_options

NHOOD_SIZE = 3
ROW_BATCH = 10_000
COL_BATCH = 10_000
TILE = 1024
VGG_FEATURE_DIM = 4096


# ------------------------------------------------------------------------------ detector
class NvidiaVGG16Detector(FeatureDetector):
    """NVIDIA's TorchScript VGG16 as a feature detector: uint8 NCHW -> float32 [N, 4096] (``return_features=True``).

    The network resizes to 224 inside. Its architecture lives in the file, so there is no
    random-initialisation fallback; the file's sha256 is verified before ``torch.jit.load``.
    """

    name = "nvidia-vgg16"
    feature_dim = VGG_FEATURE_DIM

    def __init__(
        self, weights_path: str | os.PathLike | None = None, download: bool = True, device: torch.device | str = "cpu"
    ) -> None:
        found = weights.fetch(NVIDIA_VGG16, weights_path, download=download)
        super().__init__(DetectorWeights(self.name, "detector", str(found), weights._digest(found)))
        try:
            self.net = torch.jit.load(str(found), map_location=torch.device(device)).eval()
        except Exception as exc:  # noqa: BLE001
            raise WeightsUnavailable(f"{found}: not a TorchScript VGG16 ({str(exc).splitlines()[0][:200]})") from None

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        self._check(images)
        return self.net(images, return_features=True).reshape(images.shape[0], -1).float()


class RandomVGG16Detector(FeatureDetector):
    """Only with ``allow_random_weights``: torchvision's VGG16 at a seeded random initialisation, its
    4096-d second fully connected layer at 224x224 (the layer NVIDIA's file returns). The numbers then
    compare only with each other; ``random_weights`` says so in every report."""

    name = "vgg16-random"
    feature_dim = VGG_FEATURE_DIM

    def __init__(self, device: torch.device | str = "cpu", seed: int = 0) -> None:
        super().__init__(
            DetectorWeights(self.name, "detector", None, f"random-init-seed{seed}", ["VGG16 (precision/recall)"])
        )
        import torchvision

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            net = torchvision.models.vgg16(weights=None)
        net.classifier = net.classifier[:5]  # fc1, relu, dropout, fc2, relu: the 4096-d features
        self.net = net.to(device).eval()

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        self._check(images)
        x = torch.nn.functional.interpolate(images.float(), size=(224, 224), mode="bilinear", align_corners=False)
        mean = x.new_tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
        std = x.new_tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
        return self.net((x / 255 - mean) / std).float()


def default_detector(
    weights_path: str | os.PathLike | None, allow_random: bool, device: torch.device | str
) -> FeatureDetector:
    """NVIDIA's VGG16 file, or with ``allow_random`` and no file the random-initialisation stand-in."""
    try:
        return NvidiaVGG16Detector(weights_path, device=device)
    except WeightsUnavailable:
        if not allow_random or weights_path is not None:
            raise
        return RandomVGG16Detector(device)


# ------------------------------------------------------------------------------ tiled distances
class _Tiled:
    """Features cut into fixed-shape tiles [num_tiles, tile, D] (zero rows at the end) with per-tile squared norms."""

    def __init__(self, features: torch.Tensor, tile: int, dtype: torch.dtype) -> None:
        n, d = features.shape
        self.n, self.tile, self.dtype = n, tile, dtype
        self.num_tiles = -(-n // tile)
        padded = torch.zeros(self.num_tiles * tile, d, dtype=features.dtype, device=features.device)
        padded[:n] = features
        self.tiles = padded.reshape(self.num_tiles, tile, d)
        self.norms = torch.stack([self.tiles[i].to(dtype).square().sum(1) for i in range(self.num_tiles)])

    def rows(self, first: int, last: int) -> slice:
        return slice(first * self.tile, min(last * self.tile, self.n))


def _sq_block(a: _Tiled, ra: range, b: _Tiled, rb: range) -> torch.Tensor:
    """Squared distances of tiles ``ra`` of a against tiles ``rb`` of b: [len(ra) * tile, len(rb) * tile] float64.

    Padding columns hold +inf.
    """
    t = a.tile
    out = torch.empty(len(ra) * t, len(rb) * b.tile, dtype=a.dtype, device=a.tiles.device)
    cols = [b.tiles[j].to(a.dtype) for j in rb]
    for p, i in enumerate(ra):
        x = a.tiles[i].to(a.dtype)
        for q, j in enumerate(rb):
            g = x @ cols[q].T
            out[p * t : (p + 1) * t, q * b.tile : (q + 1) * b.tile] = (
                a.norms[i][:, None] + b.norms[j][None, :] - 2 * g
            ).clamp_min_(0)
    valid = b.n - rb.start * b.tile
    if valid < out.shape[1]:
        out[:, max(valid, 0) :] = float("inf")
    return out


def _blocks(num_tiles: int, batch: int, tile: int) -> list[range]:
    per = max(1, -(-batch // tile))
    return [range(s, min(s + per, num_tiles)) for s in range(0, num_tiles, per)]


def _all_reduce(t: torch.Tensor, op: Any, dist: DistInfo) -> torch.Tensor:
    if dist.world_size <= 1:
        return t
    if torch.distributed.get_backend() == "gloo" and t.device.type != "cpu":
        host = t.cpu()
        torch.distributed.all_reduce(host, op=op)
        return host.to(t.device)
    torch.distributed.all_reduce(t, op=op)
    return t


def _prepare(features: Any, tile: int, dtype: torch.dtype, device: torch.device | str | None) -> _Tiled:
    f = torch.as_tensor(features)
    if f.ndim != 2 or f.shape[0] < 1:
        raise UserError(f"features must be a non-empty [N, D] matrix, got shape {tuple(f.shape)}")
    if not f.is_floating_point():
        f = f.float()
    if device is not None:
        f = f.to(device)
    return _Tiled(f, tile, dtype)


FEATURE_DTYPES = ("float16", "float32")
DISTANCE_DTYPES = ("float64", "float32")


def validate(
    *,
    nhood_size: int = NHOOD_SIZE,
    row_batch_size: int = ROW_BATCH,
    col_batch_size: int = COL_BATCH,
    tile: int = TILE,
    feature_dtype: str = "float16",
    distance_dtype: str = "float64",
    max_real: int | None = None,
    num_samples: int | None = None,
) -> None:
    """Every check of :func:`precision_recall`'s arguments (same names; :func:`knn_radii` and
    :func:`prdc` use the first four), before any feature is computed: ArgumentError naming the
    first one out of range. ``num_samples`` None: generated images given, all of them used."""
    if not (isinstance(nhood_size, (int, np.integer)) and nhood_size >= 1):
        raise ArgumentError("nhood_size", f"nhood_size must be an integer >= 1, got {nhood_size!r}")
    for arg, value in (("row_batch_size", row_batch_size), ("col_batch_size", col_batch_size), ("tile", tile)):
        if not (isinstance(value, (int, np.integer)) and value >= 1):
            raise ArgumentError(arg, f"{arg} must be a positive integer, got {value!r}")
    if feature_dtype not in FEATURE_DTYPES:
        raise ArgumentError("feature_dtype", f"feature_dtype must be 'float16' or 'float32', got {feature_dtype!r}")
    if distance_dtype not in DISTANCE_DTYPES:
        raise ArgumentError("distance_dtype", f"distance_dtype must be 'float64' or 'float32', got {distance_dtype!r}")
    for arg, count in (("max_real", max_real), ("num_samples", num_samples)):
        if count is not None and count < nhood_size + 1:
            raise ArgumentError(
                arg, f"{arg} must be at least {nhood_size + 1} (k-NN radii with nhood_size={nhood_size}), got {count}"
            )


def _sq_radii(x: _Tiled, k: int, row_batch_size: int, col_batch_size: int, dist: DistInfo) -> torch.Tensor:
    if x.n < k + 1:
        raise UserError(f"k-NN radii with nhood_size={k} need at least {k + 1} points, got {x.n}")
    out = torch.full((x.num_tiles * x.tile,), float("inf"), dtype=x.dtype, device=x.tiles.device)
    for b, rows in enumerate(_blocks(x.num_tiles, row_batch_size, x.tile)):
        if b % dist.world_size != dist.rank:
            continue
        best = None
        for cols in _blocks(x.num_tiles, col_batch_size, x.tile):
            # the k+1 smallest of a block, then of those and the running ones: the same values as the
            # k+1 smallest of all columns, with one block in memory at a time (no block-sized copy)
            d = _sq_block(x, rows, x, cols)
            top = d.topk(min(k + 1, d.shape[1]), dim=1, largest=False).values
            del d
            cand = top if best is None else torch.cat([best, top], 1)
            best = cand.topk(min(k + 1, cand.shape[1]), dim=1, largest=False).values
        assert best is not None
        out[rows.start * x.tile : rows.stop * x.tile] = best[:, k]
    out = _all_reduce(out, torch.distributed.ReduceOp.MIN if dist.world_size > 1 else None, dist)
    return out[: x.n]


@torch.inference_mode()
def knn_radii(
    features: Any,
    nhood_size: int = NHOOD_SIZE,
    *,
    row_batch_size: int = ROW_BATCH,
    col_batch_size: int = COL_BATCH,
    tile: int = TILE,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
    dist: DistInfo | None = None,
) -> torch.Tensor:
    """The k-NN radius of every row of ``features`` [N, D]: its (k+1)-th smallest distance to the rows (itself included).

    Returns float64 [N] on the features' device (Euclidean distances, not squared).
    """
    validate(nhood_size=nhood_size, row_batch_size=row_batch_size, col_batch_size=col_batch_size, tile=tile)
    x = _prepare(features, tile, dtype, device)
    return _sq_radii(x, nhood_size, row_batch_size, col_batch_size, dist or DistInfo.current()).sqrt()


def _cross_counts(
    d: torch.Tensor, rad: torch.Tensor, f_rad: torch.Tensor, tile: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per column of ``d`` [R, C] the counts of ``d <= rad`` and ``d < rad`` (``rad`` [R, 1]), per row the
    count of ``d <= f_rad`` (``f_rad`` [1, C]); int64.

    Row tile by row tile: the integer sum of a mask makes an int64 copy of it, which is then one
    tile's size (8 bytes x tile x C), not the whole block's.
    """
    le = torch.zeros(d.shape[1], dtype=torch.int64, device=d.device)
    lt = torch.zeros_like(le)
    hit = torch.empty(d.shape[0], dtype=torch.int64, device=d.device)
    for s in range(0, d.shape[0], tile):
        dt, rt = d[s : s + tile], rad[s : s + tile]
        le += (dt <= rt).sum(0)
        lt += (dt < rt).sum(0)
        hit[s : s + tile] = (dt <= f_rad).sum(1)
    return le, lt, hit


@torch.inference_mode()
def prdc(
    real: Any,
    fake: Any,
    nhood_size: int = NHOOD_SIZE,
    *,
    row_batch_size: int = ROW_BATCH,
    col_batch_size: int = COL_BATCH,
    tile: int = TILE,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
    dist: DistInfo | None = None,
) -> dict[str, Any]:
    """Precision, recall, density and coverage of ``fake`` [M, D] against ``real`` [N, D] features.

    Returns ``{"precision", "recall", "density", "coverage"}`` floats plus ``"real_radii"`` and
    ``"fake_radii"`` (float64 CPU tensors).
    """
    validate(nhood_size=nhood_size, row_batch_size=row_batch_size, col_batch_size=col_batch_size, tile=tile)
    dist = dist or DistInfo.current()
    r = _prepare(real, tile, dtype, device)
    f = _prepare(fake, tile, dtype, r.tiles.device)
    if r.tiles.shape[-1] != f.tiles.shape[-1]:
        raise UserError(
            f"real and generated features have different widths: {r.tiles.shape[-1]} and {f.tiles.shape[-1]}"
        )
    k = nhood_size
    r_rad = _sq_radii(r, k, row_batch_size, col_batch_size, dist)
    f_rad = _sq_radii(f, k, row_batch_size, col_batch_size, dist)
    f_rad_pad = torch.cat(
        [f_rad, f_rad.new_full((f.num_tiles * f.tile - f.n,), -1.0)]
    )  # padding never contains anything
    dev = r.tiles.device
    count_le = torch.zeros(f.num_tiles * f.tile, dtype=torch.int64, device=dev)  # real balls (<=) containing each fake
    count_lt = torch.zeros_like(count_le)  # real balls (<) containing each fake
    real_in = torch.zeros(r.num_tiles * r.tile, dtype=torch.int64, device=dev)  # fake balls (<=) containing each real
    real_min = torch.full((r.num_tiles * r.tile,), float("inf"), dtype=dtype, device=dev)  # nearest fake
    for b, rows in enumerate(_blocks(r.num_tiles, row_batch_size, r.tile)):
        if b % dist.world_size != dist.rank:
            continue
        rs = slice(rows.start * r.tile, rows.stop * r.tile)
        rad = torch.cat([r_rad, r_rad.new_full((r.num_tiles * r.tile - r.n,), -1.0)])[rs, None]
        hit = torch.zeros(rs.stop - rs.start, dtype=torch.int64, device=dev)
        low = torch.full((rs.stop - rs.start,), float("inf"), dtype=dtype, device=dev)
        for cols in _blocks(f.num_tiles, col_batch_size, f.tile):
            cs = slice(cols.start * f.tile, cols.stop * f.tile)
            d = _sq_block(r, rows, f, cols)
            le, lt, h = _cross_counts(d, rad, f_rad_pad[None, cs], r.tile)
            count_le[cs] += le
            count_lt[cs] += lt
            hit += h
            low = torch.minimum(low, d.min(1).values)
            del d  # freed before the next block is computed: one block in memory at a time
        real_in[rs] = hit
        real_min[rs] = low
    if dist.world_size > 1:
        op = torch.distributed.ReduceOp
        count_le, count_lt = _all_reduce(count_le, op.SUM, dist), _all_reduce(count_lt, op.SUM, dist)
        real_in, real_min = _all_reduce(real_in, op.SUM, dist), _all_reduce(real_min, op.MIN, dist)
    count_le, count_lt = count_le[: f.n], count_lt[: f.n]
    real_in, real_min = real_in[: r.n], real_min[: r.n]
    return {
        "precision": float((count_le > 0).double().mean()),
        "recall": float((real_in > 0).double().mean()),
        "density": float(count_lt.double().sum() / (k * f.n)),
        "coverage": float((real_min < r_rad).double().mean()),
        "real_radii": r_rad.sqrt().cpu(),
        "fake_radii": f_rad.sqrt().cpu(),
    }


# ------------------------------------------------------------------------------ entry point
def _real_features(
    real: Any,
    detector: FeatureDetector,
    max_real: int | None,
    batch_size: int,
    num_workers: int,
    device: torch.device,
    show_progress: bool,
) -> tuple[torch.Tensor, dict[str, Any]]:
    """Real features [N, D] and what identifies them: a feature matrix, FeatureStats with features, or an image folder / zip."""
    from .features import FeatureStats, ImageSource, dataset_features

    if isinstance(real, FeatureStats):
        if real.features is None:
            raise UserError("real: precision/recall needs per-image features, the statistics hold only mu and sigma")
        feats = torch.as_tensor(real.features)
        info: dict[str, Any] = {"real": dict(real.meta)}
    elif isinstance(real, (torch.Tensor, np.ndarray)):
        feats = torch.as_tensor(real)
        info = {"real": {"features_sha256": _tensor_digest(feats)}}
    else:
        source = ImageSource(real)
        if max_real is not None and len(source) > max_real:
            source = copy.copy(source)
            source.names = source.names[:max_real]
        data_hash, _ = source.content_hash(None)
        stats, skipped = dataset_features(
            source,
            detector,
            batch_size=batch_size,
            num_workers=num_workers,
            keep_features=True,
            device=device,
            show_progress=show_progress,
        )
        feats = torch.as_tensor(stats.features)
        info = {"real": {"source": str(real), "data_hash": data_hash, "skipped": skipped, **stats.meta}}
    if max_real is not None:
        feats = feats[:max_real]
    return feats, info


def _tensor_digest(t: torch.Tensor) -> str:
    import hashlib

    return hashlib.sha256(t.detach().cpu().contiguous().numpy().tobytes()).hexdigest()


def _name(num_samples: int, max_real: int | None, k: int) -> str:
    if num_samples == 50_000 and k == NHOOD_SIZE and max_real in (200_000, 50_000):
        return "pr50k3_full" if max_real == 200_000 else "pr50k3"
    real = "all" if max_real is None else f"{max_real}"
    return f"pr_gen{num_samples}_real{real}_k{k}"


def precision_recall(
    generator,
    real,
    *,
    num_samples: int = 50_000,
    seed: int = 0,
    batch_size: int | None = None,
    show_progress: bool = False,
    state=None,
    max_real: int | None = 200_000,
    nhood_size: int = NHOOD_SIZE,
    row_batch_size: int = ROW_BATCH,
    col_batch_size: int = COL_BATCH,
    tile: int = TILE,
    feature_dtype: str = "float16",
    distance_dtype: str = "float64",
    detector: FeatureDetector | None = None,
    detector_weights: str | os.PathLike | None = None,
    allow_random_weights: bool = False,
    strict_data: bool = False,
    psi: float = 1.0,
    noise_mode: str = "random",
    num_workers: int = 0,
    device: torch.device | str | None = None,
) -> SimpleResult:
    """Precision, recall, density and coverage of ``generator`` against ``real`` (registry ``pr50k3_full`` / ``pr50k3``).

    Args:
        generator: a :class:`~stylegan_eval.generator.Generator`, or generated images (folder, zip,
            NCHW tensor, iterable: :mod:`~stylegan_eval.metrics.image_samples`; all of them are used).
        real: image folder / zip, a [N, D] feature matrix, or FeatureStats holding features.
        num_samples: generated images (50k).
        seed: sampling seed (sample i uses (seed, i)).
        batch_size: images per generator / detector call (default: the measured batches of the
            stats (real) and fid_generated stages, :func:`stylegan_eval.runtime.default_batch_size`).
        state: :class:`~stylegan_eval.engine.ResumeState` for the generated features.
        max_real: the first ``max_real`` real images (200k full, 50k legacy; None: all).
        nhood_size: k of the k-NN radii (3).
        row_batch_size, col_batch_size: distance block shape (rounded up to whole tiles).
        tile: the fixed GEMM shape (see the module docstring); changing it may change the last bits.
        feature_dtype: 'float16' (NVIDIA's storage) or 'float32'.
        distance_dtype: 'float64' (default; fast on data-centre GPUs) or 'float32' (consumer GPUs; still
            exactly batch-independent, ties and near-ties may resolve differently from float64).
        detector: any :class:`~stylegan_eval.metrics.inception.FeatureDetector` (default NVIDIA's VGG16).
        detector_weights: explicit ``vgg16.pt`` path for the default detector.
        allow_random_weights: without that file, run a seeded random VGG16 (reported in ``random_weights``).
        strict_data: refuse real images of another size than the generated ones (else one warning).
        psi, noise_mode: generator sampling options.
        device: where distances run (default: the generator's device).
    """
    from .image_samples import GeneratedImages, as_generated

    generator = as_generated(generator, device if device is not None else "cpu")
    images_given = isinstance(generator, GeneratedImages)  # every image is used; no sampling options
    blocks: dict[str, Any] = {"row_batch_size": row_batch_size, "col_batch_size": col_batch_size, "tile": tile}
    dtypes: dict[str, Any] = {"feature_dtype": feature_dtype, "distance_dtype": distance_dtype}
    checked_samples = None if images_given else num_samples
    validate(nhood_size=nhood_size, max_real=max_real, num_samples=checked_samples, **blocks, **dtypes)
    dev = torch.device(device) if device is not None else generator.device
    det = detector if detector is not None else default_detector(detector_weights, allow_random_weights, dev)
    from ..runtime import default_batch_size, generator_batch_size

    real_bs = batch_size or default_batch_size(dev, None, "stats")
    real_feats, real_info = _real_features(real, det, max_real, real_bs, num_workers, dev, show_progress)
    sampling = {"psi": psi, "noise_mode": noise_mode}
    bs = batch_size or generator_batch_size(generator, dev, "fid_generated")
    fake_feats = _generated_features(generator, det, num_samples, bs, seed, sampling, show_progress, state)
    if images_given:
        num_samples = int(fake_feats.shape[0])
    fdt = getattr(torch, feature_dtype)
    out = prdc(
        real_feats.to(dev, fdt), fake_feats.to(dev, fdt), nhood_size, dtype=getattr(torch, distance_dtype), **blocks
    )
    settings = {"num_samples": num_samples, "max_real": max_real, "nhood_size": nhood_size, **dtypes, **sampling}
    inputs = {"seed": seed, "detector": det.describe(), "num_real": int(real_feats.shape[0]), **real_info}
    return _result(generator, det, out, {**settings, "tile": tile}, inputs, strict_data)


def _result(
    generator: Any,
    detector: FeatureDetector,
    out: dict[str, Any],
    settings: dict[str, Any],
    inputs: dict[str, Any],
    strict_data: bool,
) -> SimpleResult:
    """The :class:`SimpleResult` of :func:`precision_recall`: its outputs ``out`` (of :func:`prdc`),
    ``settings``, ``inputs`` (seed, detector, real data) and the image-size warning."""
    from .data_sizes import generator_sizes, size_warning

    num_samples, max_real = settings["num_samples"], settings["max_real"]
    gen_sizes = generator_sizes(generator, num_samples)
    sizes_note = size_warning(inputs["real"].get("sizes"), gen_sizes, detector, strict_data)
    return SimpleResult(
        name=_name(num_samples, max_real, settings["nhood_size"]),
        outputs={k: out[k] for k in ("precision", "recall", "density", "coverage")},
        settings=settings,
        random_weights=list(detector.random_weights),
        inputs={**inputs, **generator_fingerprint(generator)},
        extra={"warnings": [sizes_note] if sizes_note else []},
    )


def _generated_features(
    generator: Any,
    detector: FeatureDetector,
    num_samples: int,
    batch_size: int,
    seed: int,
    sampling: dict[str, Any],
    show_progress: bool,
    state: Any,
) -> torch.Tensor:
    """Features [N, D] of the generated images, resumable (``state``); ``sampling``: psi and noise_mode."""
    from .features import generator_features

    fingerprint = {
        "metric": "pr-features",
        "num_samples": num_samples,
        "seed": seed,
        **sampling,
        "detector": detector.describe(),
        **generator_fingerprint(generator),
    }
    resume = resolve_state(state, "pr", fingerprint)
    return generator_features(
        generator,
        detector,
        num_samples,
        batch_size=batch_size,
        seed=seed,
        show_progress=show_progress,
        state=resume,
        **sampling,
    )


# ------------------------------------------------------------------------------ registered runner
def run_registered(ctx: RunContext, outputs: tuple[str, ...], **protocol: Any) -> dict[str, Raw]:
    """The registry's runner (:mod:`stylegan_eval.metrics.context`): precision, recall, density and coverage against ``ctx.options.data``."""
    res = precision_recall(
        ctx.generator,
        ctx.options.data,
        allow_random_weights=ctx.options.allow_random_weights,
        strict_data=ctx.options.strict_data,
        **run_options(ctx),
        **protocol,
    )
    return raws(res, outputs, ctx.num_samples)
