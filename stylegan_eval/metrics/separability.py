"""Linear separability (StyleGAN, Karras et al. 2019, section 4.2), as ``metrics/linear_separability.py`` computes it.

Protocol (``shared/reference/metric-protocols.md`` section 1.3):

1. Draw ``num_samples`` (200,000) latents z ~ N(0, I); w = the untruncated mapping output,
   one layer's copy (``ws[:, -1]``). Render each image once (noise drawn per sample); every
   requested classifier runs on the same batch. Images larger than a classifier's input are
   box-downsampled by the integer factor (256 for the CelebA-HQ classifiers).
2. Each classifier gives one logit ``l`` per image; probabilities are ``softmax([l, -l])``
   (float32), the label Y is their argmax (class 0 when ``l >= 0``) and the confidence their
   maximum.
3. Per attribute keep the ``keep`` fraction (0.5: 100,000 of 200,000) of samples with the
   highest confidence (stable sort: equal confidences keep sample order).
4. For each space (z, w) fit a linear SVM on the kept latents predicting Y and predict the same
   samples (no held-out split). ``svm='reference'`` is ``LinearSVC(C=1, loss='squared_hinge',
   dual=True, tol=1e-4, max_iter=1000)`` (the reference's library defaults; it often stops
   unconverged, which is reported); ``svm='fast'`` solves the same objective in the primal
   (``dual=False``), which converges in a fraction of the time. A single-class label set is
   predicted perfectly, as the reference does when the fit fails.
5. H(Y|X) in bits from the 2x2 joint distribution of SVM prediction X and label Y, computed as
   H(Y) - I(X;Y) and clipped at 0; the score is ``2 ** sum(H)`` over the attributes, per space.

Generation and fitting are separate stages: :func:`collect_samples` returns
:class:`SeparabilitySamples` (latents and logits, saved as ``separability-samples.npz``),
:func:`fit_separability` runs the SVM stage on them, :func:`separability` does both.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..errors import ArgumentError, UserError
from ..generator import NOISE_MODES, Generator, NoiseMode, latents
from ..generator import labels as class_labels
from ..imageops import box_downsample, to_rgb
from ..networks.memory_format import channels_last_on_cpu, input_for
from . import common
from .context import EvalOptions, Raw, RunContext

SPACES = ("z", "w")
SVM_MODES = ("reference", "fast")
SAMPLES_FILE = "separability-samples.npz"
SAMPLES_FORMAT = "stylegan-eval-separability-samples/1"

#: LinearSVC settings of the reference (sklearn defaults of 2019); ``dual`` is set per mode.
SVM_PARAMS = dict(C=1.0, penalty="l2", loss="squared_hinge", tol=1e-4, max_iter=1000, fit_intercept=True)


# ---------------------------------------------------------------------------------- classifiers
@dataclass
class _Clf:
    name: str
    module: nn.Module
    resolution: int
    random_weights: bool
    identity: str


def _as_classifiers(classifiers: Any) -> list[_Clf]:
    """Accept AttributeClassifier objects, a {name: module} mapping, or (name, module) pairs."""
    items: list[_Clf] = []
    if isinstance(classifiers, Mapping):
        classifiers = list(classifiers.items())
    for c in classifiers:
        if isinstance(c, _Clf):
            items.append(c)
        elif isinstance(c, tuple) and len(c) == 2:
            name, module = c
            res = int(getattr(module, "input_resolution", 256))
            items.append(_Clf(str(name), module, res, bool(getattr(module, "random_weights", False)), f"module:{name}"))
        elif hasattr(c, "module") and hasattr(c, "name"):
            items.append(
                _Clf(
                    c.name, c.module, int(c.input_resolution), bool(c.random_weights), c.identity or f"module:{c.name}"
                )
            )
        else:
            raise TypeError(
                f"classifiers must be AttributeClassifier objects or (name, module) pairs, got {type(c).__name__}"
            )
    if not items:
        raise UserError("no classifiers given: pass at least one attribute (--attr) or --classifier")
    names = [c.name for c in items]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise UserError(f"classifier names must be unique; repeated: {', '.join(dup)}")
    return items


def _prepare(images: torch.Tensor, resolution: int) -> torch.Tensor:
    h = images.shape[-1]
    if h == resolution:
        return images
    return box_downsample(images, resolution)


def check_resolutions(generator_resolution: int, classifiers: Sequence[Any]) -> None:
    """Raise UserError unless every classifier input is the generator resolution divided by an integer."""
    for c in _as_classifiers(classifiers):
        r = c.resolution
        if generator_resolution < r or generator_resolution % r:
            raise UserError(
                f"classifier {c.name!r} takes {r}x{r} images but the generator makes "
                f"{generator_resolution}x{generator_resolution}: box downsampling needs an integer multiple of {r}"
            )


# ---------------------------------------------------------------------------------- arguments
def validate(
    generator: Generator | None = None,
    *,
    spaces: Sequence[str] = SPACES,
    num_samples: int = 200_000,
    keep: float = 0.5,
    svm: str = "reference",
    jobs: int = 1,
    noise_mode: str = "random",
) -> None:
    """Every check of :func:`separability`'s arguments (same names; :func:`fit_separability` and
    :func:`collect_samples` share them), before a classifier is loaded or a sample drawn:
    ArgumentError naming the first one out of range or one ``generator`` cannot serve.
    ``generator`` None: the samples exist already (:func:`fit_separability`)."""
    if generator is not None:
        from .image_samples import require_generator

        require_generator(generator, "linear separability")
        if not isinstance(generator, Generator):
            raise TypeError(f"generator must be a stylegan_eval Generator, got {type(generator).__name__}")
    _check_spaces(spaces)
    _check_num_samples(num_samples)
    if not (isinstance(keep, (int, float)) and 0.0 < keep <= 1.0):
        raise ArgumentError("keep", f"keep must be a fraction in (0, 1], got {keep}")
    if int(keep * num_samples) < 2:
        raise ArgumentError(
            "keep", f"keep {keep} of {num_samples} samples keeps {int(keep * num_samples)}: need at least 2"
        )
    if svm not in SVM_MODES:
        raise ArgumentError("svm", f"svm must be one of {', '.join(SVM_MODES)}, got {svm!r}")
    if not (isinstance(jobs, int) and jobs >= 1):
        raise ArgumentError("jobs", f"jobs must be an integer >= 1, got {jobs!r}")
    if noise_mode not in NOISE_MODES:
        raise ArgumentError("noise_mode", f"noise_mode must be one of {', '.join(NOISE_MODES)}, got {noise_mode!r}")
    if generator is not None and "w" in _spaces(spaces):
        _check_w(generator, "spaces", hint="use spaces=['z']")


def _spaces(spaces: Sequence[str]) -> list[str]:
    """``spaces`` in lower case ('Z' -> 'z')."""
    return [str(s).lower() for s in spaces]


def _check_spaces(spaces: Sequence[str]) -> None:
    """A non-empty list of distinct spaces out of :data:`SPACES`."""
    given = _spaces(spaces)
    if not given or any(s not in SPACES for s in given):
        raise ArgumentError("spaces", f"spaces must be a list of 'z' and/or 'w', got {list(spaces)!r}")
    if len(set(given)) != len(given):
        raise ArgumentError("spaces", f"spaces lists a space twice: {list(spaces)!r}")


def _check_num_samples(num_samples: int) -> None:
    if not (isinstance(num_samples, (int, np.integer)) and num_samples >= 2):
        raise ArgumentError("num_samples", f"num_samples must be an integer >= 2, got {num_samples!r}")


def _check_w(generator: Generator, arg: str, hint: str) -> None:
    """W space needs the mapping network; ``arg`` is the argument that asks for it."""
    if not generator.supports_w:
        raise ArgumentError(
            arg,
            f"{generator.family}: W space needs a generator with a mapping network",
            hint=hint,
            cli_hint="use --space z",
        )


# ---------------------------------------------------------------------------------- samples
#: Largest inflated array entry of a separability samples file (200k x 512 float64 latents: 0.8 GB).
MAX_SAMPLES_ENTRY_BYTES = 2 << 30


@dataclass
class SeparabilitySamples:
    """Per-sample outputs of the generation pass.

    Attributes:
        z: float32 [N, z_dim] latents.
        w: float32 [N, w_dim] (``ws[:, -1]``), or None for black-box generators.
        logits: float32 [N, A], one column per attribute.
        attributes: the A attribute names.
        identities: per attribute, a string identifying the classifier weights.
        fingerprint: settings that determine the samples (seed, checkpoint, noise mode, ...).
        random_weights: attributes whose classifier ran at random initialisation.
    """

    z: np.ndarray
    w: np.ndarray | None
    logits: np.ndarray
    attributes: list[str]
    identities: list[str] = field(default_factory=list)
    fingerprint: dict[str, Any] = field(default_factory=dict)
    random_weights: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        n = self.z.shape[0]
        if self.logits.ndim != 2 or self.logits.shape != (n, len(self.attributes)):
            raise ValueError(f"logits must be [{n}, {len(self.attributes)}], got {self.logits.shape}")
        if self.w is not None and self.w.shape[0] != n:
            raise ValueError("z and w must have the same number of rows")
        if not self.identities:
            self.identities = [f"module:{a}" for a in self.attributes]

    @property
    def num_samples(self) -> int:
        return int(self.z.shape[0])

    def key(self) -> str:
        return hashlib.sha256(json.dumps(self.fingerprint, sort_keys=True, default=str).encode()).hexdigest()[:16]

    def select(self, attributes: Sequence[str], num_samples: int | None = None) -> "SeparabilitySamples":
        """The samples restricted to ``attributes`` (and the first ``num_samples`` rows)."""
        missing = [a for a in attributes if a not in self.attributes]
        if missing:
            raise UserError(f"samples hold no logits for {', '.join(missing)} (they have {', '.join(self.attributes)})")
        n = self.num_samples if num_samples is None else num_samples
        if n > self.num_samples:
            raise UserError(f"samples hold {self.num_samples} rows, {n} requested")
        cols = [self.attributes.index(a) for a in attributes]
        return SeparabilitySamples(
            self.z[:n],
            None if self.w is None else self.w[:n],
            self.logits[:n, cols],
            list(attributes),
            [self.identities[i] for i in cols],
            dict(self.fingerprint),
            [a for a in self.random_weights if a in attributes],
        )

    def save(self, path: str | os.PathLike) -> Path:
        """Write an ``.npz`` (float32 arrays + JSON metadata; readable without pickle), atomically."""
        import io

        from ..fileio import atomic_write

        meta = {
            "format": SAMPLES_FORMAT,
            "attributes": self.attributes,
            "identities": self.identities,
            "fingerprint": self.fingerprint,
            "random_weights": self.random_weights,
        }
        arrays: dict[str, Any] = {
            "z": self.z.astype(np.float32),
            "logits": self.logits.astype(np.float32),
            "meta": np.array(json.dumps(meta, default=str)),
        }
        if self.w is not None:
            arrays["w"] = self.w.astype(np.float32)
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        # Not staged with the report: costly samples, fingerprinted, kept even if the report fails.
        return atomic_write(path, buf.getvalue(), stage=False)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "SeparabilitySamples":
        """Read a file written by :meth:`save`; UserError (one line, naming the file) for anything
        else: entry sizes are bounded from the zip directory before reading, and every array's
        dtype and shape and every metadata field's type are checked."""
        from ..checks import check_zip

        p = Path(path)
        if not p.is_file():
            raise UserError(f"--from-samples {p}: no such file")
        what = f"--from-samples {p}"
        check_zip(p, what, {"meta.npy": 64 << 20, "*": MAX_SAMPLES_ENTRY_BYTES}, 4 * MAX_SAMPLES_ENTRY_BYTES)
        try:
            with np.load(p, allow_pickle=False) as data:
                arrays = {k: data[k] for k in ("meta", "z", "logits", "w") if k in data.files}
        except Exception as exc:  # noqa: BLE001 - zip, zlib and .npy errors of a damaged file
            raise UserError(
                f"{what}: not a separability samples file ({type(exc).__name__}: {str(exc)[:100]})"
            ) from None
        return cls._from_arrays(arrays, what)

    @classmethod
    def _from_arrays(cls, arrays: dict[str, np.ndarray], what: str) -> "SeparabilitySamples":
        missing = [k for k in ("meta", "z", "logits") if k not in arrays]
        if missing:
            raise UserError(f"{what}: not a separability samples file (no {', '.join(missing)} entry)")
        meta = _samples_meta(arrays["meta"], what)
        z, logits, w = arrays["z"], arrays["logits"], arrays.get("w")
        for name, arr in (("z", z), ("logits", logits), ("w", w)):
            if arr is not None and (arr.dtype.kind != "f" or arr.ndim != 2 or not np.isfinite(arr).all()):
                raise UserError(
                    f"{what}: {name} must be a finite float [N, D] array, got {arr.dtype} {list(arr.shape)}"
                )
        try:
            return cls(
                z, w, logits, meta["attributes"], meta["identities"], meta["fingerprint"], meta["random_weights"]
            )
        except ValueError as exc:
            raise UserError(f"{what}: inconsistent arrays ({exc})") from None


