"""hf://OWNER/REPO/PATH[@REVISION] references, resolved offline from a Hub cache folder built in
huggingface_hub's own on-disk layout (models--OWNER--REPO/{blobs,snapshots/<commit>/PATH,refs/<branch>})."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from stylegan_eval import hub
from stylegan_eval.errors import UserError

MAIN = "a" * 40
OLD = "b" * 40


def put(cache: Path, repo: str, commit: str, filename: str, data: bytes, branch: str | None = "main") -> None:
    """Store ``data`` as ``filename`` at ``commit`` the way hf_hub_download leaves it: the bytes in
    blobs/<hash>, a snapshot entry linking to it, and refs/<branch> naming the commit."""
    folder = cache / ("models--" + repo.replace("/", "--"))
    blob = folder / "blobs" / hashlib.sha256(data).hexdigest()
    blob.parent.mkdir(parents=True, exist_ok=True)
    blob.write_bytes(data)
    snap = folder / "snapshots" / commit / filename
    snap.parent.mkdir(parents=True, exist_ok=True)
    try:
        snap.symlink_to(os.path.relpath(blob, snap.parent))
    except OSError:  # file systems without symlinks: huggingface_hub then copies
        shutil.copyfile(blob, snap)
    if branch:
        (folder / "refs").mkdir(exist_ok=True)
        (folder / "refs" / branch).write_text(commit)


@pytest.fixture
def hub_cache(tmp_path, monkeypatch):
    """An offline HF_HOME whose cache holds owner/repo: G.pt (the demo generator) at main, an
    older G.pt (the same bytes plus nothing else: a different commit) and a statistics file."""
    from stylegan_eval.demo import default_checkpoint

    home = tmp_path / "hf_home"
    cache = home / "hub"
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hub, "_RESOLVED", {})
    ckpt = Path(default_checkpoint()).read_bytes()
    put(cache, "owner/repo", MAIN, "G.pt", ckpt)
    put(cache, "owner/repo", OLD, "nested/dir/G.pt", ckpt, branch=None)
    return cache, hashlib.sha256(ckpt).hexdigest()


def test_parse_forms_and_malformed_references():
    assert hub.parse("hf://owner/repo/G.pt") == hub.HubRef("owner/repo", "G.pt", "main")
    assert hub.parse("hf://o/r-1.x/a/b/c.pkl@v1.0") == hub.HubRef("o/r-1.x", "a/b/c.pkl", "v1.0")
    for bad in (
        "hf://owner/repo",
        "hf://owner",
        "hf://owner/repo/",
        "hf://owner/repo/../x.pt",
        "hf://o/r/a//b.pt",
        "hf://o/r/G.pt@",
        "hf://-o/r/G.pt",
    ):
        with pytest.raises(UserError, match="expected hf://OWNER/REPO/PATH"):
            hub.parse(bad)


def test_info_resolves_offline_with_commit_and_sha256_in_the_report(hub_cache, cli):
    _, sha = hub_cache
    code, out, err = cli("--no-config", "info", "hf://owner/repo/G.pt", "--device", "cpu", "--json")
    assert code == 0, err
    report = json.loads(out.strip().splitlines()[-1])
    meta = report["meta"]
    assert meta["checkpoint"] == "hf://owner/repo/G.pt"
    assert meta["sha256"] == sha
    assert meta["hub"]["commit"] == MAIN and meta["hub"]["repo_id"] == "owner/repo" and meta["hub"]["sha256"] == sha


def test_revision_pin_and_fingerprints_name_the_commit(hub_cache):
    from stylegan_eval.formats import load_generator
    from stylegan_eval.metrics.common import generator_digest, generator_fingerprint

    g_main = load_generator("hf://owner/repo/G.pt")
    g_old = load_generator(f"hf://owner/repo/nested/dir/G.pt@{OLD}")
    assert g_main.hub_source["commit"] == MAIN and g_old.hub_source["commit"] == OLD
    assert g_old.hub_source["revision"] == OLD
    # the same weights at two commits: the commit is part of both fingerprint forms
    assert generator_digest(g_main) != generator_digest(g_old)
    assert generator_fingerprint(g_main)["generator_identity"]["hub"]["commit"] == MAIN
    with pytest.raises(UserError, match=r"hf://owner/repo/G.pt@" + OLD + ": not in the Hub cache"):
        load_generator(f"hf://owner/repo/G.pt@{OLD}")  # that commit has no G.pt at the top level


def test_missing_offline_and_malformed_are_one_line_exit_2(hub_cache, cli):
    code, out, err = cli("--no-config", "info", "hf://owner/repo/missing.pt", "--device", "cpu")
    assert code == 2 and "hf://owner/repo/missing.pt" in err and "offline" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    code, _, err = cli("--no-config", "info", "hf://owner/repo", "--device", "cpu")
    assert code == 2 and "hf://owner/repo" in err and "expected hf://OWNER/REPO/PATH" in err
    assert "Traceback" not in err


def test_statistics_file_from_the_hub(hub_cache, tmp_path, cli):
    """--data hf://.../stats.npz: resolved when the option is read; a missing one fails before work."""
    from stylegan_eval.metrics.real import real_statistics

    cache, _ = hub_cache
    rng = np.random.default_rng(0)
    mu, sigma = rng.normal(size=8), np.eye(8)
    local = tmp_path / "stats.npz"
    np.savez(local, mu=mu, sigma=sigma)
    put(cache, "owner/stats", MAIN, "ffhq.npz", local.read_bytes())

    class Det:
        feature_dim = 8

    stats, info = real_statistics("hf://owner/stats/ffhq.npz", Det(), keep_features=False)
    assert np.array_equal(stats.mu, mu) and info["source"] == "stats file"
    assert info["identity"] == f"hf:owner/stats@{MAIN}:file:" + hashlib.sha256(local.read_bytes()).hexdigest()
    assert info["hub"]["commit"] == MAIN
    assert any(f["commit"] == MAIN and f["ref"] == "hf://owner/stats/ffhq.npz" for f in hub.resolved())
    code, _, err = cli("--no-config", "fid", "demo", "--data", "hf://owner/stats/none.npz", "--num-samples", "4")
    assert code == 2 and "hf://owner/stats/none.npz" in err and "Traceback" not in err


