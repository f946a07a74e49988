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
    for var in (
        "STYLEGAN_EVAL_WEIGHTS",
        "STYLEGAN_EVAL_VGG16",
        "STYLEGAN_EVAL_FID_INCEPTION",
        "STYLEGAN_EVAL_BATCH_TABLE",
    ):
        monkeypatch.delenv(var, raising=False)


def _single_thread():
    """One intra-op thread while the fixture is active: tiny networks only pay thread overhead, and
    values that are compared bit for bit (pinned numbers, torchrun workers, resumed vs fresh runs)
    were produced with one thread (CPU kernels split their reductions by thread count)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


#: The same single-thread setting for a whole test module, and for one test.
one_thread = pytest.fixture(scope="module", name="one_thread")(_single_thread)
one_thread_test = pytest.fixture(name="one_thread_test")(_single_thread)


@pytest.fixture(scope="session")
def classifier_factory(tmp_path_factory):
    """seed -> path of a tiny 32x32 'smile' classifier checkpoint (:func:`compare_utils.make_classifier`), made once per seed."""
    from compare_utils import make_classifier

    made: dict[int, Path] = {}

    def make(seed: int = 0) -> Path:
        if seed not in made:
            made[seed] = make_classifier(tmp_path_factory.mktemp("clf") / "smile.pt", seed)
        return made[seed]

    return make


@pytest.fixture
def classifier(classifier_factory):
    """The tiny classifier checkpoint of seed 0."""
    return classifier_factory(0)


@pytest.fixture
def fake_dnnlib():
    """While the test runs, an importable stand-in ``dnnlib.tflib.network.Network`` (yielded) so
    that pickle can name it when dumping TensorFlow-style network pickles (:func:`tf_utils.fake_dnnlib`)."""
    from tf_utils import fake_dnnlib as installed

    with installed() as network_class:
        yield network_class
