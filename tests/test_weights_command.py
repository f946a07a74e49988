"""`stylegan-eval weights list | download | verify | path` and a torch-free `--help` / `--version`."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from stylegan_eval import weights, weights_catalog
from stylegan_eval.weights import WeightSpec

ROOT = Path(__file__).resolve().parent.parent


def _json(cli, *argv):
    code, out, err = cli(*argv, "--json")
    assert code == 0, err
    return json.loads(out)


@pytest.fixture
def fake_entry(tmp_path):
    """A registered file served from a file:// URL, with its published sha256."""
    source = tmp_path / "served" / "toy-net.pth"
    source.parent.mkdir()
    source.write_bytes(b"published bytes" * 100)
    spec = WeightSpec("toy net", "toy-net.pth", source.as_uri(), sha256=hashlib.sha256(source.read_bytes()).hexdigest())
    entry = weights_catalog.register(spec, "test", "tests", key="toy-net", size=source.stat().st_size)
    yield entry
    weights_catalog.unregister("toy-net")


def test_list_shows_every_registered_file_with_url_and_sha256(cli):
    listed = _json(cli, "weights", "list")["files"]
    registered = weights_catalog.entries()
    assert [f["key"] for f in listed] == [e.key for e in registered]
    assert len(listed) >= 45  # 2 Inception, VGG16 + LPIPS heads, NVIDIA vgg16.pt, 40 classifiers (+ later detectors)
    assert len({f["filename"] for f in listed}) == len(listed)
    for f in listed:
        assert f["url"].startswith("https://") and f["target"].endswith(f["filename"])
    by_key = {f["key"]: f for f in listed}
    assert by_key["fid-inception"]["filename"] == "pt_inception-2015-12-05-6726825d.pth"
    assert by_key["fid-inception"]["sha256_prefix"] == "6726825d"
    assert by_key["nvidia-vgg16"]["sha256"] == "b437eb095feaeb0b83eb3fa11200ebca4548ee39a07fb944a417ddc516cc07c3"
    assert by_key["nvidia-inception"]["filename"] == "inception-2015-12-05.pt"
    assert by_key["vgg16"]["filename"] == "vgg16-397923af.pth"
    assert sum(f["group"] == "classifiers" for f in listed) == 40
    assert by_key["celebahq-39-wearing-necktie"]["url"].endswith("celebahq-classifier-39-wearing-necktie.pkl")
    # Empty cache (conftest): everything but the copy inside the lpips wheel is missing.
    assert {f["status"] for f in listed} == {"missing", "bundled"}
    # The text listing carries the same URLs and checksums.
    code, out, _ = cli("weights", "list")
    assert code == 0
    for e in registered:
        assert e.spec.url in out and e.key in out
        assert (e.spec.sha256 or e.spec.sha256_prefix or "unpublished") in out


def test_catalogue_specs_equal_the_ones_the_metrics_load():
    from stylegan_eval import classifiers
    from stylegan_eval.metrics import distances

    assert weights_catalog.VGG16_TORCHVISION == distances.VGG16_TORCHVISION
    assert weights_catalog.NVIDIA_VGG16 == distances.NVIDIA_VGG16
    assert weights_catalog.CELEBAHQ_ATTRIBUTES == classifiers.ATTRIBUTES
    assert tuple(weights_catalog.celebahq_spec(i) for i in range(40)) == classifiers.WEIGHT_SPECS
    import lpips

    head = Path(lpips.__file__).parent / "weights" / "v0.1" / "vgg.pth"
    assert hashlib.sha256(head.read_bytes()).hexdigest() == weights_catalog.LPIPS_VGG_HEADS.sha256


def test_verify_detects_a_corrupted_file(cli, fake_entry):
    cached = weights.cache_dir() / "toy-net.pth"
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_bytes(Path(fake_entry.spec.url[len("file://") :]).read_bytes())
    report = _json(cli, "weights", "verify", "toy-net")
    assert report["corrupt"] == [] and report["files"][0]["status"] == "cached"
    # Same size, other bytes: only the hash tells.
    good = cached.read_bytes()
    cached.write_bytes(b"X" + good[1:])
    code, out, err = cli("weights", "verify")
    assert code == 2
    assert str(cached) in err and "toy-net" in err
    assert f"corrupt     toy-net  {cached}" in out
    # A prefix-checked real entry is caught too.
    (weights.cache_dir() / "vgg16-397923af.pth").write_bytes(b"not vgg")
    code, out, err = cli("weights", "verify", "--json")
    assert code == 2 and set(json.loads(out)["corrupt"]) == {"toy-net", "vgg16"}


def test_download_checks_the_hash_and_fails_offline_in_one_line(cli, fake_entry, monkeypatch):
    code, _, err = cli("weights", "download", "toy-net")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "toy-net.pth" in err and "OFFLINE" in err
    monkeypatch.delenv("STYLEGAN_EVAL_OFFLINE")
    code, out, err = cli("weights", "download", "toy-net", "--quiet")
    cached = weights.cache_dir() / "toy-net.pth"
    assert code == 0 and out.strip() == f"toy-net: {cached}"
    assert _json(cli, "weights", "list", "toy-net")["files"][0]["status"] == "cached"
    cached.unlink()
    weights_catalog.unregister("toy-net")
    bad = WeightSpec("toy net", "toy-net.pth", fake_entry.spec.url, sha256="0" * 64)
    weights_catalog.register(bad, "test", "tests", key="toy-net")
    code, _, err = cli("weights", "download", "test", "--quiet")  # by group name
    assert code == 2 and "sha256" in err and "toy-net.pth" in err
    assert not cached.exists() and not list(cached.parent.glob("*.part"))


def test_download_all_offline_is_one_line(cli):
    code, _, err = cli("weights", "download", "--all")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "pt_inception-2015-12-05-6726825d.pth" in err


def test_download_needs_names_and_rejects_unknown_ones(cli):
    assert cli("weights", "download")[0] == 2
    code, _, err = cli("weights", "download", "no-such-net")
    assert code == 2 and "no-such-net" in err and "classifiers" in err


def test_path_lists_the_search_order(cli, monkeypatch, tmp_path):
    monkeypatch.setenv("STYLEGAN_EVAL_WEIGHTS", str(tmp_path / "copies"))
    code, out, _ = cli("weights", "path")
    assert code == 0
    assert str(weights.cache_dir()) in out and str(tmp_path / "copies") in out and "$STYLEGAN_EVAL_VGG16" in out


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["weights", "list", "--json"], ["weights", "--help"]])
def test_cli_answers_without_importing_torch(argv):
    code = (
        "import sys; from stylegan_eval.cli import main; "
        f"rc = main({argv!r}); "
        "print('TORCH', 'torch' in sys.modules); sys.exit(rc)"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, env=env, timeout=60, cwd=ROOT
    )
    assert proc.returncode == 0, proc.stderr
    # Tests never assert timings; what makes the answer fast is that torch is never imported.
    assert "TORCH False" in proc.stdout
