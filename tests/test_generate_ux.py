"""generate --seeds as NVIDIA's gen_images.py, --indices, the figure functions, `demo` at the loader level."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

import stylegan_eval as se
from stylegan_eval.errors import UserError
from stylegan_eval.grids import render_indices as render
from stylegan_eval.grids import render_seeds, seed_latents
from stylegan_eval.imageops import mixing_figure, sample_grid


def _toy():
    return se.load_generator(generator_spec="toy_generators:make")


def _capture_z(G):
    seen = []
    real = G.mapping

    def mapping(z, c=None):
        seen.append(z.clone())
        return real(z, c)

    G.mapping = mapping
    return seen


def test_seed_latents_are_numpy_randomstate_draws():
    z = seed_latents([0, 42, 2**32 - 1], 512)
    for row, s in zip(z, [0, 42, 2**32 - 1]):
        assert torch.equal(row, torch.from_numpy(np.random.RandomState(s).randn(1, 512)[0]).float())
    with pytest.raises(UserError, match="--seeds"):
        seed_latents([2**32], 8)


def test_render_seeds_feeds_the_generator_nvidias_z_in_batches():
    G = _toy()
    seen = _capture_z(G)
    seeds = [7, 3, 1000, 5, 11]
    images = render_seeds(G, seeds, batch_size=2)
    z = torch.cat(seen)
    assert [len(s) for s in seen] == [2, 2, 1]
    expected = np.concatenate([np.random.RandomState(s).randn(1, G.z_dim) for s in seeds]).astype(np.float32)
    assert torch.equal(z, torch.from_numpy(expected))
    # Order and batching do not change an image: seed 3 alone gives row 1.
    alone = render_seeds(G, [3])
    assert torch.allclose(alone[0], images[1], atol=1e-6)


def test_generate_cli_writes_nvidia_seed_pngs_beside_the_grid(cli, tmp_path):
    out = tmp_path / "out"
    code, stdout, err = cli(
        "generate", "--generator", "toy_generators:make", "--seeds", "2,9", "--trunc", "0.5", "--out", out, "--json"
    )
    assert code == 0, err
    rep = json.loads(stdout)
    assert (
        rep["settings"]["seeds"] == [2, 9]
        and rep["settings"]["psi"] == 0.5
        and rep["settings"]["noise_mode"] == "const"
    )
    assert rep["files"] == ["seed0002.png", "seed0009.png"]
    # Independent re-statement: z from RandomState, truncation to w_avg, const noise, NVIDIA's uint8 conversion.
    G = _toy()
    z = torch.from_numpy(np.random.RandomState(9).randn(1, G.z_dim)).float()
    with torch.inference_mode():
        w = G.mapping(z)
        w = G.w_avg + 0.5 * (w - G.w_avg)
        x = G.synthesis(w, noise_mode="const")
    want = (x.permute(0, 2, 3, 1) * 127.5 + 128).clamp(0, 255).to(torch.uint8)[0].numpy()
    assert np.array_equal(np.asarray(Image.open(out / "seed0009.png")), want)
    assert (out / "grid.png").is_file()
    # --psi is the same option; --out-file names the grid.
    grid = tmp_path / "g.png"
    code, _, err = cli(
        "generate",
        "--generator",
        "toy_generators:make",
        "--seeds",
        "2,9",
        "--psi",
        "0.5",
        "--out",
        out,
        "--out-file",
        grid,
    )
    assert code == 0, err
    assert grid.read_bytes() == (out / "grid.png").read_bytes()


def test_generate_indices_are_the_sampling_engines_samples(cli, tmp_path):
    code, stdout, err = cli(
        "generate", "--generator", "toy_generators:make", "--indices", "0-3", "--seed", "5", "--out", tmp_path, "--json"
    )
    assert code == 0, err
    assert json.loads(stdout)["settings"]["indices"] == [0, 1, 2, 3] and not list(tmp_path.glob("seed*.png"))
    want = sample_grid(render(_toy(), [0, 1, 2, 3], 1.0, "const", 5, None, 16), 2)
    assert np.array_equal(np.asarray(Image.open(tmp_path / "grid.png")), want)
    code, _, err = cli(
        "generate", "--generator", "toy_generators:make", "--indices", "0", "--seeds", "0", "--out", tmp_path
    )
    assert code == 2 and "--indices" in err


def test_sample_grid_upscales_nearest_with_padding():
    imgs = torch.linspace(-1, 1, 5 * 3 * 4 * 4).reshape(5, 3, 4, 4)
    grid = sample_grid(imgs, 3, min_size=100, pad=2)
    k = -(-(100 - 2 * 4) // (3 * 4))  # 8
    assert grid.shape == (2 * 4 * k + 3 * 2, 3 * 4 * k + 4 * 2, 3) and grid.dtype == np.uint8
    u8 = (imgs * 127.5 + 128).clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
    tile4 = grid[2 + 4 * k + 2 :, 2 + 4 * k + 2 :][: 4 * k, : 4 * k]  # row 1, column 1: image 4
    assert np.array_equal(tile4, u8[4].repeat(k, 0).repeat(k, 1))
    assert (grid[:2] == 255).all() and (grid[:, 2 + 4 * k : 4 + 4 * k] == 255).all()  # padding
    assert (grid[2 + 4 * k + 2 :, -(4 * k + 2) :] == 255).all()  # the missing 6th cell stays background
    big = sample_grid(torch.zeros(1, 3, 600, 600), 1)
    assert big.shape == (608, 608, 3)  # never downscaled


def test_mixing_figure_has_labels_and_separators():
    src = torch.full((3, 3, 8, 8), 0.5)
    dst = torch.full((2, 3, 8, 8), -0.5)
    mixed = torch.zeros(6, 3, 8, 8)
    fig = mixing_figure(src, dst, mixed, ["seed 5", "seed 6", "seed 7"], ["seed 0", "seed 1"], min_tile=64, pad=4)
    plain = mixing_figure(src, dst, mixed, [" ", " ", " "], [" ", " "], min_tile=64, pad=4)
    assert fig.shape[1] > plain.shape[1]  # the destination labels take room on the left
    h, w = fig.shape[:2]
    assert h > 3 * 64 and w > 4 * 64
    dark = (fig < 100).all(axis=2)
    assert dark.all(axis=1).any() and dark.all(axis=0).any()  # a full-width and a full-height separator line
    band = fig[:20]  # source labels above the top row: dark text pixels, not only background
    assert (band < 128).any()
    with pytest.raises(ValueError, match="6 mixed"):
        mixing_figure(src, dst, mixed[:5])


def test_mix_cli_uses_nvidia_seeds_and_psi_alias(cli, tmp_path):
    code, _, err = cli(
        "mix",
        "--generator",
        "toy_generators:make",
        "--rows",
        "0-1",
        "--cols",
        "2",
        "--layers",
        "0-1",
        "--trunc",
        "0.7",
        "--out",
        tmp_path,
    )
    assert code == 0, err
    a = (tmp_path / "mix.png").read_bytes()
    code, _, err = cli(
        "mix",
        "--generator",
        "toy_generators:make",
        "--rows",
        "0-1",
        "--cols",
        "2",
        "--layers",
        "0-1",
        "--psi",
        "0.7",
        "--out-file",
        tmp_path / "b.png",
    )
    assert code == 0, err
    assert (tmp_path / "b.png").read_bytes() == a
    from stylegan_eval.grids import mixing_grid

    grid = mixing_grid(_toy(), [0, 1], [2], [0, 1, 2, 3], 1.0, "const", 0, None, nvidia_seeds=True)
    assert torch.allclose(grid[1], render_seeds(_toy(), [2])[0], atol=1e-6)  # the source cell is seed 2's image
    assert torch.allclose(grid[3], grid[1], atol=1e-6)  # all layers copied: the source again


def test_load_generator_demo_and_demo_classifiers_by_name():
    from stylegan_eval import demo

    G = se.load_generator("demo")
    assert G.family == "stylegan2-rosinality" and G.resolution == 32
    clfs = demo.classifiers("shape")
    assert [c.name for c in clfs] == ["shape"] and not clfs[0].random_weights
    assert [c.name for c in demo.classifiers(["Colour", "size,shape"])] == ["colour", "size", "shape"]
    assert [c.name for c in demo.classifiers()] == list(demo.CLASSIFIER_ATTRIBUTES)
    assert demo.resolve_attributes("color") == ["colour"]
    with pytest.raises(UserError, match="shipped: shape"):
        demo.classifiers("smiling")
    with torch.inference_mode():
        logits = clfs[0].module(G.generate(torch.randn(2, G.z_dim), noise_mode="const"))
    assert logits.shape[0] == 2


def test_out_with_an_image_suffix_points_to_out_file(cli, tmp_path):
    code, _, err = cli("generate", "--generator", "toy_generators:make", "--seeds", "0", "--out", tmp_path / "grid.png")
    assert code == 2 and "--out-file" in err and len(err.strip().splitlines()) == 1


def test_translate_rotate_set_the_inverse_of_gen_images_transform():
    from stylegan_eval.generator import Generator
    from stylegan_eval.grids import input_transform

    assert torch.allclose(input_transform((0.3, 1.0), 0.0), torch.tensor([[1.0, 0, -0.3], [0, 1, -1], [0, 0, 1]]))
    # make_transform((0, 0), 90) = [[cos, sin, 0], [-sin, cos, 0], [0, 0, 1]] = [[0, 1, 0], [-1, 0, 0], [0, 0, 1]]; its inverse:
    assert torch.allclose(
        input_transform((0.0, 0.0), 90.0), torch.tensor([[0.0, -1, 0], [1, 0, 0], [0, 0, 1]]), atol=1e-7
    )

    class Transformable(Generator):
        family, z_dim, w_dim, num_ws, resolution = "toy-sg3", 4, 4, 2, 4
        supports_input_transform = True

        def __init__(self):
            super().__init__()
            self.p = torch.nn.Parameter(torch.zeros(1))
            self.seen: list = []

        @property
        def noise_shapes(self):
            return []

        def _map(self, z, c):
            return z[:, None].repeat(1, 2, 1)

        def _synthesize(self, ws, noise):
            return torch.zeros(len(ws), 3, 4, 4)

        def _synthesize_transformed(self, ws, noise, transform):
            self.seen.append(transform)
            return torch.full((len(ws), 3, 4, 4), float(transform[0, 0, 2]))

    G = Transformable()
    out = render_seeds(G, [1, 2], translate=(0.5, 0.0))
    assert len(G.seen) == 1 and G.seen[0].shape == (2, 3, 3) and torch.allclose(out, torch.full_like(out, -0.5))
    with pytest.raises(UserError, match="StyleGAN3"):
        render_seeds(_toy(), [1], rotate=10.0)