def _samples_meta(meta_arr: np.ndarray, what: str) -> dict[str, Any]:
    """The metadata entry of a samples file: one JSON string holding the expected fields and types."""
    from ..checks import loads_json

    if meta_arr.shape != () or meta_arr.dtype.kind != "U":
        raise UserError(f"{what}: not a separability samples file (meta is not one string)")
    meta = loads_json(str(meta_arr), f"{what}: meta")
    if not isinstance(meta, dict) or meta.get("format") != SAMPLES_FORMAT:
        got = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
        raise UserError(f"{what}: not a separability samples file (format {got!r})")
    fields = {"attributes": list, "identities": list, "fingerprint": dict, "random_weights": list}
    for key, kind in fields.items():
        value = meta.get(key)
        if not isinstance(value, kind) or (kind is list and not all(isinstance(v, str) for v in value)):
            raise UserError(f"{what}: meta {key} must be a {'list of strings' if kind is list else 'JSON object'}")
    if len(meta["identities"]) not in (0, len(meta["attributes"])):
        raise UserError(f"{what}: meta identities must name one classifier per attribute")
    return meta


def sample_fingerprint(
    generator_id: Mapping[str, Any], seed: int, noise_mode: str, class_idx: int | None, classifiers: Sequence[Any]
) -> dict[str, Any]:
    """Everything that determines the per-sample outputs (used for resume and sample reuse)."""
    clfs = _as_classifiers(classifiers)
    return {
        "metric": "separability",
        "generator": dict(generator_id),
        "seed": seed,
        "noise_mode": noise_mode,
        "class_idx": class_idx,
        "classifiers": [[c.name, c.identity, c.resolution] for c in clfs],
    }


