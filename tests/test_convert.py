"""stylegan-eval convert: every loadable family round-trips through a code-free safetensors file
(identical images and info); hostile safetensors headers/configs are one-line errors; official
NVIDIA names resolve through the weights manager."""

from __future__ import annotations

import json
import struct

import nvidia_utils as nu
import pytest
import torch

from stylegan_eval import sampling
from stylegan_eval.errors import CheckpointError, UserError, WeightsUnavailable
from stylegan_eval.formats import load_generator, official, read_checkpoint
from stylegan_eval.formats import safetensors_file as stf

pytestmark = pytest.mark.usefixtures("one_thread")


def _sg1(tmp_path):
    from sg1_utils import save_checkpoint

    path, _ = save_checkpoint(tmp_path / "sg1.model", trained_up_to=3)
    return path


def _sg2_rosinality(tmp_path):
    from sg2_utils import make_rosinality_checkpoint

    return make_rosinality_checkpoint(tmp_path / "sg2.pt")


SOURCES = {
    "stylegan1-rosinality": _sg1,
    "stylegan2-rosinality": _sg2_rosinality,
    "stylegan2-nvidia": lambda p: nu.write_snapshot(p / "sg2.pkl", c_dim=3),
    "stylegan3-t": lambda p: nu.write_sg3_snapshot(p / "sg3t.pkl"),
    "stylegan3-r": lambda p: nu.write_sg3_snapshot(p / "sg3r.pkl", config="r"),
}


def _images(G):
    idx = torch.arange(3)
    z = sampling.normal(0, sampling.Z, idx, (G.z_dim,), "cpu")
    c = torch.nn.functional.one_hot(idx % G.c_dim, G.c_dim).float() if G.c_dim else None
    return torch.cat(
        [
            G.generate(z, c, psi=0.7, noise_mode="const"),
            G.generate(z, c, noise_mode="random", noise_seed=5, indices=idx),
        ]
    )


@pytest.mark.parametrize("family", list(SOURCES))
def test_round_trip_identical(tmp_path, family, cli):
    src = SOURCES[family](tmp_path)
    G = load_generator(src)
    assert G.family == family
    out = tmp_path / "out.safetensors"
    code, _, err = cli("convert", src, out)
    assert code == 0, err
    assert read_checkpoint(out).kind == "safetensors"
    H = load_generator(out)
    assert (_images(G) - _images(H)).abs().max().item() == 0
    assert G.info() == H.info()
    if G.stored_w_avg() is not None:
        assert torch.equal(G.w_avg, H.w_avg)
    # No code in the file: only tensors and string metadata.
    header = stf.read_header(out)
    config = json.loads(header["__metadata__"][stf.META_CONFIG])
    assert config["family"] == family and isinstance(config["arch"], dict)
    code, out_info, err = cli("info", out, "--json", "--device", "cpu")
    assert code == 0 and f'"family": "{family}"' in out_info, err


def test_convert_refuses_existing_and_wrong_suffix(tmp_path, cli):
    src = nu.write_sg3_snapshot(tmp_path / "g.pkl")
    out = tmp_path / "g.safetensors"
    assert cli("convert", src, out)[0] == 0
    code, _, err = cli("convert", src, out)
    assert code == 2 and "--force" in err
    code, _, err = cli("convert", src, tmp_path / "g.pt")
    assert code == 2 and ".safetensors" in err


def _write_raw(path, header: dict, data: bytes = b"") -> None:
    blob = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(blob)) + blob + data)


def test_hostile_safetensors(tmp_path):
    G = load_generator(nu.write_sg3_snapshot(tmp_path / "g.pkl"))
    good = stf.write(G, tmp_path / "good.safetensors")
    header = stf.read_header(good)
    meta = header["__metadata__"]
    cases = []
    # Header length larger than the file / the bound.
    huge = tmp_path / "huge.safetensors"
    huge.write_bytes(struct.pack("<Q", 1 << 40) + b"{}")
    cases.append((huge, "header claims"))
    # Entry pointing outside the file.
    bad_off = tmp_path / "off.safetensors"
    _write_raw(bad_off, {"__metadata__": meta, "x": {"dtype": "F32", "shape": [1 << 20], "data_offsets": [0, 4 << 20]}})
    cases.append((bad_off, "outside the file"))
    # Config with a wrong type, an unknown family, no config.
    cfg = json.loads(meta[stf.META_CONFIG])
    for name, mutate, match in (
        ("type", lambda c: c["arch"].update(img_resolution="32"), "img_resolution"),
        ("big", lambda c: c["arch"].update(channel_max=1 << 15, channel_base=1 << 30), "do not match"),
        ("family", lambda c: c.update(family="os.system"), "family"),
        ("field", lambda c: c["arch"].update(exec_this=1), "unknown StyleGAN3 config fields"),
    ):
        c = json.loads(json.dumps(cfg))
        mutate(c)
        p = tmp_path / f"{name}.safetensors"
        from safetensors.torch import load_file, save_file

        save_file(load_file(good), p, metadata={**meta, stf.META_CONFIG: json.dumps(c)})
        cases.append((p, match))
    plain = tmp_path / "plain.safetensors"
    save_file({"a": torch.zeros(2)}, plain)
    cases.append((plain, "without a stylegan-eval config"))
    # Tensors that do not fit the config.
    short = tmp_path / "short.safetensors"
    t = load_file(good)
    t.pop(next(iter(t)))
    save_file(t, short, metadata=meta)
    cases.append((short, "do not match"))
    for path, match in cases:
        with pytest.raises(CheckpointError, match=match) as exc:
            load_generator(path)
        assert len(str(exc.value).splitlines()) == 1, path


def test_custom_generators_cannot_be_converted():
    class Fake:
        family = "mine"

        def config(self):
            raise UserError("mine: this generator cannot be described as a code-free config")

    with pytest.raises(UserError, match="cannot convert"):
        stf.describe(Fake())


# ---------------------------------------------------------------- official names
def test_official_table():
    for name in (
        "stylegan2-ffhq-config-f",
        "karras2019stylegan-ffhq-1024x1024",
        "stylegan3-t-ffhq-1024x1024",
        "stylegan3-r-afhqv2-512x512",
        "stylegan3-t-metfaces-1024x1024",
        "stylegan2-ada-ffhq",
    ):
        entry = official.lookup(f"nvidia:{name}")
        assert entry.url.startswith("https://") and entry.filename.endswith(".pkl") and entry.sha256 is None
    assert official.OFFICIAL["stylegan3-r-ffhqu-256x256"].url.endswith("/stylegan3-r-ffhqu-256x256.pkl")
    with pytest.raises(CheckpointError, match="not an official"):
        official.lookup("nvidia:stylegan7")


def test_official_name_offline_and_local_copy(tmp_path, monkeypatch, cli):
    code, _, err = cli("info", "nvidia:stylegan3-t-ffhq-1024x1024", "--device", "cpu")
    assert code == 2 and "stylegan3-t-ffhq-1024x1024.pkl" in err and "STYLEGAN_EVAL_WEIGHTS" in err
    assert len(err.strip().splitlines()) == 1
    with pytest.raises(WeightsUnavailable):
        load_generator("nvidia:stylegan2-ffhq-config-f")
    nu.write_sg3_snapshot(tmp_path / "stylegan3-t-ffhq-1024x1024.pkl")
    monkeypatch.setenv("STYLEGAN_EVAL_WEIGHTS", str(tmp_path))
    assert load_generator("nvidia:stylegan3-t-ffhq-1024x1024").family == "stylegan3-t"
