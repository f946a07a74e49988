"""The CelebA-HQ classifier port, the TF pickle reader, the registry and the training recipe."""

from __future__ import annotations

import math
import os
import pickle

import numpy as np
import pytest
import torch
from tf_utils import reference_variables, write_tf_pickle

from stylegan_eval.classifiers import registry
from stylegan_eval.classifiers.tf_pickle import load_tf_classifier, read_tf_network
from stylegan_eval.errors import CheckpointError, UnsafePickleError, UserError

SQRT2 = math.sqrt(2.0)


# ---------------------------------------------------------------------------------- numpy forward
def np_conv(x, w, b):
    """SAME conv, TF weight layout [kh, kw, in, out], times the wscale, plus bias."""
    kh = w.shape[0]
    p = kh // 2
    scale = SQRT2 / math.sqrt(np.prod(w.shape[:3]))
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    h, wd = x.shape[2:]
    out = np.zeros((x.shape[0], w.shape[3], h, wd), dtype=np.float64)
    for i in range(kh):
        for j in range(kh):
            out += np.einsum("nchw,co->nohw", xp[:, :, i : i + h, j : j + wd], w[i, j] * scale)
    return out + b[None, :, None, None]


def np_lrelu(x):
    return np.where(x >= 0, x, 0.2 * x)


