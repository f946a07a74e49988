import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).parent
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))


@pytest.fixture
def cli(capsys):
    """Run the CLI in-process: returns (exit code, stdout, stderr)."""
    from stylegan_eval.cli import main

    def run(*argv: str):
        code = main([str(a) for a in argv])
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture(autouse=True)
def _offline(monkeypatch, tmp_path_factory):
    """Every test runs offline with an empty weight cache, as CI does: published weights are
    missing, so detector networks run at random init only with --allow-random-weights.

    The FID Inception that an installed package ships (stylegan-eval[fid-weights], which CI
    installs) is switched off too, so the tests and pinned values that assume the random
    Inception keep it; tests of the real weights opt in with ``monkeypatch.delenv``."""
    monkeypatch.setenv("STYLEGAN_EVAL_OFFLINE", "1")
    monkeypatch.setenv("STYLEGAN_EVAL_PACKAGE_WEIGHTS", "0")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path_factory.mktemp("torch_home")))
    monkeypatch.setenv("STYLEGAN_EVAL_CACHE", str(tmp_path_factory.mktemp("stylegan_eval_cache")))
    for var in ("STYLEGAN_EVAL_WEIGHTS", "STYLEGAN_EVAL_VGG16", "STYLEGAN_EVAL_FID_INCEPTION"):
        monkeypatch.delenv(var, raising=False)
