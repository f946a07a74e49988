"""A small Python API for training loops: evaluate an in-memory generator, get a dict.

    from stylegan_eval.api import evaluate

    scores = evaluate(G_ema, ["ppl_wend", "fid"], data="ffhq-stats.npz", num_samples=10_000,
                      log="runs/exp1/metrics.jsonl", step=kimg)
    # {'ppl_wend': 143.2, 'fid': 7.41}

The metrics are the registry's (:mod:`stylegan_eval.metrics.registry`), run by the same loop
as ``stylegan-eval calc`` / ``compare`` (:mod:`stylegan_eval.compare.evaluation`) through each
metric's registered runner, so the numbers and the resume fingerprints equal the command
line's for the same seed. The generator may be a
:class:`~stylegan_eval.generator.Generator` or any module following the custom-generator
contract (:mod:`stylegan_eval.formats.custom`); it is put in eval mode for the evaluation and
its previous mode is restored afterwards (parameters and gradients are left alone).

Under ``torch.distributed`` (e.g. a DDP training job) every rank must call :func:`evaluate`:
samples are sharded across the ranks and every rank gets the same numbers; only rank 0
appends to the log.
"""

from __future__ import annotations

import datetime as _dt
import os
from pathlib import Path
from typing import Any, Sequence

from .compare import EvalOptions, Measurement, needing_data, plan
from .compare import evaluate as _evaluate
from .errors import UserError


def as_generator(obj: Any):
    """A stylegan_eval Generator for ``obj``: a Generator, an object following the custom contract, or a
    string naming one as the CLI's CKPT does (a file, ``demo``, ``nvidia:<name>``, ``module:attr``,
    ``FILE::module:attr``); generated images (a folder, a zip of images, an NCHW tensor) become
    :class:`~stylegan_eval.metrics.image_samples.GeneratedImages`, which the feature metrics take."""
    from .formats.custom import adapt
    from .generator import Generator
    from .metrics.image_samples import GeneratedImages, is_image_source

    if isinstance(obj, (Generator, GeneratedImages)):
        return obj
    import torch

    if isinstance(obj, torch.Tensor) or (isinstance(obj, (str, os.PathLike)) and is_image_source(obj)):
        return GeneratedImages(obj)  # generated images: the feature metrics only
    if isinstance(obj, (str, os.PathLike)):  # a checkpoint, "demo", "nvidia:<name>", "module:attr", "FILE::module:attr"
        from .formats import load_generator
        from .formats.refs import split_checkpoint_ref

        path, spec = split_checkpoint_ref(obj)
        return load_generator(path or None, generator_spec=spec)
    if obj is None:
        raise UserError("evaluate: generator is None")
    return adapt(obj, f"<in-memory {type(obj).__name__}>")


def evaluate(
    generator: Any,
    metrics: Sequence[str] | str,
    *,
    seed: int = 0,
    repeats: int = 1,
    num_samples: int | None = None,
    data: str | os.PathLike | None = None,
    batch_size: int | None = None,
    attrs: Sequence[str] = (),
    classifiers: Sequence[str | os.PathLike] = (),
    classifier_dir: str | os.PathLike | None = None,
    svm: str = "reference",
    distance: str = "lpips-vgg",
    lpips_weights: str | os.PathLike | None = None,
    detector: str = "pytorch-fid",
    inception_weights: str | os.PathLike | None = None,
    fid_method: str = "eigen",
    allow_random_weights: bool = False,
    class_idx: int | None = None,
    show_progress: bool = True,
    log: str | os.PathLike | None = None,
    step: int | None = None,
    details: bool = False,
) -> dict[str, Any]:
    """Compute ``metrics`` on ``generator`` (on its own device).

    Args:
        generator: the network to evaluate (see the module docstring).
        metrics: registry names (:mod:`stylegan_eval.metrics.registry`; a list or a comma string),
            e.g. ppl_wend, ls, fid50k_full, kid50k_full, pr50k3_full, is50k, eqt50k_int, fd_dinov2;
            ``stylegan-eval list-metrics`` lists them all.
        seed: sampling seed (repeat r of FID/KID/LS uses ``seed + r``).
        repeats: runs of FID/KID/LS; their mean is returned (the std with ``details``).
        num_samples: samples of every metric (None: each registry entry's ``num_samples``:
            100k or 50k for PPL, 50k for FID/KID, 200k for LS).
        data: real images or statistics for FID/KID/precision-recall/FD.
        batch_size: samples per batch (None: by device and resolution).
        attrs, classifiers, classifier_dir, svm: linear separability's classifiers and SVM.
        distance, lpips_weights: the PPL distance.
        detector, inception_weights, fid_method: the FID/KID feature network.
        allow_random_weights: let missing detector weights run at random initialisation
            (numbers then only compare with each other).
        class_idx: class of conditional generators.
        show_progress: progress bars on stderr (False in quiet training loops).
        log: append one JSON line per metric here (rank 0), with ``step`` when given.
        step: training step / kimg to record in the log.
        details: return :class:`~stylegan_eval.compare.Measurement` objects (value, std,
            95% interval, per-repeat values) instead of floats.

    Returns:
        {metric: value} (or {metric: Measurement} with ``details``) keyed by the names asked for
        (``fid50k_full``); a name with several outputs yields them (``ls``: ls_z and ls_w; ``pr50k3_full``:
        precision, recall, density, coverage). A metric computed with random detector weights warns once.
    """
    names, runners = plan_metrics("evaluate", metrics, data)
    opts = EvalOptions(
        seed=seed,
        repeats=repeats,
        batch_size=batch_size,
        num_samples=num_samples,
        data=Path(data) if data is not None else None,
        attrs=tuple(attrs),
        classifiers=tuple(Path(c) for c in classifiers),
        classifier_dir=Path(classifier_dir) if classifier_dir is not None else None,
        svm=svm,
        distance=distance,
        lpips_weights=Path(lpips_weights) if lpips_weights is not None else None,
        allow_random_weights=allow_random_weights,
        class_idx=class_idx,
        detector=detector,
        inception_weights=Path(inception_weights) if inception_weights is not None else None,
        fid_method=fid_method,
        show_progress=show_progress,
    )
    gen, results, meta = _run_in_eval_mode(generator, runners, opts, names)
    warn_random_weights(results)
    if log is not None:
        _log(log, results, opts, step, identity(gen, meta))
    return dict(results) if details else {k: m.value for k, m in results.items()}


