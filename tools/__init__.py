"""Development tools that are not part of the installed package: the demo's training scripts.

Run from the repository root: ``python -m tools.train_gan``, ``python -m tools.train_classifiers``,
``python -m tools.build_assets`` (see each module). The files they produced ship in
``stylegan_eval/assets``.
"""
