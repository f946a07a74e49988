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
  FID Inception-v3) ran with its published weights (found in the local cache) or at random
  initialisation (nothing is downloaded; the banner says so).

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
from ..imageops import image_grid, save_png
from ..report import Report, environment
from .options import RunOptions, common_options, emit

DEFAULT_OUT = Path("demo-report")
DEFAULT_NUM_SAMPLES = 256


def _published(random_weights: list[str]) -> str:
    return "random init" if random_weights else "published"


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
    from ..classifiers.registry import load_custom
    from ..demo import classifier_paths, default_checkpoint, shapes, training_info
    from ..grids import mixing_grid
    from ..grids import render_indices as render
    from ..metrics import separability as sep
    from ..metrics.distances import make_distance
    from ..metrics.features import FeatureStats, generator_features
    from ..metrics.frechet import fid_from_stats
    from ..metrics.inception import make_detector
    from ..metrics.ppl import ppl

    say = log or (lambda s: None)
    device = torch.device(device)
    if num_samples < 4:
        raise UserError(f"--num-samples must be at least 4, got {num_samples}")
    sep_samples = sep_samples or 8 * num_samples
    fid_samples = fid_samples or max(8, num_samples // 2)
    ckpt_path = Path(checkpoint) if checkpoint is not None else default_checkpoint()
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    G, gen_meta = CheckpointSpec(ckpt_path, None, None, None, None).load(device)
    if G.resolution != shapes.RESOLUTION and checkpoint is None:
        raise UserError(f"{ckpt_path}: the demo generator should be {shapes.RESOLUTION} px, got {G.resolution}")
    bs = batch_size or (64 if device.type == "cpu" else 256)
    timings["load"] = time.perf_counter() - t0
    rows: list[dict[str, Any]] = []
    files: list[str] = []
    random_weights: list[str] = []
    warnings: list[str] = []

    # ---------------------------------------------------------------- images
    t = time.perf_counter()
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        seeds = list(range(64))
        save_png(image_grid(render(G, seeds, 1.0, "const", seed, None, bs), 8), out / "samples.png")
        real, _ = shapes.render(seed, torch.arange(64))
        save_png(image_grid(real, 8), out / "real.png")
        half = G.num_ws // 2
        for name, layers in (("mix_coarse.png", list(range(half))), ("mix_fine.png", list(range(half, G.num_ws)))):
            grid = mixing_grid(G, list(range(5)), list(range(5, 10)), layers, 1.0, "const", seed, None)
            save_png(image_grid(grid, 6), out / name)
        files += ["samples.png", "real.png", "mix_coarse.png", "mix_fine.png"]
    timings["images"] = time.perf_counter() - t
    say(f"images: {timings['images']:.1f}s")

    # ---------------------------------------------------------------- PPL
    t = time.perf_counter()
    dist = make_distance("lpips-vgg", allow_random=True, download=False)
    dist = dist.to(device)
    ppl_rw = list(getattr(dist, "random_weights", []))
    random_weights += ppl_rw
    distances: dict[str, dict[str, Any]] = {}
    for space in ("z", "w"):
        for sampling in ("full", "end"):
            r = ppl(
                G,
                space,
                sampling,
                num_samples,
                1e-4,
                False,
                distance=dist,
                batch_size=bs,
                seed=seed,
                bootstrap_resamples=200,
                show_progress=show_progress,
            )
            distances[f"ppl_{space}{sampling}"] = {"demo": r.distances}
            rows.append(
                {
                    "section": "ppl",
                    "metric": f"ppl_{space}{sampling}",
                    "space": space,
                    "attribute": None,
                    "value": r.mean,
                    "ci95_low": r.ci_low,
                    "ci95_high": r.ci_high,
                    "num_samples": num_samples,
                    "detector": "LPIPS VGG16",
                    "detector_weights": _published(ppl_rw),
                }
            )
    timings["ppl"] = time.perf_counter() - t
    say(f"ppl: {timings['ppl']:.1f}s")

    # ---------------------------------------------------------------- separability
    t = time.perf_counter()
    clfs = [load_custom(p) for p in classifier_paths().values()]
    samples = sep.collect_samples(G, clfs, sep_samples, seed=seed, batch_size=bs, show_progress=show_progress)
    res = sep.fit_separability(samples, keep=0.5, spaces=("z", "w"), svm="reference")
    for rec in res.to_frame().to_dict(orient="records"):
        is_score = rec["attribute"] == "score"
        rows.append(
            {
                "section": "separability",
                "metric": "separability_score" if is_score else "conditional_entropy_bits",
                "space": rec["space"],
                "attribute": None if is_score else rec["attribute"],
                "value": rec["score"] if is_score else rec["conditional_entropy_bits"],
                "ci95_low": None,
                "ci95_high": None,
                "num_samples": sep_samples,
                "detector": "demo classifiers",
                "detector_weights": "published",
            }
        )
        if not is_score:
            rows.append(
                {
                    "section": "separability",
                    "metric": "svm_accuracy",
                    "space": rec["space"],
                    "attribute": rec["attribute"],
                    "value": rec["svm_accuracy"],
                    "ci95_low": None,
                    "ci95_high": None,
                    "num_samples": sep_samples,
                    "detector": "demo classifiers",
                    "detector_weights": "published",
                }
            )
    warnings += [w for w in res.meta.get("warnings", []) if w not in warnings]
    if res.meta.get("unconverged"):
        warnings.append(f"LinearSVC (reference settings) stopped unconverged for {', '.join(res.meta['unconverged'])}")
    # How often the classifiers call each attribute on generated images (1 = positive class).
    label_rates = {c.name: float((samples.logits[:, k] > 0).mean()) for k, c in enumerate(clfs)}
    timings["separability"] = time.perf_counter() - t
    say(f"separability: {timings['separability']:.1f}s")

    # ---------------------------------------------------------------- FID
    t = time.perf_counter()
    det = make_detector("pytorch-fid", allow_random=True, download=False, device=device)
    fid_rw = list(det.random_weights)
    random_weights += fid_rw
    real_feats = []
    with torch.inference_mode():
        for imgs, _ in shapes.batches(seed, fid_samples, bs):
            real_feats.append(det((imgs * 127.5 + 128).clamp(0, 255).to(torch.uint8).to(device)).float().cpu())
    real_stats = FeatureStats.from_features(torch.cat(real_feats))
    gen_feats = generator_features(G, det, fid_samples, batch_size=bs, seed=seed, show_progress=show_progress)
    fid = fid_from_stats(real_stats, FeatureStats.from_features(gen_feats), method="eigen", device="cpu")
    if fid.warnings:
        warnings.append(
            f"FID from {fid_samples} images per side: covariance rank-deficient (< 2048 samples); "
            "the value is biased upwards and only comparable between runs of the same size"
        )
    rows.append(
        {
            "section": "fid",
            "metric": "fid",
            "space": None,
            "attribute": None,
            "value": fid.fid,
            "ci95_low": None,
            "ci95_high": None,
            "num_samples": fid_samples,
            "detector": "Inception-v3 (pytorch-fid)",
            "detector_weights": _published(fid_rw),
        }
    )
    timings["fid"] = time.perf_counter() - t
    say(f"fid: {timings['fid']:.1f}s")
    timings["total"] = time.perf_counter() - t0

    table = pd.DataFrame(rows)
    score = {s: res.scores[s] for s in ("z", "w")}
    ppl_v = {m["metric"]: m["value"] for m in rows if m["section"] == "ppl"}
    findings = {
        "w_more_separable_than_z": bool(score["w"] < score["z"]),
        "w_paths_shorter_full": bool(ppl_v["ppl_wfull"] < ppl_v["ppl_zfull"]),
        "w_paths_shorter_end": bool(ppl_v["ppl_wend"] < ppl_v["ppl_zend"]),
    }
    settings = {
        "num_samples": num_samples,
        "separability_samples": sep_samples,
        "fid_samples": fid_samples,
        "seed": seed,
        "batch_size": bs,
        "device": str(device),
        "ppl": {"epsilon": 1e-4, "crop": False, "distance": "lpips-vgg"},
        "separability": {"keep": 0.5, "svm": "reference"},
        "fid": {"real": f"stylegan_eval.demo.shapes seed {seed}", "detector": "pytorch-fid", "method": "eigen"},
    }
    meta = {
        **gen_meta,
        "demo_training": training_info(),
        "classifiers": {c.name: c.source for c in clfs},
        "classifier_positive_rate_on_generated": label_rates,
        "findings": findings,
        "random_weights": sorted(set(random_weights)),
        "warnings": warnings,
        "seconds": timings,
        "environment": environment(device),
    }
    report = Report("demo", table, settings, meta)
    report.extra_files = files
    if out is not None:
        atomic_write(out / "README.md", _summary_markdown(report, findings, score, ppl_v, label_rates))
        report.extra_files.append("README.md")
        atomic_write(out / "demo.html", demo_html(report, G, real, distances, res.to_frame()))
        report.extra_files.append("demo.html")
    return report


def demo_html(
    report: Report, G, real: torch.Tensor, distances: dict[str, dict[str, Any]], sep_table: pd.DataFrame
) -> str:
    """The demo's HTML page: sample grid and mixing figure of the generator, real images, the
    PPL histograms, per-attribute separability bars, the FID bar and every number."""
    from .. import html_report, plots
    from ..imageops import sample_grid

    samples = plots.checkpoint_figures(G, "demo generator")
    samples.append(("procedural training images (real)", sample_grid(real[:16], 4, min_size=512)))
    figs = html_report.ppl_histograms(distances)
    ents = {
        f"ls_{s}": {"demo": dict(zip(sub["attribute"], sub["conditional_entropy_bits"].astype(float)))}
        for s, sub in sep_table[sep_table["attribute"] != "score"].groupby("space", sort=False)
    }
    figs += html_report.separability_bars(ents)
    fid_v = report.table[report.table["metric"] == "fid"]["value"]
    if len(fid_v):
        figs.append(
            (
                "FID",
                html_report.png_base64(
                    plots.fid_figure({"fid": float(fid_v.iloc[0])}, "demo: FID vs procedural images")
                ),
            )
        )
    f = report.meta["findings"]
    notes = [
        f"W more separable than Z: {f['w_more_separable_than_z']}; W paths shorter (full / end): "
        f"{f['w_paths_shorter_full']} / {f['w_paths_shorter_end']}."
    ]
    notes += [f"Warning: {w}" for w in report.meta.get("warnings", [])]
    shown = report.table.drop(columns=["detector"], errors="ignore")
    return html_report.render(
        "stylegan-eval demo",
        shown,
        shown,
        None,
        figs,
        notes=notes,
        settings=report.settings,
        warning=report.banner(),
        samples=plots.encoded(samples),
        columns=None,
    )


def _ppl_text(report: Report, metric: str) -> str:
    row = report.table[report.table.metric == metric].iloc[0]
    return f"{row['value']:.4g} [{row['ci95_low']:.3g}, {row['ci95_high']:.3g}]"


def _summary_markdown(report: Report, findings: dict, score: dict, ppl_v: dict, label_rates: dict) -> str:
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
        f"- Linear separability (lower = more separable): Z {score['z']:.3f}, W {score['w']:.3f} "
        f"-> W {'more' if findings['w_more_separable_than_z'] else 'NOT more'} separable than Z.",
        f"- Perceptual path length, full paths: Z {_ppl_text(report, 'ppl_zfull')}, W {_ppl_text(report, 'ppl_wfull')}; "
        f"path ends: Z {_ppl_text(report, 'ppl_zend')}, W {_ppl_text(report, 'ppl_wend')} "
        f"-> W paths {'shorter' if findings['w_paths_shorter_full'] else 'NOT shorter'} (full), "
        f"{'shorter' if findings['w_paths_shorter_end'] else 'NOT shorter'} (ends); a difference whose 95% bootstrap "
        "intervals (in brackets) overlap is not significant at this sample count.",
        "- Classifier positive rate on generated images: "
        + ", ".join(f"{k} {v:.2f}" for k, v in label_rates.items())
        + " (0.5 on the training set).",
        "",
        "All numbers: demo.md / demo.json / demo.csv.",
        "",
    ]
    gen = report.meta.get("demo_training", {}).get("generator", {})
    if gen.get("kimg"):
        secs = gen.get("training_seconds")
        lines += [
            f"The generator was trained for {gen['kimg']} kimg"
            + (f" ({secs / 3600:.1f} h of wall time on {gen['machine']})" if secs and gen.get("machine") else "")
            + f" by `{gen.get('script', 'python -m tools.train_gan')}`; see demo.json, meta.demo_training.",
            "",
        ]
    return "\n".join(lines)


@click.command("demo")
@click.option(
    "--num-samples",
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
@click.option(
    "--checkpoint",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Use this 32x32 generator file instead of the embedded demo model.",
)
@common_options
def command(num_samples, fid_samples, sep_samples, checkpoint, run: RunOptions) -> None:
    """Run every metric on the embedded demo model (offline; a few minutes on a CPU).

    Writes sample and style-mixing grids and a report of PPL (Z, W), linear separability (Z, W)
    and FID to --out [default: ./demo-report]. Nothing is downloaded: LPIPS VGG16 and the FID
    Inception use their published weights when found in the local weights cache and otherwise
    run at random initialisation (labelled in the report; --allow-random-weights is implied).
    """
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
    for w in report.meta.get("warnings", []):
        if not run.json:
            messages.warning(w)
    emit(report, run)
