"""Attribute classifiers for linear separability (installed as stylegan_eval.classifiers)."""
