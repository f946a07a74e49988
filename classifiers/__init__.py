"""Attribute classifiers for linear separability (installed as stylegan_eval.classifiers).

- :mod:`.celebahq`: PyTorch port of NVIDIA's 40 CelebA-HQ attribute classifiers.
- :mod:`.tf_pickle`: reads their TensorFlow pickles without TensorFlow (restricted unpickler).
- :mod:`.registry`: the 40 attributes (names, indices, files, URLs) and loading.
- :mod:`.simple` / :mod:`.train`: a small CNN and a training recipe for custom attributes.
"""

from .celebahq import CelebAHQClassifier, random_classifier
from .registry import ATTRIBUTES, WEIGHT_SPECS, AttributeClassifier, load_celebahq, load_custom, resolve, resolve_many
from .simple import SimpleClassifier
from .tf_pickle import load_tf_classifier, read_tf_network

__all__ = [
    "ATTRIBUTES",
    "AttributeClassifier",
    "CelebAHQClassifier",
    "SimpleClassifier",
    "WEIGHT_SPECS",
    "load_celebahq",
    "load_custom",
    "load_tf_classifier",
    "random_classifier",
    "read_tf_network",
    "resolve",
    "resolve_many",
]