def test_weights_option_takes_a_hub_reference(hub_cache, cli):
    """--inception-weights hf://...: resolved when the option is read (the command then gets the
    cached file, checked like a local one); a missing one is one line, exit 2."""
    from stylegan_eval.commands.hub_paths import HubOrPath

    path = HubOrPath(dir_okay=False, path_type=Path).convert("hf://owner/repo/G.pt", None, None)
    assert path.is_file() and f"snapshots/{MAIN}/G.pt" in str(path)
    code, _, err = cli(
        "--no-config", "fid", "demo", "--data", "x.npz", "--inception-weights", "hf://owner/repo/pt_inception.pth"
    )
    assert code == 2 and "hf://owner/repo/pt_inception.pth" in err and "Traceback" not in err


def test_api_takes_a_hub_reference(hub_cache):
    from stylegan_eval.api import as_generator

    assert as_generator("hf://owner/repo/G.pt").hub_source["commit"] == MAIN


def test_ppl_on_a_hub_checkpoint_reports_the_commit(hub_cache, cli):
    """A metric end to end (PPL, LPIPS at random init, 4 pairs) on hf://: the commit in its report."""
    _, sha = hub_cache
    args = ("--num-samples", "4", "--allow-random-weights", "--device", "cpu", "--quiet", "--json")
    code, out, err = cli("--no-config", "ppl", "hf://owner/repo/G.pt", *args)
    assert code == 0, err
    meta = json.loads(out.strip().splitlines()[-1])["meta"]
    assert meta["hub"]["commit"] == MAIN and meta["sha256"] == sha
    assert meta["environment"]["hub_files"][0]["commit"] == MAIN