def plan_metrics(who: str, metrics: Sequence[str] | str, data: str | os.PathLike | None) -> tuple[list[str], list]:
    """(names, runners) of ``metrics`` (a list or a comma string); UserError naming ``who`` when a
    metric needs ``data`` and it is missing or does not exist."""
    names = [m.strip() for m in metrics.split(",")] if isinstance(metrics, str) else list(metrics)
    runners = plan(names)
    needing = needing_data(runners)
    if needing:
        if data is None:
            raise UserError(f"{who}: data is required for {', '.join(needing)} (real images or a statistics file)")
        if not Path(data).exists():
            raise UserError(f"{who}: data {data}: no such file or folder")
    return names, runners


def _run_in_eval_mode(
    generator: Any, runners: list, opts: EvalOptions, names: Sequence[str]
) -> tuple[Any, dict[str, Measurement], dict[str, Any]]:
    """(the adapted generator, results keyed by :func:`result_names`, the run's meta); the generator
    runs in eval mode and gets its previous mode back afterwards."""
    gen = as_generator(generator)
    was_training = gen.training
    gen.eval()
    try:
        meta = {"generator_spec": f"<in-memory {type(generator).__name__}>", **_info(gen)}
        results = named_results(_evaluate(gen, meta, runners, opts), names)
    finally:
        gen.train(was_training)
    return gen, results, meta


def result_names(outputs: Sequence[str], names: Sequence[str]) -> dict[str, str]:
    """output -> result key: a single-output metric is keyed by the name asked for (``fid50k_full``,
    not its output ``fid``); outputs of multi-output metrics (``ls_z``, ``precision``) keep theirs."""
    from .metrics import registry

    rename = {}
    for name in names:
        key = name.strip().lower()
        outs = registry.get(key).outputs if key in registry.REGISTRY else ()
        if len(outs) == 1 and outs[0] != key:
            rename[outs[0]] = key
    return {o: rename.get(o, o) for o in outputs}


def named_results(results: dict[str, Measurement], names: Sequence[str]) -> dict[str, Measurement]:
    """``results`` keyed by :func:`result_names` (each Measurement's ``metric`` follows)."""
    keys = result_names(list(results), names)
    for output, m in results.items():
        m.metric = keys[output]
    return {keys[o]: m for o, m in results.items()}


def warn_random_weights(results: dict[str, Measurement]) -> None:
    """One warning line when any metric ran with random detector weights (the command line's banner)."""
    from . import log as messages

    nets = sorted({n for m in results.values() for n in m.random_weights})
    if nets:
        messages.warning(
            f"computed with randomly initialised {', '.join(nets)} (published weights not available): "
            "these numbers are NOT comparable to published ones"
        )


def identity(gen: Any, meta: dict[str, Any]) -> dict[str, Any]:
    """``checkpoint`` and ``sha256`` for log rows: the file when there is one, else the in-memory
    generator's name and the digest of its weights."""
    from .metrics.common import generator_digest

    checkpoint = meta.get("checkpoint") or meta.get("generator_spec")
    try:
        digest = meta.get("sha256") or generator_digest(gen)
    except Exception:  # noqa: BLE001 - an object without a state dict: the log row goes without a digest
        digest = None
    return {"checkpoint": checkpoint, "sha256": digest}


def _info(gen) -> dict[str, Any]:
    try:
        return dict(gen.info())
    except Exception:  # info() is descriptive only
        return {}


def _log(
    path: str | os.PathLike,
    results: dict[str, Measurement],
    opts: EvalOptions,
    step: int | None,
    ident: dict[str, Any] | None = None,
) -> None:
    from .engine import DistInfo
    from .fileio import jsonable
    from .jsonlog import append

    if not DistInfo.current().is_main:
        return
    now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    settings = {"seed": opts.seed, "repeats": opts.repeats, "num_samples": opts.num_samples, "data": opts.data}
    recs = []
    for name, m in results.items():
        rec = {
            **m.log_fields(),
            "metric": name,
            "command": "api.evaluate",
            **(ident or {}),
            "step": step,
            "settings": settings,
            "time": now,
        }
        if m.random_weights:
            rec["random_weights"] = m.random_weights
        recs.append(jsonable({k: v for k, v in rec.items() if v is not None or k == "value"}))
    append(path, recs)