def np_pool(x):
    n, c, h, w = x.shape
    return x.reshape(n, c, h // 2, 2, w // 2, 2).mean(axis=(3, 5))


def np_blur(x):
    f = np.array([1.0, 2.0, 1.0])
    k = np.outer(f, f) / 16.0
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    h, w = x.shape[2:]
    return sum(k[i, j] * xp[:, :, i : i + h, j : j + w] for i in range(3) for j in range(3))


def np_mbstd(x, g):
    n, c, h, w = x.shape
    g = min(g, n)
    y = x.reshape(g, n // g, 1, c, h, w)
    y = y - y.mean(0)
    y = np.sqrt((y**2).mean(0) + 1e-8).mean(axis=(2, 3, 4))  # [M, 1]
    feat = np.array([y[i % (n // g), 0] for i in range(n)])
    return np.concatenate([x, np.broadcast_to(feat[:, None, None, None], (n, 1, h, w))], axis=1)


def np_forward(v: dict, images: np.ndarray, blur: bool, mbstd_group: int = 0, lod: float = 0.0) -> np.ndarray:
    """Plain NumPy D_basic (linear structure) forward: unfused conv-then-pool, explicit lerp."""
    x = np.asarray(images, dtype=np.float64)
    log2 = int(math.log2(x.shape[-1]))
    img = x
    h = np_lrelu(np_conv(x, v["FromRGB_lod0/weight"], v["FromRGB_lod0/bias"]))
    for k, res in enumerate(range(log2, 2, -1)):
        r = 2**res
        h = np_lrelu(np_conv(h, v[f"{r}x{r}/Conv0/weight"], v[f"{r}x{r}/Conv0/bias"]))
        if blur:
            h = np_blur(h)
        pre = np_conv(h, v[f"{r}x{r}/Conv1_down/weight"], np.zeros(v[f"{r}x{r}/Conv1_down/bias"].shape))
        h = np_lrelu(np_pool(pre) + v[f"{r}x{r}/Conv1_down/bias"][None, :, None, None])
        img = np_pool(img)
        t = min(max(lod - k, 0.0), 1.0)
        y = (
            np_lrelu(np_conv(img, v[f"FromRGB_lod{k + 1}/weight"], v[f"FromRGB_lod{k + 1}/bias"]))
            if f"FromRGB_lod{k + 1}/weight" in v
            else h
        )
        h = h + (y - h) * t
    if mbstd_group > 1:
        h = np_mbstd(h, mbstd_group)
    h = np_lrelu(np_conv(h, v["4x4/Conv/weight"], v["4x4/Conv/bias"]))
    h = h.reshape(h.shape[0], -1)
    w0 = v["4x4/Dense0/weight"]
    h = np_lrelu(h @ (w0 * SQRT2 / math.sqrt(w0.shape[0])) + v["4x4/Dense0/bias"])
    w1 = v["4x4/Dense1/weight"]
    return h @ (w1 / math.sqrt(w1.shape[0])) + v["4x4/Dense1/bias"]


SMALL = dict(resolution=32, fmap_base=64, fmap_max=16)


@pytest.mark.parametrize(
    "builder,kwargs,blur,mbstd,lod",
    [
        ("D_basic", {}, True, 0, 0.0),  # D_basic default blur_filter [1, 2, 1]
        ("D_paper", {}, False, 0, 0.0),  # D_paper: no blur
        ("D_basic", {"blur_filter": None, "mbstd_group_size": 2}, False, 2, 0.0),
        ("D_basic", {}, True, 0, 1.5),  # progressive-growing blend at a non-zero lod
    ],
)
def test_tf_pickle_forward_matches_numpy(tmp_path, builder, kwargs, blur, mbstd, lod):
    variables = reference_variables(**SMALL, mbstd=bool(mbstd), seed=1, lod=lod)
    static = dict(num_channels=3, resolution=32, label_size=0, fmap_base=64, fmap_max=16, **kwargs)
    path = write_tf_pickle(tmp_path / "clf.pkl", variables, static, builder)
    model = load_tf_classifier(path)
    assert (model.config["blur_filter"] is not None) == blur
    assert model.mbstd_group_size == mbstd and model.lod == lod
    images = np.random.default_rng(2).uniform(-1, 1, size=(4, 3, 32, 32)).astype(np.float32)
    images[2] = images[0]  # with mbstd group 2 the strided group {0, 2} has zero spread, {1, 3} does not
    with torch.inference_mode():
        got = model(torch.from_numpy(images)).double().numpy()
    want = np_forward(dict(variables), images, blur=blur, mbstd_group=mbstd, lod=lod)
    assert got.shape == (4, 1)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * max(1.0, np.abs(want).max()))
    # blur is a real switch: the other choice gives other logits
    other = load_tf_classifier(path, blur_filter=None if blur else [1, 2, 1])
    with torch.inference_mode():
        assert not np.allclose(other(torch.from_numpy(images)).double().numpy(), want, rtol=1e-3)


def test_full_size_reference_variable_list(tmp_path):
    variables = reference_variables()
    assert len(variables) == 45
    path = write_tf_pickle(
        tmp_path / "celebahq-classifier-01-smiling.pkl",
        variables,
        dict(num_channels=3, resolution=256, label_size=0),
        "D_basic",
    )
    state = read_tf_network(path)
    assert state.build_func_name == "D_basic" and state.version == 4
    assert [n for n, _ in variables] == list(state.variables)
    model = load_tf_classifier(path)
    assert sum(p.numel() for p in model.parameters()) == 23_047_745
    assert model.resolution == 256 and model.mbstd_group_size == 0 and model.config["blur_filter"] == [1.0, 2.0, 1.0]
    v = dict(variables)
    torch.testing.assert_close(
        model.blocks[0].conv1_down.weight, torch.from_numpy(v["256x256/Conv1_down/weight"]).permute(3, 2, 0, 1)
    )
    torch.testing.assert_close(model.dense0.weight, torch.from_numpy(v["4x4/Dense0/weight"]).t())
    assert model.blocks[0].conv1_down.scale == pytest.approx(math.sqrt(2 / 576))
    assert model.dense1.scale == pytest.approx(1 / math.sqrt(512))
    # the 'fixed' structure (FromRGB_lod0 only) loads too
    fixed = reference_variables(lod_branches=False)
    model2 = load_tf_classifier(write_tf_pickle(tmp_path / "fixed.pkl", fixed, {"structure": "fixed"}))
    assert sum(p.numel() for p in model2.parameters()) == 23_038_017
    with torch.inference_mode():
        out = model2(torch.zeros(1, 3, 256, 256))
    assert out.shape == (1, 1) and torch.isfinite(out).all()
    # via the registry/--classifier-dir path
    [clf] = registry.load_celebahq(["Smiling"], classifier_dir=tmp_path)
    assert clf.name == "smiling" and not clf.random_weights and clf.identity.startswith("sha256:")


def test_strict_loading(tmp_path):
    base = reference_variables(**SMALL)
    static = dict(resolution=32, fmap_base=64, fmap_max=16)

    def load(variables, **kw):
        return load_tf_classifier(
            write_tf_pickle(tmp_path / "x.pkl", variables, {**static, **kw.pop("static", {})}, **kw)
        )

    with pytest.raises(CheckpointError, match="missing 4x4/Dense1/bias"):
        load(base[:-1])
    with pytest.raises(CheckpointError, match="unexpected extra/weight"):
        load(base + [("extra/weight", np.zeros(3, np.float32))])
    bad = [(n, np.zeros((3, 3, 16, 15), np.float32) if n == "4x4/Conv/weight" else a) for n, a in base]
    with pytest.raises(CheckpointError, match="4x4/Conv/weight"):
        load(bad)
    with pytest.raises(CheckpointError, match="label_size"):
        load(base, static={"label_size": 2})
    with pytest.raises(CheckpointError, match="G_style"):
        load(base, build_func_name="G_style")
    with pytest.raises(CheckpointError, match="version"):
        load(base, version=1)
    with pytest.raises(CheckpointError, match="non-finite"):
        load([(n, np.full_like(a, np.nan) if n == "4x4/Dense1/weight" else a) for n, a in base])


class _Evil:
    def __init__(self, cmd):
        self.cmd = cmd

    def __reduce__(self):
        return (os.system, (self.cmd,))


def test_hostile_pickles_are_refused(tmp_path):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pkl"
    evil.write_bytes(pickle.dumps(_Evil(f"touch {marker}")))
    with pytest.raises(UnsafePickleError, match="system"):
        load_tf_classifier(evil)
    # hidden inside a Network state
    variables = reference_variables(**SMALL)
    path = write_tf_pickle(tmp_path / "nested.pkl", variables + [("x", _Evil(f"touch {marker}"))], dict(resolution=32))
    with pytest.raises(UnsafePickleError):
        load_tf_classifier(path)
    assert not marker.exists()
    # build_module_src is never executed
    src = f"import os\nos.system('touch {marker}')\ndef D_basic(images_in, labels_in, blur_filter=[1,2,1]):\n    blur(x)\n"
    path = write_tf_pickle(
        tmp_path / "src.pkl", variables, {"resolution": 32, "fmap_base": 64, "fmap_max": 16}, src=src
    )
    model = load_tf_classifier(path)
    assert not marker.exists()
    assert model.config["blur_filter"] == [1.0, 2.0, 1.0] and "source" in model.tf_meta["decisions"]["blur"]


def test_blur_decided_from_source_text(tmp_path):
    variables = reference_variables(**SMALL)
    static = {"resolution": 32, "fmap_base": 64, "fmap_max": 16}
    src = "def D_basic(images_in, labels_in, blur_filter=None, structure='auto'):\n    return x\n"
    model = load_tf_classifier(write_tf_pickle(tmp_path / "a.pkl", variables, static, src=src))
    assert model.config["blur_filter"] is None
    # a multi-line signature with comments, as in networks_stylegan.py
    src = (
        "def G_style(latents_in, **kwargs):\n    blur_filter = None\n\n"
        "def D_basic(\n    images_in,                          # First input: Images [minibatch, channel, height, width].\n"
        "    labels_in,                          # Second input: Labels [minibatch, label_size].\n"
        "    fused_scale         = 'auto',       # True = fused convolution + scaling, False = separate ops.\n"
        "    blur_filter         = [1,3,1],      # Low-pass filter to apply when resampling activations. None = no filtering.\n"
        "    **_kwargs):                         # Ignore unrecognized keyword args.\n"
        "    def blur(x): return blur2d(x, blur_filter) if blur_filter else x\n"
    )
    model = load_tf_classifier(write_tf_pickle(tmp_path / "b.pkl", variables, static, src=src))
    assert model.config["blur_filter"] == [1.0, 3.0, 1.0]
    src = "def D_basic(images_in, labels_in, **_kwargs):\n    x = conv2d_downscale2d(x)\n"
    model = load_tf_classifier(write_tf_pickle(tmp_path / "c.pkl", variables, static, src=src))
    assert model.config["blur_filter"] is None and "no blur" in model.tf_meta["decisions"]["blur"]
    # a TF classifier pickle given as --classifier PATH: named after the file
    path = write_tf_pickle(tmp_path / "celebahq-classifier-07-bags-under-eyes.pkl", variables, static, "D_paper")
    clf = registry.load_custom(path)
    assert clf.name == "bags-under-eyes" and clf.input_resolution == 32 and clf.module.config["blur_filter"] is None
    assert clf.info["decisions"]["blur"].endswith("(builder D_paper (no blur))")


def test_registry_names_and_specs():
    assert len(registry.ATTRIBUTES) == 40 and len(registry.WEIGHT_SPECS) == 40
    assert registry.resolve("Smiling") == 1 == registry.resolve("1") == registry.resolve(1)
    assert registry.resolve("5_o_Clock_Shadow") == 5
    assert registry.resolve("WEARING-NECKTIE") == 39
    assert registry.resolve_many(["all"]) == list(range(40))
    assert registry.resolve_many(["male,smiling", "Male"]) == [0, 1]
    spec = registry.WEIGHT_SPECS[3]
    assert spec.url == "https://nvlabs-fi-cdn.nvidia.com/stylegan/networks/metrics/celebahq-classifier-03-wavy-hair.pkl"
    with pytest.raises(UserError, match="frowning"):
        registry.resolve("frowning")
    with pytest.raises(UserError, match="out of range"):
        registry.resolve("40")


def test_missing_weights_and_random_fallback(tmp_path, monkeypatch):
    from stylegan_eval.errors import WeightsUnavailable

    monkeypatch.setenv("STYLEGAN_EVAL_OFFLINE", "1")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.delenv("STYLEGAN_EVAL_WEIGHTS", raising=False)
    with pytest.raises(WeightsUnavailable, match="celebahq-classifier-00-male.pkl"):
        registry.load_celebahq(["male"])
    clfs = registry.load_celebahq(["male", "bald"], allow_random_weights=True)
    assert [c.random_weights for c in clfs] == [True, True]
    again = registry.load_celebahq(["male"], allow_random_weights=True)[0]
    torch.testing.assert_close(again.module.dense1.weight, clfs[0].module.dense1.weight)  # seeded by index
    assert not torch.equal(clfs[1].module.dense1.weight, clfs[0].module.dense1.weight)


# ---------------------------------------------------------------------------------- training recipe
def bright_dark(n, res=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    labels = torch.rand(n, generator=g) < 0.5
    level = torch.where(labels, 0.25, -0.25)[:, None, None, None]
    images = (level + 0.35 * torch.randn(n, 3, res, res, generator=g)).clamp(-1, 1)
    return images, labels


def test_training_recipe_learns_brightness():
    from stylegan_eval.classifiers.train import train_classifier

    torch.set_num_threads(min(2, torch.get_num_threads()))
    images, labels = bright_dark(600)
    result = train_classifier(
        images, labels.numpy(), epochs=4, batch_size=32, val_fraction=0.2, seed=0, base_channels=8, max_channels=16
    )
    assert result.metrics["num_heldout"] == 120
    assert result.metrics["heldout_accuracy"] > 0.95, result.metrics
    # positive logit = attribute present
    with torch.inference_mode():
        logits = result.model(images[:50])[:, 0]
    assert ((logits > 0) == labels[:50]).float().mean() > 0.9


def test_training_cli_celeba_and_csv(tmp_path):
    from PIL import Image

    from stylegan_eval.classifiers.registry import load_custom
    from stylegan_eval.classifiers.train import main

    images, labels = bright_dark(160, res=16, seed=1)
    folder = tmp_path / "img"
    folder.mkdir()
    u8 = ((images + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
    names = [f"{i:06d}.png" for i in range(len(u8))]
    for name, arr in zip(names, u8):
        Image.fromarray(arr).resize((32, 32), Image.NEAREST).save(folder / name)
    celeba = tmp_path / "list_attr_celeba.txt"
    rows = [str(len(names)), "5_o_Clock_Shadow Bright Male"]
    rows += [f"{n} -1 {1 if l else -1} 1" for n, l in zip(names, labels.tolist())]
    celeba.write_text("\n".join(rows) + "\n")
    out = tmp_path / "clf.pt"
    code = main(
        [
            str(folder),
            str(celeba),
            "--attr",
            "bright",
            "--out",
            str(out),
            "--resolution",
            "16",
            "--epochs",
            "6",
            "--batch-size",
            "16",
            "--val-fraction",
            "0.25",
            "--quiet",
        ]
    )
    assert code == 0 and out.is_file()
    clf = load_custom(out)
    assert clf.name == "bright" and clf.input_resolution == 16
    assert clf.info["metrics"]["heldout_accuracy"] > 0.9
    csv_path = tmp_path / "labels.csv"
    csv_path.write_text("image_id,Bright\n" + "\n".join(f"{n},{int(l)}" for n, l in zip(names, labels.tolist())) + "\n")
    code = main(
        [
            str(folder),
            str(csv_path),
            "--attr",
            "BRIGHT",
            "--out",
            str(tmp_path / "c2.pt"),
            "--resolution",
            "16",
            "--epochs",
            "1",
            "--quiet",
        ]
    )
    assert code == 0
    assert main([str(folder), str(csv_path), "--attr", "smiling", "--out", str(tmp_path / "c3.pt"), "--quiet"]) == 2
