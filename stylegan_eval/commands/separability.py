"""stylegan-eval separability CKPT --attr NAME ...: linear separability of z and w (StyleGAN 2019)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click

from .. import log, plots
from ..errors import UserError
from ..metrics import separability as sep
from ..metrics import separability_store as store
from ..report import Report, environment
from .logger_options import log_report, step_of, tensorboard_option
from .metric_options import classifier_options, metric_noise_option
from .options import RunOptions, checkpoint_options, choice, common_options, emit, num_samples_option

DEFAULT_NUM_SAMPLES = 200_000


def demo_classifiers(gen, attrs, classifier_paths) -> list | None:
    """The shipped demo classifiers for the embedded demo generator (``--attr shape`` ...), else None.

    Used when the generator is the demo and either no --attr / --classifier is given (all four)
    or every --attr is a demo attribute (shape, colour, size, position).
    """
    if not getattr(gen, "is_demo", False) or classifier_paths:
        return None
    from .. import demo

    if not attrs:
        return demo.classifiers()
    wanted = [p.strip().lower().replace("color", "colour") for a in attrs for p in a.split(",") if p.strip()]
    if not all(a in demo.CLASSIFIER_ATTRIBUTES for a in wanted):
        _refuse_unknown_demo_attrs(wanted, demo.CLASSIFIER_ATTRIBUTES)
        return None
    return demo.classifiers(wanted)


def _refuse_unknown_demo_attrs(wanted: list[str], shipped) -> None:
    """UserError for an --attr that is neither a demo attribute nor a CelebA-HQ one, naming the demo's."""
    from ..classifiers.registry import ATTRIBUTES, normalize
    from ..suggest import did_you_mean

    celeba = {normalize(a) for a in ATTRIBUTES} | {"all"}
    for a in wanted:
        if a not in shipped and normalize(a) not in celeba and not a.isdigit():
            raise UserError(
                f"--attr: unknown attribute {a!r}{did_you_mean(a, shipped)} (the demo generator's classifiers: "
                f"{', '.join(shipped)}; CelebA-HQ attribute names need the CelebA-HQ classifiers)"
            )


def _random_weight_names(names: list[str]) -> list[str]:
    from ..classifiers.registry import ATTRIBUTES, WEIGHT_SPECS

    return [WEIGHT_SPECS[ATTRIBUTES.index(n)].name if n in ATTRIBUTES else n for n in names]


@click.command("separability")
@checkpoint_options
@classifier_options
@click.option(
    "--space",
    type=choice(["z,w", "z", "w"]),
    default="z,w",
    show_default=True,
    help="Latent spaces: z, w or both (z,w).",
)
@num_samples_option(f"Samples drawn (alias --num-gen) [default: {DEFAULT_NUM_SAMPLES}].")
@click.option(
    "--keep",
    type=click.FloatRange(0.0, 1.0, min_open=True),
    default=0.5,
    show_default=True,
    help="Fraction of the most confident samples kept per attribute.",
)
@click.option("--jobs", type=click.IntRange(min=1), default=1, show_default=True, help="Parallel SVM fits.")
@click.option(
    "--from-samples",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help=f"Skip generation: run the SVM stage on a stored {sep.SAMPLES_FILE}.",
)
@metric_noise_option
@click.option(
    "--save-samples/--no-save-samples",
    default=True,
    show_default=True,
    help=f"Write latents and logits to --out/{sep.SAMPLES_FILE} (reused by later runs).",
)
@tensorboard_option
@common_options
def command(*, ckpt, from_samples, run: RunOptions, tensorboard=None, **options) -> None:
    """Linear separability: how well a linear SVM on z / w predicts attribute classifiers' labels.

    Score per space = 2 ** (sum over attributes of H(Y|X) in bits); lower is better.
    """
    options["spaces"] = [s.strip().lower() for s in options.pop("space").split(",") if s.strip()]
    t0 = time.perf_counter()
    gen = None
    meta: dict[str, Any] = {}
    if from_samples is not None:
        fitted = _fit_stored(from_samples, options)
    else:
        gen, meta = ckpt.load(run.device)
        fitted = _fit_generated(gen, meta, ckpt.class_idx, run, options)
        if fitted is None:  # under torchrun: rank 0 fits the SVMs and reports
            return
    result, samples, samples_meta, timings = fitted
    if from_samples is None:
        timings = {"generate": time.perf_counter() - t0 - timings["svm"], "svm": timings["svm"]}
    settings = {
        **result.settings,
        "seed": run.seed,
        "noise_mode": options["noise_mode"],
        "class_idx": ckpt.class_idx,
        "attributes": samples.attributes,
        "jobs": options["jobs"],
    }
    meta.update(
        samples=samples_meta,
        random_weights=_random_weight_names(samples.random_weights),
        unconverged=result.meta["unconverged"],
        scores=result.scores,
        seconds=timings,
        environment=environment(run.device),
    )
    report = _write_report(result, settings, meta, samples_meta, run, gen)
    log_report(tensorboard, report, gen, step_of(ckpt.path), ckpt.class_idx)


def _fit_stored(path: Path, options: dict[str, Any]):
    """``--from-samples``: (result, samples, samples_meta, timings) of the SVM stage on a stored file."""
    t0 = time.perf_counter()
    samples, samples_meta = _stored_samples(path, options["attrs"], options["num_samples"])
    timings = {"load_samples": time.perf_counter() - t0}
    t1 = time.perf_counter()
    result = sep.fit_separability(
        samples, keep=options["keep"], spaces=options["spaces"], svm=options["svm"], jobs=options["jobs"]
    )
    timings["svm"] = time.perf_counter() - t1
    return result, samples, samples_meta, timings


