"""The offline demo: procedural shapes, the shipped generator and classifiers, `stylegan-eval demo`."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import torch

from stylegan_eval import demo
from stylegan_eval.demo import shapes


# ------------------------------------------------------------------------------ procedural data
def test_shapes_deterministic_per_index():
    a, att_a = shapes.render(0, torch.arange(10))
    b, att_b = shapes.render(0, torch.tensor([5, 6]))
    assert torch.equal(a[5:7], b) and torch.equal(att_a[5:7], att_b)
    c, _ = shapes.render(1, torch.arange(10))
    assert not torch.equal(a, c)
    assert a.shape == (10, 3, 32, 32) and a.dtype == torch.float32
    assert a.min() >= -1 and a.max() <= 1


def test_shapes_attributes_balanced_independent_and_visible():
    imgs, att = shapes.render(3, torch.arange(2000))
    a = att.float()
    assert torch.all((a.mean(0) - 0.5).abs() < 0.05), a.mean(0)
    corr = np.corrcoef(a.numpy().T)
    assert np.all(np.abs(corr[np.triu_indices(4, 1)]) < 0.1), corr
    x = (imgs + 1) / 2
    sat = x.max(1).values - x.min(1).values  # [N, H, W]: grey background has 0 saturation
    mask = sat > 0.3
    area = mask.float().sum((1, 2))
    cols = torch.arange(32).float() + 0.5
    cx = (mask.float().sum(1) * cols).sum(1) / area
    k = {n: i for i, n in enumerate(shapes.ATTRIBUTES)}
    # position: shape centroid in the right half iff position == 1
    assert torch.equal((cx > 16).long(), att[:, k["position"]])
    # size: big shapes cover more pixels than any small shape
    big, small = area[att[:, k["size"]] == 1], area[att[:, k["size"]] == 0]
    assert big.min() > small.max()
    # colour: blue shapes have more blue than red inside the shape
    red = (x[:, 0] * mask).sum((1, 2)) / area
    blue = (x[:, 2] * mask).sum((1, 2)) / area
    assert torch.equal((blue > red).long(), att[:, k["colour"]])
    # shape: a square fills its bounding box, a circle ~pi/4 of it
    rows_any, cols_any = mask.any(2).float().sum(1), mask.any(1).float().sum(1)
    fill = area / (rows_any * cols_any)
    sq = att[:, k["shape"]] == 1
    assert fill[sq].min() > fill[~sq].max()


def test_write_png_folder(tmp_path):
    from PIL import Image

    out = shapes.write_png_folder(tmp_path / "pngs", 12, seed=4)
    pngs = sorted(out.glob("*.png"))
    assert len(pngs) == 12
    imgs, att = shapes.render(4, torch.arange(12))
    expect = (imgs * 127.5 + 128).clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
    assert np.array_equal(np.array(Image.open(pngs[7])), expect[7])
    rows = list(csv.DictReader(open(out / "attributes.csv")))
    assert [r["file"] for r in rows] == [p.name for p in pngs]
    assert [int(rows[3][a]) for a in shapes.ATTRIBUTES] == att[3].tolist()


# ------------------------------------------------------------------------------ training code
def test_fast_upfirdn2d_matches_ops():
    from stylegan_eval.networks import ops
    from tools.train_gan import fast_upfirdn2d

    torch.manual_seed(0)
    x = torch.randn(3, 5, 9, 9)
    k = ops.make_kernel((1, 3, 3, 1)) * 4
    for kw in (
        dict(up=2, pad=(2, 1)),
        dict(pad=(1, 1)),
        dict(down=2, pad=(2, 2)),
        dict(pad=(-1, 2)),
        dict(down=2, pad=(1, 1)),
    ):
        torch.testing.assert_close(fast_upfirdn2d(x, k, **kw), ops.upfirdn2d(x, k, **kw), rtol=1e-5, atol=1e-6)


def test_train_gan_smoke_and_snapshot_loads(tmp_path):
    from stylegan_eval.formats import load_generator
    from tools import train_gan

    d = train_gan.Discriminator()
    assert d(torch.randn(4, 3, 32, 32)).shape == (4, 1)
    assert train_gan.main(["--out", str(tmp_path), "--kimg", "0.032", "--snap-kimg", "1", "--batch", "8"]) == 0
    snaps = sorted(tmp_path.glob("snapshot-*.pt"))
    assert snaps and (tmp_path / "state.pt").is_file()
    exported = train_gan.export(snaps[-1], tmp_path / "half.pt")
    g = load_generator(exported)
    assert g.family == "stylegan2-rosinality" and g.resolution == 32
    img = g.generate(torch.randn(2, g.z_dim))
    assert img.shape == (2, 3, 32, 32) and torch.isfinite(img).all()


# ------------------------------------------------------------------------------ shipped files
def test_shipped_files_small_and_generator_loads_like_user_checkpoints():
    from stylegan_eval.formats import detect_format, load_generator, read_checkpoint

    path = demo.default_checkpoint()
    files = [path, *demo.classifier_paths().values()]
    assert sum(f.stat().st_size for f in demo.ASSETS.iterdir() if f.is_file()) <= 10 * 1024 * 1024
    raw = read_checkpoint(path)
    assert set(raw.obj) == {"g_ema", "latent_avg"}  # plain rosinality layout, nothing demo-specific
    assert detect_format(raw) == "stylegan2-rosinality"
    g = load_generator(path)  # autodetected, same loader as user files
    assert g.family == "stylegan2-rosinality" and g.resolution == 32 and g.stored_w_avg() is not None
    assert all(p.dtype == torch.float32 for p in g.parameters())
    with torch.no_grad():
        img = g.generate(torch.randn(4, g.z_dim), noise_mode="const")
    assert torch.isfinite(img).all() and img.std() > 0.05
    assert all(f.is_file() for f in files)
    # the record of how the shipped files were made (build_assets) matches them
    info = demo.training_info()
    assert info["generator"]["file"] == path.name and info["generator"]["kimg"] > 0
    assert info["generator"]["architecture"]["size"] == g.resolution == 32
    assert set(info["classifiers"]) == set(demo.CLASSIFIER_ATTRIBUTES)
    assert all(c["heldout_accuracy"] >= 0.95 for c in info["classifiers"].values())


def test_shipped_classifiers_load_through_separability_loader_and_work():
    from stylegan_eval.classifiers.registry import load_custom

    imgs, att = shapes.render(99, torch.arange(400))
    for k, (attr, path) in enumerate(demo.classifier_paths().items()):
        clf = load_custom(path)  # what `separability --classifier PATH` calls
        assert clf.name == attr and clf.input_resolution == 32 and not clf.random_weights
        with torch.no_grad():
            pred = (clf.module(imgs)[:, 0] > 0).long()
        acc = (pred == att[:, shapes.ATTRIBUTES.index(attr)]).float().mean().item()
        assert acc > 0.95, (attr, acc)


def test_separability_command_accepts_demo_classifier(cli, tmp_path):
    paths = demo.classifier_paths()
    code, out, err = cli(
        "separability",
        demo.default_checkpoint(),
        "--classifier",
        paths["colour"],
        "--classifier",
        paths["size"],
        "--num-samples",
        "200",
        "--svm",
        "fast",
        "--json",
        "--quiet",
        "--device",
        "cpu",
    )
    assert code == 0, err
    res = json.loads(out)
    attrs = {r["attribute"] for r in res["results"]}
    assert {"colour", "size", "score"} <= attrs


# ------------------------------------------------------------------------------ the command
def test_demo_command_report(cli, tmp_path):
    out = tmp_path / "report"
    code, stdout, err = cli(
        "demo", "--num-samples", "16", "--fid-samples", "8", "--out", out, "--json", "--quiet", "--device", "cpu"
    )
    assert code == 0, err
    rep = json.loads(stdout)
    assert rep["command"] == "demo"
    for f in (
        "samples.png",
        "real.png",
        "mix_coarse.png",
        "mix_fine.png",
        "demo.json",
        "demo.csv",
        "demo.md",
        "README.md",
    ):
        assert (out / f).is_file(), f
    rows = rep["results"]
    metrics = {(r["section"], r["metric"], r["space"], r["attribute"]) for r in rows}
    for m in ("ppl_zfull", "ppl_zend", "ppl_wfull", "ppl_wend"):
        assert ("ppl", m, m[4], None) in metrics
    for space in ("z", "w"):
        assert ("separability", "separability_score", space, None) in metrics
        for attr in demo.CLASSIFIER_ATTRIBUTES:
            assert ("separability", "conditional_entropy_bits", space, attr) in metrics
    assert ("fid", "fid", None, None) in metrics
    for r in rows:
        assert isinstance(r["value"], (int, float)) and math.isfinite(r["value"]), r
        assert r["detector_weights"] in ("published", "random init")
    randomized = any(r["detector_weights"] == "random init" for r in rows)
    assert (rep["warning"] is not None) == randomized
    assert rep["meta"]["family"] == "stylegan2-rosinality"
    assert set(rep["meta"]["findings"]) == {"w_more_separable_than_z", "w_paths_shorter_full", "w_paths_shorter_end"}
    scores = {r["space"]: r["value"] for r in rows if r["metric"] == "separability_score"}
    assert all(s >= 1.0 for s in scores.values())  # 2 ** (sum of entropies >= 0)
    _assert_demo_figures(out)


def _assert_demo_figures(out):
    """The demo's figures are the reports' labelled figures: mixing as the `mix` command draws it
    (a white labelled corner, not a black cell), padded grids of at least 512 px, Z vs W PPL."""
    import numpy as np
    from PIL import Image

    for name in ("mix_coarse.png", "mix_fine.png", "samples.png", "real.png"):
        img = np.asarray(Image.open(out / name).convert("RGB"))
        assert min(img.shape[:2]) >= 512, (name, img.shape)
        edge = (
            img[:4, :4]
            if name.startswith("mix")
            else np.concatenate([img[:2].reshape(-1, 3), img[:, :2].reshape(-1, 3)])
        )
        assert (edge == 255).all(), f"{name}: no white padding"
    corner = np.asarray(Image.open(out / "mix_coarse.png").convert("RGB"))[:100, :100]
    assert (corner < 128).mean() < 0.2  # a label on white, not the black corner cell
    assert {"ppl_z_vs_w.png", "ppl_z_vs_w.pdf", "ppl_z_vs_w.svg"} <= {p.name for p in out.iterdir()}
