"""Generated images in place of a generator: folders, zips, tensors and the streaming object give the
FID the generator path gives on the same images; dataset sizes unlike the generator's are reported.

A tiny deterministic detector (16 features of an 8x8 average pool) stands in for Inception so the
tests are fast; the plumbing they check is the same for every detector.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
import torch
from image_utils import PoolDetector, TinyGen, save_pngs, tiny_samples, write_images

import stylegan_eval as se
from stylegan_eval.errors import ArgumentError
from stylegan_eval.imageops import to_uint8
from stylegan_eval.metrics.image_samples import GeneratedImages


@pytest.fixture
def real(tmp_path) -> Path:
    write_images(tmp_path / "real", 40, seed=3, size=16)
    return tmp_path / "real"


def test_folder_zip_tensor_and_stream_equal_generator_path(tmp_path, real):
    det = PoolDetector()
    opts = dict(detector=det, no_cache=True, num_workers=0)
    ref = se.fid(TinyGen(), real, num_samples=40, **opts)
    images = tiny_samples(40)
    folder = save_pngs(images, tmp_path / "gen")
    zpath = tmp_path / "gen.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        for p in sorted(folder.iterdir()):
            zf.write(p, p.name)
    for generated in (folder, zpath, images, to_uint8(images), list(images.split(7))):
        res = se.fid(generated, real, **opts)
        assert res.num_gen == 40
        assert res.fid == pytest.approx(ref.fid, rel=1e-5, abs=1e-7), type(generated)
    stream = se.StreamingFID(real, detector=det, no_cache=True, num_workers=0)
    for batch in images.split(9):
        stream.update(batch)
    assert stream.compute().fid == pytest.approx(ref.fid, rel=1e-5, abs=1e-7)
    assert ref.fid > 1e-3  # the generated images are not the real ones


def test_identical_folders_give_zero_and_kid(real):
    res = se.fid(real, real, kid=True, detector=PoolDetector(), num_workers=0)
    assert abs(res.fid) < 1e-6 and res.settings["generated"] == "folder"
    assert res.kid is not None and res.kid < 0  # KID's unbiased estimate of identical sets is below 0


def test_iterable_is_read_once_and_stream_needs_two_images(real):
    samples = GeneratedImages(iter([tiny_samples(4)]))
    det = PoolDetector()
    samples.image_features(det, 4)
    with pytest.raises(ArgumentError, match="read once"):
        list(samples.batches(4))
    stream = se.StreamingFID(real, detector=det)
    stream.update(tiny_samples(1))
    with pytest.raises(ArgumentError, match="at least 2"):
        stream.compute()


def test_dataset_size_mismatch_warns_and_strict_refuses(tmp_path):
    write_images(tmp_path / "mixed", 6, seed=1, size=32)
    write_images(tmp_path / "mixed", 4, seed=2, size=16, start=10)
    det = PoolDetector()
    res = se.fid(TinyGen(), tmp_path / "mixed", num_samples=8, detector=det, num_workers=0)
    (line,) = [w for w in res.warnings if "size" in w]
    assert "32x32 (6)" in line and "16x16 (4)" in line and "generated 16x16" in line and "resized" in line
    assert res.real_info["sizes"] == {"32x32": 6, "16x16": 4}
    import stylegan_eval.metrics.features as features

    calls = []
    real_features = features.generator_features
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(features, "generator_features", lambda *a, **k: calls.append(1) or real_features(*a, **k))
        with pytest.raises(ArgumentError, match="strict_data"):
            se.fid(TinyGen(), tmp_path / "mixed", num_samples=8, detector=det, num_workers=0, strict_data=True)
    assert not calls  # refused before any image was generated
    write_images(tmp_path / "same", 6, seed=1, size=16)
    res = se.fid(TinyGen(), tmp_path / "same", num_samples=8, detector=det, num_workers=0, strict_data=True)
    assert not [w for w in res.warnings if "size" in w]


def test_public_names_only_in_dir():
    names = dir(se)
    assert "fid" in names and "StreamingFID" in names
    assert not {"Any", "annotations", "importlib"} & set(names)


def test_cli_fid_of_a_folder_and_ppl_refuses_it(tmp_path, cli, monkeypatch):
    """fid SAMPLES_DIR --data REAL: the same report with the generated side named; ppl refuses images in one line."""
    import stylegan_eval.metrics.inception as inception

    monkeypatch.setattr(inception, "make_detector", lambda *a, **k: PoolDetector())
    save_pngs(tiny_samples(3), tmp_path / "gen")
    write_images(tmp_path / "real", 3, seed=3, size=16)
    code, out, err = cli(
        "--no-config",
        "fid",
        tmp_path / "gen",
        "--data",
        tmp_path / "real",
        "--allow-random-weights",
        "--quiet",
        "--json",
        "--device",
        "cpu",
        "--num-workers",
        "0",
        "--out",
        tmp_path / "out",
    )
    assert code == 0, err
    rep = json.loads(out)
    assert rep["settings"]["num_gen"] == 3 and rep["settings"]["generated"] == "folder"
    assert rep["meta"]["family"] == "images" and (tmp_path / "out" / "fid.html").is_file()
    with zipfile.ZipFile(tmp_path / "gen.zip", "w") as zf:
        for p in sorted((tmp_path / "gen").iterdir()):
            zf.write(p, p.name)
    for images in (tmp_path / "gen", tmp_path / "gen.zip"):
        code, out, err = cli("--no-config", "ppl", images, "--num-samples", "4", "--device", "cpu")
        lines = [line for line in err.splitlines() if line.strip()]
        assert code == 2 and len(lines) == 1 and "needs a generator" in lines[0], err


def test_calc_and_compare_take_image_folders(tmp_path, cli, monkeypatch):
    """calc/compare with a folder of generated images: FID as the generator path's; PPL refused in one line;
    two checkpoints with one sha256 are computed once."""
    import stylegan_eval.metrics.inception as inception

    monkeypatch.setattr(inception, "make_detector", lambda *a, **k: PoolDetector())
    save_pngs(tiny_samples(24), tmp_path / "gen")
    write_images(tmp_path / "real", 24, seed=3, size=16)
    ref = se.fid(TinyGen(), tmp_path / "real", num_samples=24, detector=PoolDetector(), num_workers=0)
    code, out, err = cli(
        "--no-config",
        "calc",
        tmp_path / "gen",
        "--metrics",
        "fid",
        "--data",
        tmp_path / "real",
        "--json",
        "--quiet",
        "--device",
        "cpu",
    )
    assert code == 0, err
    rows = [r for r in json.loads(out)["results"] if r.get("metric") == "fid"]
    assert rows and float(rows[0]["value"]) == pytest.approx(ref.fid, rel=1e-5)
    assert se.evaluate(tmp_path / "gen", ["fid"], data=tmp_path / "real")["fid"] == pytest.approx(ref.fid, rel=1e-5)
    write_images(tmp_path / "real", 2, seed=4, size=24, start=50)  # now of mixed sizes
    code, out, err = cli(
        "--no-config", "calc", tmp_path / "gen", "--metrics", "fid", "--data", tmp_path / "real", "--strict-data"
    )
    assert code == 2 and "--strict-data" in err and "16x16 (24), 24x24 (2)" in err, err
    code, out, err = cli("--no-config", "calc", tmp_path / "gen", "--metrics", "ppl_wend", "--num-samples", "4")
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and "needs a generator" in lines[0], err


def test_compare_same_file_twice_computes_once(tmp_path, cli, monkeypatch):
    """compare demo demo: one sha256, one evaluation (the metric itself is replaced: only the count matters)."""
    import stylegan_eval.compare as compare_pkg

    calls = []

    def counted(gen, meta, runners, opts):
        calls.append(meta["sha256"])
        return {"ppl_wend": compare_pkg.aggregate("ppl_wend", [compare_pkg.Raw(float(len(calls)))])}

    monkeypatch.setattr(compare_pkg, "evaluate", counted)
    code, out, err = cli("--no-config", "compare", "demo", "demo", "--metrics", "ppl_wend", "--json", "--quiet")
    assert code == 0, err
    assert len(calls) == 1
    values = [r["value"] for r in json.loads(out)["results"]]
    assert values == [1.0, 1.0]


def test_calc_fail_if_help_names_no_baseline(cli):
    code, out, err = cli("calc", "--help")
    assert code == 0 and "first checkpoint" not in out and "--strict-data" in out


def test_pr_and_fd_take_images_and_report_sizes(tmp_path):
    """Precision/recall and FD: generated images in place of the generator; mixed real sizes warn or refuse."""
    from stylegan_eval.metrics.modern_detectors import frechet_distance_in
    from stylegan_eval.metrics.precision_recall import precision_recall

    write_images(tmp_path / "real", 8, seed=1, size=16)
    write_images(tmp_path / "real", 4, seed=2, size=24, start=20)
    det = PoolDetector()
    images = tiny_samples(10)
    pr = precision_recall(images, tmp_path / "real", detector=det, max_real=None, feature_dtype="float32")
    ref = precision_recall(
        TinyGen(), tmp_path / "real", num_samples=10, detector=det, max_real=None, feature_dtype="float32"
    )
    assert pr.values() == ref.values() and pr.settings["num_samples"] == 10
    (note,) = pr.extra["warnings"]
    assert "16x16 (8), 24x24 (4)" in note
    fd = frechet_distance_in(images, tmp_path / "real", detector=det, use_cache=False)
    assert any("24x24 (4)" in w for w in fd.extra["warnings"])
    with pytest.raises(ArgumentError, match="strict_data"):
        frechet_distance_in(images, tmp_path / "real", detector=det, use_cache=False, strict_data=True)


def test_inception_score_of_images_equals_the_generator_path():
    from stylegan_eval.metrics.inception_score import inception_score

    class LogitPool(PoolDetector):
        def logits_unbiased(self, images: torch.Tensor) -> torch.Tensor:
            return 4 * self(images)

    det = LogitPool()
    ref = inception_score(TinyGen(), num_samples=12, num_splits=2, detector=det)
    res = inception_score(tiny_samples(12), num_splits=2, detector=det)
    assert res.values()["is"] == pytest.approx(ref.values()["is"], rel=1e-6) and res.settings["num_samples"] == 12


def test_statistics_file_keeps_the_image_sizes(tmp_path):
    """A statistics file of mixed-size images carries the sizes, so FID against it warns as against the folder."""
    from stylegan_eval.metrics.features import dataset_stats

    write_images(tmp_path / "real", 4, seed=1, size=16)
    write_images(tmp_path / "real", 3, seed=2, size=24, start=10)
    det = PoolDetector()
    stats, _ = dataset_stats(tmp_path / "real", det, use_cache=False, show_progress=False)
    stats.save(tmp_path / "real.npz")
    res = se.fid(TinyGen(), tmp_path / "real.npz", num_samples=4, detector=det)
    assert any("16x16 (4), 24x24 (3)" in w for w in res.warnings)
