"""stylegan-eval separability CKPT --attr NAME ...: linear separability of z and w (StyleGAN 2019)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click

from .. import log, plots
from ..errors import UserError
from ..generator import NOISE_MODES
from ..metrics import separability as sep
from ..report import Report, environment
from .logger_options import log_report, step_of, tensorboard_option
from .metric_options import classifier_options
from .options import RunOptions, checkpoint_options, choice, common_options, emit

DEFAULT_NUM_SAMPLES = 200_000


def _generator_id(meta: dict[str, Any]) -> dict[str, Any]:
    keys = ("family", "resolution", "z_dim", "w_dim", "num_ws", "c_dim", "generator_spec", "parameters")
    gid = {k: meta.get(k) for k in keys}
    gid["weights"] = meta.get("sha256") or meta.get("checkpoint")
    if meta.get("identity"):  # spec-only generators: a changed adapter file never reuses samples
        gid["identity"] = meta["identity"]
    return gid


def _reusable(path: Path, fingerprint: dict[str, Any], num_samples: int) -> sep.SeparabilitySamples | None:
    """Stored samples that cover this run (same generator/seed/noise, every classifier, enough rows)."""
    if not path.is_file():
        return None
    try:
        stored = sep.SeparabilitySamples.load(path)
    except UserError:
        return None
    fp = stored.fingerprint
    same = all(fp.get(k) == fingerprint[k] for k in ("metric", "generator", "seed", "noise_mode", "class_idx"))
    have = {(n, i) for n, i, *_ in fp.get("classifiers", [])}
    want = [(n, i) for n, i, *_ in fingerprint["classifiers"]]
    if not same or not all(w in have for w in want) or stored.num_samples < num_samples:
        return None
    return stored.select([n for n, _ in want], num_samples)


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
@click.option(
    "--num-samples",
    "--num-gen",
    "num_samples",
    type=click.IntRange(min=2),
    default=None,
    help=f"Samples drawn (alias --num-gen) [default: {DEFAULT_NUM_SAMPLES}].",
)
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
@click.option(
    "--noise-mode",
    type=click.Choice(NOISE_MODES, case_sensitive=False),
    default="random",
    show_default=True,
    help="Synthesis noise (random: drawn per sample from --seed).",
)
@click.option(
    "--save-samples/--no-save-samples",
    default=True,
    show_default=True,
    help=f"Write latents and logits to --out/{sep.SAMPLES_FILE} (reused by later runs).",
)
@tensorboard_option
@common_options
def command(
    *,
    ckpt,
    attrs,
    space,
    num_samples,
    keep,
    classifier_paths,
    classifier_dir,
    svm,
    jobs,
    from_samples,
    noise_mode,
    save_samples,
    run: RunOptions,
    tensorboard=None,
) -> None:
    """Linear separability: how well a linear SVM on z / w predicts attribute classifiers' labels.

    Score per space = 2 ** (sum over attributes of H(Y|X) in bits); lower is better.
    """
    spaces = [s.strip().lower() for s in space.split(",") if s.strip()]
    t0 = time.perf_counter()
    gen = None
    meta: dict[str, Any] = {}
    if from_samples is not None:
        samples, samples_meta = _stored_samples(from_samples, attrs, num_samples)
        timings = {"load_samples": time.perf_counter() - t0}
    else:
        num_samples = DEFAULT_NUM_SAMPLES if num_samples is None else num_samples
        gen, meta = ckpt.load(run.device)
        clfs = _classifiers(gen, attrs, classifier_paths, classifier_dir, run.allow_random_weights)
        sep.check_resolutions(gen.resolution, clfs)
        if "w" in spaces and not gen.supports_w:
            raise UserError(f"{gen.family}: W space needs a generator with a mapping network; use --space z")
        protocol = dict(spaces=spaces, svm=svm, keep=keep, noise_mode=noise_mode, num_samples=num_samples)
        collected = _generated_samples(gen, meta, clfs, ckpt.class_idx, run, protocol, save_samples)
        if collected is None:  # under torchrun: rank 0 fits the SVMs and reports
            return
        samples, samples_meta = collected
        meta["classifiers"] = _classifier_meta(clfs)
        timings = {"generate": time.perf_counter() - t0}
    t1 = time.perf_counter()
    result = sep.fit_separability(samples, keep=keep, spaces=spaces, svm=svm, jobs=jobs)
    timings["svm"] = time.perf_counter() - t1
    settings = {
        **result.settings,
        "seed": run.seed,
        "noise_mode": noise_mode,
        "class_idx": ckpt.class_idx,
        "attributes": samples.attributes,
        "jobs": jobs,
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


def _stored_samples(path: Path, attrs, num_samples: int | None) -> tuple[sep.SeparabilitySamples, dict[str, Any]]:
    """``--from-samples``: the stored samples, narrowed to ``attrs`` (stored names, CelebA-HQ names
    or indices, 'all') and the first ``num_samples`` rows."""
    samples = sep.SeparabilitySamples.load(path)
    if attrs:
        from ..classifiers.registry import ATTRIBUTES, normalize, resolve_many

        stored = {normalize(a): a for a in samples.attributes}
        names = []
        for part in (p.strip() for a in attrs for p in a.split(",")):
            if not part:
                continue
            if normalize(part) == "all":
                names += samples.attributes
            elif normalize(part) in stored:
                names.append(stored[normalize(part)])
            else:
                names += [ATTRIBUTES[i] for i in resolve_many([part])]
        samples = samples.select(list(dict.fromkeys(names)), num_samples)
    elif num_samples is not None:
        samples = samples.select(samples.attributes, num_samples)
    return samples, {"file": str(path), "reused": True, "fingerprint": samples.fingerprint}


def _classifiers(gen, attrs, classifier_paths, classifier_dir: Path | None, allow_random: bool) -> list:
    """The demo's classifiers for the demo generator, else CelebA-HQ attributes plus custom files."""
    from ..classifiers.registry import load_celebahq, load_custom

    clfs = demo_classifiers(gen, attrs, classifier_paths)
    if clfs is not None:
        return clfs
    clfs = []
    if attrs or not classifier_paths:
        clfs += load_celebahq(attrs or ["all"], classifier_dir, allow_random)
    return clfs + [load_custom(p) for p in classifier_paths]