def separability_fingerprint(
    generator: Generator,
    classifiers: Any,
    *,
    seed: int,
    num_samples: int,
    noise_mode: str = "random",
    class_idx: int | None = None,
    spaces: Sequence[str] = SPACES,
    svm: str = "reference",
    keep: float = 0.5,
    record_w: bool | None = None,
) -> dict[str, Any]:
    """Every input a separability result depends on: the generator's weights digest, seed, sample
    count, noise, class, every classifier (name, identity = weights digest, input size, random flag)
    and the SVM protocol (spaces, svm mode, kept fraction)."""
    clfs = _as_classifiers(classifiers)
    return {
        "metric": "separability",
        "generator": common.generator_digest(generator),
        "seed": seed,
        "num_samples": num_samples,
        "noise_mode": noise_mode,
        "class_idx": class_idx,
        "classifiers": [[c.name, c.identity, c.resolution, bool(c.random_weights)] for c in clfs],
        "spaces": [str(x).lower() for x in spaces],
        "svm": svm,
        "keep": keep,
        "record_w": ("w" in [str(x).lower() for x in spaces]) if record_w is None else bool(record_w),
    }


def collect_samples(
    generator: Generator,
    classifiers: Any,
    num_samples: int = 200_000,
    *,
    seed: int = 0,
    batch_size: int | None = None,
    noise_mode: NoiseMode = "random",
    class_idx: int | None = None,
    need_w: bool = True,
    state: Any = None,
    show_progress: bool = False,
    fingerprint: Mapping[str, Any] | None = None,
) -> SeparabilitySamples:
    """The generation pass: latents and every classifier's logits for samples [0, num_samples).

    Each batch is generated once and every classifier runs on it. Sample ``i``'s z, noise and
    class label come from :mod:`stylegan_eval.sampling` with ``seed``, so the result does not
    depend on ``batch_size`` or resume points.

    Args:
        generator: the generator (its device is used).
        classifiers: AttributeClassifier objects, or a {name: module} mapping / (name, module)
            pairs; a module's ``input_resolution`` attribute (default 256) sets its input size.
        num_samples: number of samples.
        seed: seed of the sampling engine.
        batch_size: images per batch (default: by resolution and device).
        noise_mode: 'random' (per-sample noise from the seed), 'const' or 'none'.
        class_idx: fixed class for conditional generators (random per sample when None).
        need_w: record w (requires a generator with a mapping network).
        state: a :class:`~stylegan_eval.engine.ResumeState` for partial saves / ``--resume``.
        show_progress: draw a progress bar.
        fingerprint: stored with the samples (see :func:`sample_fingerprint`).
    """
    from ..engine import collect
    from ..runtime import default_batch_size, num_parameters

    clfs = _as_classifiers(classifiers)
    _check_num_samples(num_samples)
    if need_w:
        _check_w(generator, "need_w", hint="pass need_w=False")
    check_resolutions(generator.resolution, clfs)
    device = generator.device
    for c in clfs:
        channels_last_on_cpu(c.module.to(device).eval(), device)
    if batch_size is None:
        res = max(generator.resolution, max(c.resolution for c in clfs))
        batch_size = default_batch_size(device, res, "separability", num_parameters(generator))
    batch = _sample_fn(generator, clfs, seed=seed, noise_mode=noise_mode, class_idx=class_idx, need_w=need_w)
    result = collect(batch, num_samples, batch_size, desc="separability", show_progress=show_progress, state=state)
    return SeparabilitySamples(
        z=result["z"].numpy().astype(np.float32, copy=False),
        w=result["w"].numpy().astype(np.float32, copy=False) if "w" in result else None,
        logits=result["logits"].numpy().astype(np.float32, copy=False),
        attributes=[c.name for c in clfs],
        identities=[c.identity for c in clfs],
        fingerprint=dict(fingerprint or {}),
        random_weights=[c.name for c in clfs if c.random_weights],
    )


