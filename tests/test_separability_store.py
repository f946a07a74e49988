"""The stored-samples separability runner (what the ``separability`` command plans) through the
evaluation loop: the registered run's numbers, its samples file written and then reused."""

from __future__ import annotations

import dataclasses

from compare_utils import gen_a, make_classifier

from stylegan_eval import compare as C
from stylegan_eval.classifiers.registry import load_custom
from stylegan_eval.metrics import registry
from stylegan_eval.metrics import separability as sep
from stylegan_eval.metrics import separability_store as store


def _evaluate(gen, clf, samples_file, name="ls"):
    opts = C.EvalOptions(svm="fast", seed=3)
    opts.cached(store.CLASSIFIERS_KEY, lambda: [clf])
    spec = dataclasses.replace(
        registry.get(name), runner=store.RUNNER, num_samples=40, protocol={"samples_file": str(samples_file)}
    )
    return C.evaluate(gen, {"checkpoint": "a.pkl", "family": gen.family}, C.plan([spec]), opts)


def test_stored_samples_runner_gives_the_registered_numbers_and_reuses_its_file(tmp_path, one_thread):
    gen, clf = gen_a(), load_custom(make_classifier(tmp_path / "c.pt"))
    direct = sep.separability(gen, [clf], num_samples=40, svm="fast", seed=3)
    first = _evaluate(gen, clf, tmp_path / sep.SAMPLES_FILE)
    assert {o: m.value for o, m in first.items()} == direct.values()
    assert first["ls_w"].fingerprints == [direct.fingerprint()]  # z and w: w recorded either way
    details = first["ls_z"].details[0]
    assert details["samples_meta"] == {"reused": False, "file": str(tmp_path / sep.SAMPLES_FILE)}
    assert set(details["seconds"]) == {"generate", "svm"}

    again = _evaluate(gen, clf, tmp_path / sep.SAMPLES_FILE, name="ls_z")  # a subset of the stored run
    assert again["ls_z"].details[0]["samples_meta"]["reused"] is True
    assert again["ls_z"].value == first["ls_z"].value and set(again) == {"ls_z"}