def _generated_samples(gen, meta: dict, clfs: list, class_idx, run: RunOptions, protocol: dict, save: bool):
    """(samples, samples_meta): stored samples in --out that cover this run, else a (resumable)
    generation pass saved to --out; None on the ranks > 0 of a multi-process run."""
    num_samples, noise_mode = protocol["num_samples"], protocol["noise_mode"]
    fingerprint = sep.sample_fingerprint(_generator_id(meta), run.seed, noise_mode, class_idx, clfs)
    samples_path = run.out / sep.SAMPLES_FILE if run.out is not None else None
    samples = _reusable(samples_path, fingerprint, num_samples) if samples_path is not None else None
    if samples is not None:
        return samples, {"file": str(samples_path), "reused": True}
    state = run.resume_state(
        "separability",
        sep.separability_fingerprint(
            gen, clfs, seed=run.seed, class_idx=class_idx, record_w=gen.supports_w, **protocol
        ),
    )
    samples = sep.collect_samples(
        gen,
        clfs,
        num_samples,
        seed=run.seed,
        batch_size=run.batch_size,
        noise_mode=noise_mode,
        class_idx=class_idx,
        need_w=gen.supports_w,
        state=state,
        show_progress=run.show_progress,
        fingerprint=fingerprint,
    )
    from ..engine import DistInfo

    if not DistInfo.current().is_main:
        return None
    samples_meta: dict[str, Any] = {"reused": False}
    if samples_path is not None and save:
        samples.save(samples_path)
        samples_meta["file"] = str(samples_path)
    if state is not None:
        state.clear()
    return samples, samples_meta


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