def _sample_fn(
    generator: Generator, clfs: list[_Clf], *, seed: int, noise_mode: NoiseMode, class_idx: int | None, need_w: bool
) -> Callable[[torch.Tensor], dict[str, torch.Tensor]]:
    """indices [N] (int64) -> {'z', 'w' (with ``need_w``), 'logits' [N, A]} for :func:`engine.collect`:
    each image is rendered once and every classifier runs on it."""

    @torch.inference_mode()
    def batch(idx: torch.Tensor) -> dict[str, torch.Tensor]:
        z = latents(generator, seed, idx)
        if idx.numel() == 0:  # nothing left to do (e.g. a fully resumed run): run no network
            empty = {"z": z, "logits": z.new_zeros(0, len(clfs))}
            if need_w:
                empty["w"] = z.new_zeros(0, generator.w_dim)
            return empty
        c = class_labels(generator, seed, idx, class_idx)
        out: dict[str, torch.Tensor] = {"z": z}
        if generator.supports_w:
            ws = generator.mapping(z, c)
            images = generator.synthesis(ws, noise_mode=noise_mode, noise_seed=seed, indices=idx)
            if need_w:
                out["w"] = ws[:, -1].float()
        else:
            images = generator.generate(z, c, noise_mode=noise_mode, noise_seed=seed, indices=idx)
        out["logits"] = _classify(clfs, to_rgb(images.float()))
        return out

    return batch