#: The registry entry of each --space: one run, its spaces the entry's outputs.
_SPACE_METRICS = {("z", "w"): "ls", ("z",): "ls_z", ("w",): "ls_w"}


def _fit_generated(gen, meta: dict[str, Any], class_idx: int | None, run: RunOptions, options: dict[str, Any]):
    """(result, samples, samples_meta, timings) of the registry's separability run on ``gen``
    through the evaluation loop, its samples reused from / saved to --out; None on the ranks > 0."""
    from .. import compare as C
    from ..engine import DistInfo

    clfs = _classifiers(gen, options["attrs"], options["classifier_paths"], options["classifier_dir"], run)
    sep.check_resolutions(gen.resolution, clfs)
    if "w" in options["spaces"] and not gen.supports_w:
        raise UserError(f"{gen.family}: W space needs a generator with a mapping network; use --space z")
    opts = C.EvalOptions(
        seed=run.seed,
        batch_size=run.batch_size,
        svm=options["svm"],
        allow_random_weights=run.allow_random_weights,
        class_idx=class_idx,
        show_progress=run.show_progress,
        resume_state=run.resume_state,
    )
    opts.cached(store.CLASSIFIERS_KEY, lambda: clfs)
    measured = C.evaluate(gen, meta, C.plan([_planned_metric(options, run)]), opts)
    if not DistInfo.current().is_main:
        return None
    details = next(iter(measured.values())).details[0]
    meta["classifiers"] = _classifier_meta(clfs)
    return details["result"], details["samples"], details["samples_meta"], details["seconds"]


def _planned_metric(options: dict[str, Any], run: RunOptions):
    """The registry entry of --space with the command's protocol (--keep, --noise-mode, --jobs,
    --num-samples) and the samples file in --out."""
    import dataclasses

    from ..metrics import registry

    samples_file = str(Path(run.out) / sep.SAMPLES_FILE) if run.out is not None else None
    num_samples = options["num_samples"]
    return dataclasses.replace(
        registry.get(_SPACE_METRICS[tuple(options["spaces"])]),
        runner=store.RUNNER,
        num_samples=DEFAULT_NUM_SAMPLES if num_samples is None else num_samples,
        protocol={
            "keep": options["keep"],
            "noise_mode": options["noise_mode"],
            "jobs": options["jobs"],
            "samples_file": samples_file,
            "save_samples": options["save_samples"],
        },
    )


def _stored_samples(path: Path, attrs, num_samples: int | None) -> tuple[sep.SeparabilitySamples, dict[str, Any]]:
    """``--from-samples``: the stored samples, narrowed to ``attrs`` (stored names, CelebA-HQ names
    or indices, 'all') and the first ``num_samples`` rows."""
    samples = sep.SeparabilitySamples.load(path)
    if attrs:
        samples = samples.select(_stored_names(samples.attributes, attrs), num_samples)
    elif num_samples is not None:
        samples = samples.select(samples.attributes, num_samples)
    return samples, {"file": str(path), "reused": True, "fingerprint": samples.fingerprint}


def _stored_names(stored_attributes: list[str], attrs) -> list[str]:
    """The stored attributes ``attrs`` name: stored names, CelebA-HQ names or indices, 'all'."""
    from ..classifiers.registry import ATTRIBUTES, normalize, resolve_many

    stored = {normalize(a): a for a in stored_attributes}
    names = []
    for part in (p.strip() for a in attrs for p in a.split(",")):
        if not part:
            continue
        if normalize(part) == "all":
            names += stored_attributes
        elif normalize(part) in stored:
            names.append(stored[normalize(part)])
        else:
            names += [ATTRIBUTES[i] for i in resolve_many([part])]
    return list(dict.fromkeys(names))


def _classifiers(gen, attrs, classifier_paths, classifier_dir: Path | None, run: RunOptions) -> list:
    """The demo's classifiers for the demo generator, else CelebA-HQ attributes plus custom files."""
    from ..classifiers.registry import load_celebahq, load_custom

    clfs = demo_classifiers(gen, attrs, classifier_paths)
    if clfs is not None:
        return clfs
    clfs = []
    if attrs or not classifier_paths:
        clfs += load_celebahq(attrs or ["all"], classifier_dir, run.allow_random_weights)
    return clfs + [load_custom(p) for p in classifier_paths]


def _classifier_meta(clfs: list) -> dict[str, Any]:
    return {
        c.name: {
            "source": c.source,
            "input_resolution": c.input_resolution,
            "random_weights": c.random_weights,
            **({"tf": c.info} if c.info else {}),
        }
        for c in clfs
    }


def _write_report(result, settings: dict, meta: dict, samples_meta: dict, run: RunOptions, gen) -> Report:
    """The separability report, its entropy bars and (with the generator) its sample figures."""
    meta["warnings"] = list(result.meta.get("warnings") or [])  # printed once, summarized, below
    report = Report("separability", result.to_frame(), settings=settings, meta=meta)
    if samples_meta.get("file") and run.out is not None and Path(samples_meta["file"]).parent == Path(run.out):
        report.extra_files.append(sep.SAMPLES_FILE)
    report.meta["warnings"] = log.warn_all(
        result.meta.get("warnings", [])
    )  # degenerate attributes (too few samples, ...)
    plots.write_report_figures(report, run.out, gen, metrics=["ls"])  # entropy bars, samples, html
    emit(report, run)
    return report
