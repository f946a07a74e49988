"""The figures of every report: one style (labelled axes, captions with n, seed and interval, the
random-weights mark, PNG >= 200 dpi plus PDF/SVG), the charts' interval rules, the notes that
reach HTML and Markdown, and the paper figures (truncation, stochastic variation, Z vs W)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from stylegan_eval.figures import charts, reports, style


@pytest.fixture(scope="module")
def demo_generator():
    import stylegan_eval as se

    return se.load_generator("demo").eval()


def _texts(fig) -> str:
    """Every piece of text drawn in a matplotlib figure (titles, labels, ticks, legends, annotations)."""
    from matplotlib.text import Text

    return " | ".join(t.get_text() for t in fig.findobj(Text))


def _report(command: str, table: pd.DataFrame, **meta):
    from stylegan_eval.report import Report

    return Report(command, table, settings={"seed": 7, "num_gen": 24, "data": "real/"}, meta=meta)


# ------------------------------------------------------------------------------ style and saving
def test_saved_figure_is_png_200_dpi_plus_pdf_and_svg(tmp_path):
    from PIL import Image

    # a checkpoint name that is invalid mathtext is drawn literally in every format
    fig = charts.metric_chart({"fid": [charts.Bar("p$\\bad$q.pt", 3.0, n=64)]}, name="one", seed=1)
    names = style.save(fig, tmp_path)
    assert names == ["one.png", "one.pdf", "one.svg"]
    png = Image.open(tmp_path / "one.png")
    assert png.info["dpi"][0] >= 199 and png.size[0] >= 600
    assert (tmp_path / "one.pdf").read_bytes().startswith(b"%PDF")
    assert b"<svg" in (tmp_path / "one.svg").read_bytes()[:2000]
    assert not list(tmp_path.glob(".*.tmp"))  # atomic writes leave no temporary file


def test_fid_bars_have_axis_label_n_seed_and_random_weights_mark():
    from stylegan_eval import plots

    table = pd.DataFrame([{"metric": "fid", "value": 12.5}, {"metric": "kid", "value": 0.01}])
    report = _report("fid", table, random_weights=["FID Inception-v3"], checkpoint="/x/net.pkl")
    (fig,), notes = plots.report_charts(report, ["fid", "kid"])  # the registry's one hook, asked once
    assert notes == [] and fig.name == "fid_bars"
    ax_fid = fig.fig.axes[0]
    assert "FID [" in ax_fid.get_ylabel() and ax_fid.get_title() != "fid: fid" and "net.pkl" in _texts(fig.fig)
    assert len(fig.fig.axes) == 2  # FID and KID each on their own axis
    assert "n = 24" in fig.caption and "seed 7" in fig.caption and "randomly initialised" in fig.caption
    assert "RANDOM WEIGHTS" in _texts(fig.fig)
    (clean,), _ = reports.fid_report_figures(_report("fid", table, checkpoint="/x/net.pkl"))
    assert "RANDOM WEIGHTS" not in _texts(clean.fig) and "random" not in clean.caption


def test_separability_labels_are_horizontal_and_readable_with_z_and_w_side_by_side():
    attrs = [f"attribute-{i:02d}" for i in range(40)]
    rng = np.random.default_rng(0)
    ents = {"ckpt": {s: dict(zip(attrs, rng.uniform(0, 1, 40))) for s in ("z", "w")}}
    fig = charts.separability_chart(ents, scores={"ckpt": {"z": 9.0, "w": 4.0}}, n=1000, seed=0)
    (ax,) = fig.fig.axes
    labels = ax.get_yticklabels()
    assert [t.get_text() for t in labels] == attrs
    assert all(t.get_rotation() == 0 and t.get_fontsize() >= 8 for t in labels)
    assert len(ax.patches) == 80  # Z and W bars per attribute in one panel
    assert "Z space (score 9)" in _texts(fig.fig) and "W space (score 4)" in _texts(fig.fig)
    two = charts.separability_chart({"a": ents["ckpt"], "b": ents["ckpt"]})
    assert len(two.fig.axes) == 2 and all(ax.yaxis_inverted() for ax in two.fig.axes)  # first attribute on top


def test_all_zero_entropies_draw_no_chart_and_say_why():
    ents = {"ls_z": {"a": {"shape": 0.0, "size": 1e-16}}, "ls_w": {"a": {"shape": 0.0, "size": 0.0}}}
    figs, notes = reports.separability_figures(ents)
    assert figs == [] and "H(Y|X) = 0" in notes[0]


# ------------------------------------------------------------------------------ PPL
def _heavy_tailed(n: int = 400) -> np.ndarray:
    d = np.random.default_rng(1).lognormal(2.0, 1.0, n)
    d[:3] = [5e4, 8e4, 1e5]  # a few huge pairs pull the unfiltered mean far up
    return d


def test_ppl_histogram_legend_is_the_filtered_mean_with_cut_points_and_interval():
    from stylegan_eval.metrics.intervals import filter_outliers, nice

    d = _heavy_tailed()
    kept, lo, hi = filter_outliers(d)
    fig = charts.ppl_histogram("ppl_wend", [charts.PPLSeries("g", d, ci=(9.0, 11.0))], seed=3)
    (ax,) = fig.fig.axes
    legend = " ".join(t.get_text() for t in ax.get_legend().get_texts())
    assert f"PPL {nice(float(np.mean(kept)))}" in legend and nice(float(np.mean(d))) not in legend
    xs = sorted(float(line.get_xdata()[0]) for line in ax.get_lines())
    assert pytest.approx(lo) in xs and pytest.approx(hi) in xs  # the cut points
    spans = [p for p in ax.patches if type(p).__name__ == "Rectangle" and p.get_width() == pytest.approx(2.0)]
    assert spans or any(type(p).__name__ == "Polygon" for p in ax.patches)  # the shaded interval
    assert "1st and 99th percentiles" in fig.caption and "bootstrap" in fig.caption and "seed 3" in fig.caption


def test_ppl_out_histogram_uses_the_shared_log_bin_routine():
    from stylegan_eval import plots
    from stylegan_eval.metrics.ppl import PPLResult

    d = _heavy_tailed()
    kept = np.sort(d)[4:-4]
    result = PPLResult(d, float(kept.mean()), 1.0, 7.0, float(kept[0]), float(kept[-1]), kept.size, 6.0, 9.0, 10.0)
    report = _report("ppl", result.to_frame())
    runs = {"ppl2_wend": {"distances": d, "name": result.name}}
    assert plots.report_charts(report, ["ppl2_wend"]) == ([], [])  # no distances, no histogram
    (fig,), _ = plots.report_charts(report, ["ppl2_wend"], runs)
    (ax,) = fig.fig.axes
    assert ax.get_xscale() == "log" and "log bins" in ax.get_xlabel()
    assert f"PPL {charts.nice(result.mean)}" in " ".join(t.get_text() for t in ax.get_legend().get_texts())


def test_z_vs_w_ppl_side_by_side_with_intervals():
    rows = [
        {
            "checkpoint": "g",
            "metric": m,
            "value": v,
            "ci95_low": v - 1,
            "ci95_high": v + 1,
            "repeats": 1,
            "num_samples": 64,
        }
        for m, v in (("ppl_zfull", 12.0), ("ppl_wfull", 9.0), ("ppl_zend", 16.0), ("ppl_wend", 5.0))
    ]
    fig = reports.z_vs_w_figure(pd.DataFrame(rows), seed=0)
    full, end = fig.fig.axes
    assert "full" in full.get_title() and "end" in end.get_title()
    assert all(len(ax.patches) == 2 and len(ax.collections) == 2 for ax in (full, end))  # Z, W bars + error bars
    assert "Z space" in _texts(fig.fig) and "bootstrap" in fig.caption
    assert reports.z_vs_w_figure(pd.DataFrame(rows[:1])) is None  # one space only: nothing to compare


# ------------------------------------------------------------------------------ intervals
def test_two_repeats_draw_no_interval_and_say_why():
    bars = [charts.Bar("a", 0.7, 2.6e-05, 11189.0, 2, 64), charts.Bar("b", 0.9, 3e-05, 12000.0, 2, 64)]
    fig = charts.metric_chart({"fid": bars}, name="fid", seed=0)
    (ax,) = fig.fig.axes
    assert not ax.collections  # no error bars
    assert ax.get_ylim()[1] < 5  # the 0.7 and 0.9 bars fill the axis
    assert "2 repeats give no usable 95% interval" in fig.caption
    table = pd.DataFrame([{"metric": "fid", "repeats": 2}])
    assert "t(0.975, 1) = 12.7" in charts.interval_notes(table)[0]


def test_one_wide_interval_switches_to_a_log_axis():
    bars = [charts.Bar("a", 0.7, 0.5, 900.0, 5, 64), charts.Bar("b", 0.9, 0.8, 1.0, 5, 64)]
    fig = charts.metric_chart({"fid": bars}, name="fid", seed=0)
    (ax,) = fig.fig.axes
    assert ax.get_yscale() == "log" and len(ax.collections) == 2
    narrow = charts.metric_chart(
        {"fid": [charts.Bar("a", 0.7, 0.6, 0.8, 5), charts.Bar("b", 0.9, 0.8, 1.0, 5)]}, name="f"
    )
    assert narrow.fig.axes[0].get_yscale() == "linear"


# ------------------------------------------------------------------------------ notes and pages
def test_notes_reach_markdown_and_html(tmp_path):
    from stylegan_eval import plots

    table = pd.DataFrame(
        [
            {"space": "z", "attribute": "shape", "conditional_entropy_bits": 0.0, "score": None},
            {"space": "z", "attribute": "score", "conditional_entropy_bits": 0.0, "score": 1.0},
        ]
    )
    note = "z:shape: 32 kept samples do not exceed the 64 latent dimensions, so H = 0 by construction"
    report = _report("separability", table, warnings=[note])
    plots.write_report_figures(report, tmp_path, metrics=["ls"])
    page = (tmp_path / "separability.html").read_text()
    assert "H = 0 by construction" in page and "no per-attribute chart" in page
    assert not (tmp_path / "separability_entropy.png").exists()  # an empty chart is not drawn
    md = report.to_markdown()
    assert "## Notes" in md and "H = 0 by construction" in md and "no per-attribute chart" in md


def test_compare_markdown_and_html_state_unusable_intervals():
    from stylegan_eval.report import CompareReport

    table = pd.DataFrame(
        [
            {
                "checkpoint": c,
                "metric": "fid",
                "value": v,
                "ci95_low": 2.6e-5,
                "ci95_high": 11189.0,
                "repeats": 2,
                "num_samples": 64,
            }
            for c, v in (("a", 0.7), ("b", 0.9))
        ]
    )
    report = CompareReport("compare", table, settings={"seed": 0}, meta={"warnings": ["FID rank-deficient"]})
    md = report.to_markdown()
    assert "2 repeats give no usable 95% interval" in md and "FID rank-deficient" in md
    page = report.to_html()
    assert "2 repeats give no usable 95% interval" in page and "FID rank-deficient" in page


def test_single_metric_pages_put_headline_columns_first():
    from stylegan_eval import html_report, plots

    ppl = pd.DataFrame(
        [
            dict.fromkeys(
                [
                    "metric",
                    "space",
                    "sampling",
                    "crop",
                    "num_samples",
                    "ppl",
                    "std",
                    "median",
                    "lo",
                    "hi",
                    "kept",
                    "ci95_low",
                    "ci95_high",
                    "samples_per_s",
                ],
                1.0,
            )
        ]
    )
    page = html_report.render("p", ppl, ppl, None, [], columns=None, headline=plots.HEADLINE["ppl"])
    header = page[page.index("<thead>") : page.index("</thead>")]
    assert header.index("ci95_high") < header.index("space")
    sep = pd.DataFrame(
        [
            dict.fromkeys(
                [
                    "space",
                    "attribute",
                    "conditional_entropy_bits",
                    "svm_accuracy",
                    "label_balance",
                    "kept",
                    "converged",
                    "svm_iterations",
                    "svm_seconds",
                    "score",
                ],
                1.0,
            )
        ]
    )
    page = html_report.render("s", sep, sep, None, [], columns=None, headline=plots.HEADLINE["separability"])
    header = page[page.index("<thead>") : page.index("</thead>")]
    assert header.index(">score<") < header.index("label_balance")
    assert "display:grid" in page


# ------------------------------------------------------------------------------ paper figures
def test_truncation_figure_rows_share_seeds(demo_generator):
    from stylegan_eval.figures.paper import truncation_figure

    fig = truncation_figure(demo_generator, seeds=[0, 1, 2], psis=[1.0, 0.0])
    axes = np.array(fig.fig.axes).reshape(2, 3)
    tiles = [[np.asarray(ax.images[0].get_array()) for ax in row] for row in axes]
    assert not np.array_equal(tiles[0][0], tiles[0][1])  # psi = 1: three different samples
    assert np.array_equal(tiles[1][0], tiles[1][1]) and np.array_equal(tiles[1][1], tiles[1][2])  # psi = 0: the mean
    assert [ax.get_title() for ax in axes[0]] == ["seed 0", "seed 1", "seed 2"]
    assert axes[1, 0].get_ylabel() == "ψ = 0"


def test_stochastic_variation_varies_only_the_noise(demo_generator):
    from stylegan_eval.figures.paper import variation_figure, variation_images

    images = variation_images(demo_generator, seed=3, draws=4)
    assert images.shape[0] == 4 and not np.allclose(images[0], images[1])
    assert float((images[0] - images[1]).abs().mean()) < 0.1  # same w: the same picture up to detail
    fig = variation_figure(demo_generator, seed=3, draws=4, shown=3)
    assert "std [8-bit levels]" in _texts(fig.fig) and "4 noise draws" in fig.caption


@pytest.mark.slow  # about 6 s: two commands load the demo generator
def test_truncation_and_variation_commands_write_png_and_vector(cli, tmp_path):
    code, out, err = cli(
        "truncation", "demo", "--seeds", "0-1", "--psi", "1,0.5", "--device", "cpu", "--out", tmp_path, "--json"
    )
    assert code == 0, err
    rep = json.loads(out)
    assert rep["meta"]["files"] == ["truncation.png", "truncation.pdf", "truncation.svg"]
    code, out, err = cli("variation", "demo", "--seeds", "2", "--draws", "3", "--device", "cpu", "--out", tmp_path)
    assert code == 0, err
    assert {p.name for p in tmp_path.glob("variation_seed2.*")} == {
        "variation_seed2.png",
        "variation_seed2.pdf",
        "variation_seed2.svg",
    }
    code, _, err = cli("truncation", "demo", "--psi", "1,abc", "--out", tmp_path)
    assert code == 2 and "--psi" in err


def test_paper_figures_refuse_generators_without_w_or_noise(cli, tmp_path):
    code, _, err = cli("truncation", "toy_generators:black_box", "--device", "cpu", "--out", tmp_path)
    assert code == 2 and "W space" in err and len(err.strip().splitlines()) == 1
    code, _, err = cli("variation", "toy_generators:black_box", "--device", "cpu", "--out", tmp_path)
    assert code == 2 and "noise inputs" in err
    assert not list(tmp_path.iterdir())  # nothing written before the refusal