def _classify(clfs: list[_Clf], images: torch.Tensor) -> torch.Tensor:
    """Logits [N, A] of every classifier on ``images`` [N, 3, H, W] in [-1, 1] (float32), each
    downsampled once per classifier input size."""
    by_res: dict[int, torch.Tensor] = {}
    logits = []
    for clf in clfs:
        if clf.resolution not in by_res:
            by_res[clf.resolution] = _prepare(images, clf.resolution)
        y = clf.module(input_for(clf.module, by_res[clf.resolution]))
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if y.shape != (images.shape[0],):
            raise ValueError(
                f"classifier {clf.name!r} must return one logit per image ([N] or [N, 1]), got {tuple(y.shape)}"
            )
        logits.append(y.float())
    return torch.stack(logits, dim=1)


# ---------------------------------------------------------------------------------- statistics
def labels_and_confidence(logits: np.ndarray | torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Reference labels and confidences from logits [N, A]: argmax / max of float32 softmax([l, -l])."""
    lg = torch.as_tensor(np.asarray(logits, dtype=np.float32))
    probs = torch.softmax(torch.stack([lg, -lg], dim=-1), dim=-1)  # [N, A, 2]
    conf, label = probs.max(dim=-1)  # ties -> index 0, like np.argmax
    return label.numpy().astype(np.int64), conf.numpy()


def confident_indices(confidence: np.ndarray, num_keep: int) -> np.ndarray:
    """Per column, the row indices of the ``num_keep`` most confident samples: [num_keep, A].

    A stable sort on descending confidence: equal confidences keep ascending sample order.
    """
    order = np.argsort(-np.asarray(confidence), axis=0, kind="stable")
    return order[:num_keep]


def joint_distribution(prediction: np.ndarray, label: np.ndarray) -> np.ndarray:
    """2x2 joint p[x, y] of SVM prediction x and classifier label y (both in {0, 1})."""
    prediction = np.asarray(prediction, dtype=np.int64)
    label = np.asarray(label, dtype=np.int64)
    counts = np.bincount(2 * prediction + label, minlength=4).astype(np.float64)
    return (counts / counts.sum()).reshape(2, 2)


def conditional_entropy(joint: np.ndarray) -> float:
    """H(Y|X) in bits from a 2x2 joint p[x, y], as H(Y) - I(X;Y), clipped at 0."""
    p = np.asarray(joint, dtype=np.float64)
    if p.shape != (2, 2) or (p < 0).any():
        raise ValueError(f"joint must be a non-negative 2x2 table, got {p}")
    p = p / p.sum()
    px, py = p.sum(axis=1), p.sum(axis=0)
    hy = -sum(v * math.log2(v) for v in py if v > 0)
    mi = sum(p[i, j] * math.log2(p[i, j] / (px[i] * py[j])) for i in range(2) for j in range(2) if p[i, j] > 0)
    h = hy - mi
    return h if h > 0.0 else 0.0  # (also turns -0.0 into 0.0)


def score(entropies: Sequence[float]) -> float:
    """The separability score: 2 ** (sum of H(Y|X) in bits) (= exp of the sum in nats)."""
    return float(2.0 ** float(np.sum(entropies)))


def fit_svm(
    x: np.ndarray, y: np.ndarray, mode: str = "reference", random_state: int = 0
) -> tuple[np.ndarray, bool, int]:
    """Fit a linear SVM to (x, y) and predict x. Returns (predictions, converged, iterations).

    ``mode='reference'``: LinearSVC with the reference's defaults (dual coordinate descent,
    max_iter 1000); ``'fast'``: the same objective solved in the primal (``dual=False``).
    Convergence is read from sklearn's ConvergenceWarning. A single-class ``y`` is returned
    as its own prediction (the reference's fallback when fitting fails).
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.svm import LinearSVC

    if mode not in SVM_MODES:
        raise ValueError(f"svm mode must be one of {SVM_MODES}, got {mode!r}")
    y = np.asarray(y)
    if y.min() == y.max():
        return y.copy(), True, 0
    svm = LinearSVC(dual=(mode == "reference"), random_state=random_state, **SVM_PARAMS)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        svm.fit(x, y)
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    return svm.predict(x).astype(np.int64), converged, int(np.max(svm.n_iter_))


def _fit_task(feats: np.ndarray, rows: np.ndarray, y: np.ndarray, mode: str) -> dict[str, Any]:
    t0 = time.perf_counter()
    pred, converged, iters = fit_svm(feats[rows], y, mode)
    joint = joint_distribution(pred, y)
    return {
        "conditional_entropy_bits": conditional_entropy(joint),
        "svm_accuracy": float(joint[0, 0] + joint[1, 1]),
        "converged": bool(converged),
        "svm_iterations": iters,
        "svm_seconds": time.perf_counter() - t0,
        "joint": joint.tolist(),
    }


# ---------------------------------------------------------------------------------- result
@dataclass
class SeparabilityResult:
    """Linear separability per attribute and space, and the scores.

    Attributes:
        scores: {space: 2 ** sum of H(Y|X)}.
        per_attribute: one row per (space, attribute): ``conditional_entropy_bits``,
            ``svm_accuracy``, ``label_balance`` (fraction of kept samples with label 1, i.e.
            logit < 0), ``kept``, ``converged``, ``svm_iterations``, ``svm_seconds``.
        settings: the options that determined the numbers.
        meta: random_weights, timings.
    """

    scores: dict[str, float]
    per_attribute: pd.DataFrame
    settings: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """The per-attribute rows followed by one ``score`` row per space (``score`` = 2 ** sum H)."""
        rows = self.per_attribute.drop(columns=["joint"], errors="ignore").copy()
        rows["score"] = np.nan
        extra = []
        for space, value in self.scores.items():
            sub = rows[rows["space"] == space]
            extra.append(
                {
                    "space": space,
                    "attribute": "score",
                    "conditional_entropy_bits": float(sub["conditional_entropy_bits"].sum()),
                    "svm_accuracy": float(sub["svm_accuracy"].mean()),
                    "label_balance": float("nan"),
                    "kept": int(sub["kept"].sum()),
                    "converged": bool(sub["converged"].all()),
                    "svm_iterations": int(sub["svm_iterations"].max()),
                    "svm_seconds": float(sub["svm_seconds"].sum()),
                    "score": value,
                }
            )
        return pd.concat([rows, pd.DataFrame(extra)], ignore_index=True)

    def __getitem__(self, space: str) -> float:
        return self.scores[space]

    @property
    def name(self) -> str:
        """'ls' for both spaces, else 'ls_z' / 'ls_w'."""
        spaces = list(self.scores)
        return "ls" if len(spaces) != 1 else f"ls_{spaces[0]}"

    @property
    def value(self) -> float:
        """The headline number: the W-space score when computed, else the Z-space one."""
        return float(self.scores["w"] if "w" in self.scores else next(iter(self.scores.values())))

    @property
    def random_weights(self) -> list[str]:
        return list(self.meta.get("random_weights", []))

    def __float__(self) -> float:
        """``float(result)``: the headline :attr:`value`."""
        return float(self.value)

    def values(self) -> dict[str, float]:
        return {f"ls_{space}": float(v) for space, v in self.scores.items()}

    def __repr__(self) -> str:
        from .intervals import nice, result_repr

        attrs = self.per_attribute["attribute"].nunique() if "attribute" in self.per_attribute else None
        return result_repr(
            "SeparabilityResult",
            {f"ls_{s}": nice(v) for s, v in self.scores.items()},
            attributes=attrs,
            num_samples=self.settings.get("num_samples"),
            random_weights=self.random_weights,
        )

    def fingerprint(self) -> dict[str, Any]:
        """Every input the result depends on (see :func:`separability_fingerprint`)."""
        return dict(self.meta.get("fingerprint", {}))


def fit_separability(
    samples: SeparabilitySamples,
    *,
    keep: float = 0.5,
    spaces: Sequence[str] = SPACES,
    svm: str = "reference",
    jobs: int = 1,
) -> SeparabilityResult:
    """The SVM stage on collected samples (see the module docstring, steps 2-5).

    Args:
        samples: output of :func:`collect_samples` (or :meth:`SeparabilitySamples.load`).
        keep: fraction of samples kept per attribute, in (0, 1] (0.5 in the reference).
        spaces: any of 'z', 'w'.
        svm: 'reference' (dual LinearSVC, max_iter 1000) or 'fast' (primal, converged).
        jobs: parallel SVM fits (joblib processes); 1 fits in this process.
    """
    spaces = _spaces(spaces)
    validate(spaces=spaces, num_samples=samples.num_samples, keep=keep, svm=svm, jobs=jobs)
    if "w" in spaces and samples.w is None:
        raise ArgumentError(
            "spaces",
            "W space requested but the samples hold no w (black-box generator)",
            hint="use spaces=['z']",
            cli_hint="use --space z",
        )
    n = samples.num_samples
    num_keep = int(keep * n)
    t0 = time.perf_counter()
    table = _fit_table(samples, spaces, num_keep, svm, jobs)
    scores = {s: score(table.loc[table["space"] == s, "conditional_entropy_bits"]) for s in spaces}
    settings = {
        "num_samples": n,
        "keep": keep,
        "num_keep": num_keep,
        "spaces": list(spaces),
        "svm": svm,
        "svm_params": {**SVM_PARAMS, "dual": svm == "reference", "random_state": 0},
    }
    meta = {
        "random_weights": list(samples.random_weights),
        "seconds": {"svm": time.perf_counter() - t0},
        "unconverged": [f"{r.space}:{r.attribute}" for r in table.itertuples(index=False) if not r.converged],
    }
    meta["warnings"] = degenerate_warnings(
        table, {"z": samples.z.shape[1], "w": None if samples.w is None else samples.w.shape[1]}
    )
    return SeparabilityResult(scores, table, settings, meta)


def _fit_table(samples: SeparabilitySamples, spaces: list[str], num_keep: int, svm: str, jobs: int) -> pd.DataFrame:
    """One row per (space, attribute): the SVM fit on the ``num_keep`` most confident samples
    (:attr:`SeparabilityResult.per_attribute`'s columns plus ``joint``), ``jobs`` fits at a time."""
    label, conf = labels_and_confidence(samples.logits)
    kept = confident_indices(conf, num_keep)  # [K, A]
    feats = {"z": samples.z, "w": samples.w}
    tasks = []
    for space in spaces:
        for a, name in enumerate(samples.attributes):
            rows = np.sort(kept[:, a])
            tasks.append((space, name, rows, label[rows, a]))
    fits = [(feats[space], rows, y) for space, _, rows, y in tasks]
    if jobs == 1 or len(fits) == 1:
        outs = [_fit_task(x, rows, y, svm) for x, rows, y in fits]  # type: ignore[arg-type]
    else:
        from joblib import Parallel, delayed

        outs = Parallel(n_jobs=min(jobs, len(fits)))(delayed(_fit_task)(x, rows, y, svm) for x, rows, y in fits)
    records = [
        {
            "space": space,
            "attribute": name,
            "conditional_entropy_bits": out["conditional_entropy_bits"],
            "svm_accuracy": out["svm_accuracy"],
            "label_balance": float(np.mean(y)),
            "kept": int(rows.shape[0]),
            "converged": out["converged"],
            "svm_iterations": out["svm_iterations"],
            "svm_seconds": out["svm_seconds"],
            "joint": out["joint"],
        }
        for (space, name, rows, y), out in zip(tasks, outs)
    ]
    return pd.DataFrame.from_records(records)


def separability(
    generator: Generator,
    classifiers: Any,
    *,
    num_samples: int = 200_000,
    keep: float = 0.5,
    spaces: Sequence[str] = SPACES,
    svm: str = "reference",
    jobs: int = 1,
    seed: int = 0,
    batch_size: int | None = None,
    noise_mode: NoiseMode = "random",
    class_idx: int | None = None,
    show_progress: bool = False,
    state: Any = None,
) -> SeparabilityResult:
    """Linear separability of ``generator`` for the attributes ``classifiers`` detect.

    Args:
        generator: a :class:`~stylegan_eval.generator.Generator`.
        classifiers: :class:`~stylegan_eval.classifiers.AttributeClassifier` objects (e.g.
            from :func:`stylegan_eval.classifiers.load_celebahq`), or {name: module}; each
            module maps images in [-1, 1] at its ``input_resolution`` to one logit per image.
        num_samples: samples drawn (200,000 in the reference).
        keep: fraction kept per attribute (0.5).
        spaces: 'z' and/or 'w'.
        svm: 'reference' or 'fast' (see :func:`fit_svm`).
        jobs: parallel SVM fits.
        seed, batch_size, noise_mode, class_idx, show_progress, state: see :func:`collect_samples`.

    Returns:
        :class:`SeparabilityResult`; ``.scores['w']``, ``.to_frame()``.
    """
    spaces = _spaces(spaces)
    protocol: dict[str, Any] = {"num_samples": num_samples, "keep": keep, "svm": svm, "noise_mode": noise_mode}
    validate(generator, spaces=spaces, jobs=jobs, **protocol)
    clfs = _as_classifiers(classifiers)
    fingerprint = separability_fingerprint(generator, clfs, seed=seed, class_idx=class_idx, spaces=spaces, **protocol)
    resume = common.resolve_state(state, "separability", fingerprint)
    t0 = time.perf_counter()
    samples = collect_samples(
        generator,
        clfs,
        num_samples,
        seed=seed,
        batch_size=batch_size,
        noise_mode=noise_mode,
        class_idx=class_idx,
        need_w="w" in spaces,
        state=resume,
        show_progress=show_progress,
    )
    gen_seconds = time.perf_counter() - t0
    result = fit_separability(samples, keep=keep, spaces=spaces, svm=svm, jobs=jobs)
    result.meta["seconds"]["generate"] = gen_seconds
    # How often each classifier calls its attribute on the generated images (positive logit).
    result.meta["positive_rate"] = {c.name: float((samples.logits[:, k] > 0).mean()) for k, c in enumerate(clfs)}
    result.meta["fingerprint"] = fingerprint
    result.settings.update(seed=seed, noise_mode=noise_mode, class_idx=class_idx)
    if resume is not None and resume is not state:
        resume.clear()
    return result


def degenerate_warnings(table: pd.DataFrame, dims: dict[str, int | None]) -> list[str]:
    """One line per (space, attribute) whose conditional entropy says nothing about the generator.

    - every kept sample in one class (``label_balance`` 0 or 1): H = 0 whatever the latents are;
    - kept samples <= the latent dimension: any labelling of that many points in general position
      is linearly separable (d + 1 points can be shattered), so H = 0 is guaranteed;
    - the SVM did not converge: H may be overestimated.

    Args:
        table: per-attribute rows as in :attr:`SeparabilityResult.per_attribute`.
        dims: {space: latent dimensionality} ('z' -> z_dim, 'w' -> w_dim).
    """
    out: list[str] = []
    for row in table.itertuples(index=False):
        where = f"{row.space}:{row.attribute}"
        if row.label_balance in (0.0, 1.0):
            out.append(
                f"{where}: all {row.kept} kept samples are in one class (label balance {row.label_balance:g}); "
                "H = 0 says nothing (use another classifier or more samples)"
            )
        dim = dims.get(row.space)
        if dim is not None and row.kept <= dim:
            out.append(
                f"{where}: {row.kept} kept samples do not exceed the {dim} latent dimensions, so any labelling is "
                "linearly separable and H = 0 by construction (use more samples)"
            )
        if not row.converged:
            out.append(
                f"{where}: the linear SVM did not converge ({row.svm_iterations} iterations); H may be overestimated"
            )
    return out


__all__ = [
    "SeparabilityResult",
    "SeparabilitySamples",
    "collect_samples",
    "conditional_entropy",
    "confident_indices",
    "degenerate_warnings",
    "fit_separability",
    "fit_svm",
    "joint_distribution",
    "labels_and_confidence",
    "sample_fingerprint",
    "score",
    "separability_fingerprint",
    "separability",
]


# ---------------------------------------------------------------------------------- registered runner
def _option_classifiers(opts: EvalOptions) -> list:
    """The classifiers ``opts`` names: CelebA-HQ attributes (all 40 unless custom files are given) and custom files."""
    from ..classifiers.registry import load_celebahq, load_custom

    clfs = []
    if opts.attrs or not opts.classifiers:
        clfs += load_celebahq(list(opts.attrs) or ["all"], opts.classifier_dir, opts.allow_random_weights)
    clfs += [load_custom(p) for p in opts.classifiers]
    return clfs


def _run_classifiers(ctx: RunContext) -> list:
    """The classifiers of this run, loaded once per comparison; the embedded demo generator
    uses its shipped classifiers (shape, colour, size, position) unless files are given."""
    opts = ctx.options
    if bool(getattr(ctx.generator, "is_demo", False)) and not opts.classifiers:
        from .. import demo

        return ctx.cached(f"demo-classifiers:{opts.attrs}", lambda: demo.classifiers(list(opts.attrs) or None))
    return ctx.cached("classifiers", lambda: _option_classifiers(opts))


def run_registered(ctx: RunContext, outputs: tuple[str, ...], **protocol: Any) -> dict[str, Raw]:
    """The registry's runner (:mod:`stylegan_eval.metrics.context`): one separability run
    whose spaces are the wanted outputs (``ls_z`` -> z), one :class:`Raw` per space."""
    spaces = [o.split("_", 1)[1] for o in outputs]
    options = {"num_samples": ctx.num_samples, "svm": ctx.options.svm, **protocol, "spaces": spaces}
    validate(ctx.generator, **options)  # before the classifiers load
    clfs = _run_classifiers(ctx)
    res = separability(
        ctx.generator,
        clfs,
        seed=ctx.seed,
        batch_size=ctx.batch_size,
        class_idx=ctx.class_idx,
        show_progress=ctx.show_progress,
        state=ctx.state("ls"),
        **options,
    )
    rw = [c.name for c in clfs if getattr(c, "random_weights", False)]
    table = res.per_attribute
    out = {}
    for s in spaces:
        rows = table[table["space"] == s]
        per_attr = dict(zip(rows["attribute"], rows["conditional_entropy_bits"].astype(float)))
        details = {
            "entropy_bits": per_attr,
            "warnings": list(res.meta.get("warnings") or []),
            "unconverged": list(res.meta.get("unconverged") or []),
            "positive_rate": dict(res.meta.get("positive_rate") or {}),
            "table": res.to_frame(),
        }
        out[f"ls_{s}"] = Raw(
            float(res.scores[s]), None, int(res.settings["num_samples"]), rw, details, res.fingerprint()
        )
    return out


def report_figures(report: Any, runs: Any = None) -> tuple[list[Any], list[str]]:
    """The registry's ``report_figures`` hook: the per-attribute entropy chart of a
    ``separability`` report, drawn by :func:`stylegan_eval.figures.reports.separability_report_figures`."""
    from ..figures.reports import separability_report_figures

    return separability_report_figures(report)
