"""The 40 published CelebA-HQ attribute classifiers: names, indices, files, and loading.

Order and file names follow NVlabs/stylegan2 ``metrics/linear_separability.py``:
``celebahq-classifier-{index:02d}-{name}.pkl`` under
``https://nvlabs-fi-cdn.nvidia.com/stylegan/networks/metrics/``.

Attribute names are accepted case-insensitively with '-' or '_' (``"Wavy_Hair"``,
``"wavy-hair"``), by index (``"3"``), or as ``"all"``; CelebA's ``5_o_Clock_Shadow`` matches
``5-o-clock-shadow``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

from torch import nn

from stylegan_eval.errors import UserError, WeightsUnavailable
from stylegan_eval.weights import WeightSpec, fetch, find
from stylegan_eval.weights_catalog import CELEBAHQ_ATTRIBUTES, CELEBAHQ_URL_BASE, celebahq_spec

# The names, order and URLs live in the torch-free weights catalogue (``stylegan-eval weights list``
# answers without importing torch); this module adds resolution and loading.
ATTRIBUTES: tuple[str, ...] = CELEBAHQ_ATTRIBUTES
URL_BASE = CELEBAHQ_URL_BASE


def normalize(name: str) -> str:
    """Canonical spelling of an attribute name: lower case, '-' separated."""
    return str(name).strip().lower().replace("_", "-").replace(" ", "-")


def filename(index: int) -> str:
    return f"celebahq-classifier-{index:02d}-{ATTRIBUTES[index]}.pkl"


def weight_spec(index: int) -> WeightSpec:
    """The :class:`WeightSpec` of classifier ``index`` (no checksum is published)."""
    return celebahq_spec(index)


WEIGHT_SPECS: tuple[WeightSpec, ...] = tuple(weight_spec(i) for i in range(len(ATTRIBUTES)))


def resolve(name: str | int) -> int:
    """Index of an attribute given by name (any case, '-' or '_') or by index."""
    if isinstance(name, int) or str(name).strip().isdigit():
        idx = int(name)
        if not 0 <= idx < len(ATTRIBUTES):
            raise UserError(f"--attr: index {idx} is out of range (0-39)")
        return idx
    key = normalize(name)
    if key in ATTRIBUTES:
        return ATTRIBUTES.index(key)
    close = [a for a in ATTRIBUTES if key in a or a in key][:4]
    hint = f" (did you mean {', '.join(close)}?)" if close else " (see stylegan_eval.classifiers.ATTRIBUTES)"
    raise UserError(f"--attr: unknown CelebA-HQ attribute {name!r}{hint}")


def resolve_many(names: Iterable[str | int]) -> list[int]:
    """Indices for a list of names; 'all' expands to all 40; comma lists are split; order kept, duplicates dropped."""
    out: list[int] = []
    for item in names:
        for part in str(item).split(","):
            if not part.strip():
                continue
            idx = list(range(len(ATTRIBUTES))) if normalize(part) == "all" else [resolve(part)]
            out.extend(i for i in idx if i not in out)
    return out


@dataclass
class AttributeClassifier:
    """One classifier as the metric uses it.

    Attributes:
        name: attribute name shown in the table.
        module: images [N, C, R, R] in [-1, 1] -> logits [N, 1] (or [N]).
        input_resolution: R; generator images are box-downsampled to it.
        random_weights: True when the module runs at random initialisation.
        source: where the weights came from (a path, or "random init").
        identity: a string that changes whenever the weights do (for fingerprints).
    """

    name: str
    module: nn.Module
    input_resolution: int = 256
    random_weights: bool = False
    source: str = ""
    identity: str = ""
    info: dict = field(default_factory=dict)


def _sha256(path: Path) -> str:
    from stylegan_eval.formats import sha256_file

    return sha256_file(path)


def load_celebahq(
    attributes: Sequence[str | int],
    classifier_dir: str | os.PathLike | None = None,
    allow_random_weights: bool = False,
    download: bool = True,
) -> list[AttributeClassifier]:
    """Load the published classifiers for ``attributes`` (names or indices).

    Files are looked for in ``classifier_dir`` when given, else through
    :func:`stylegan_eval.weights.fetch` (``$STYLEGAN_EVAL_WEIGHTS``, the torch hub cache, then a
    download). A download is attempted at most once per call: when it fails, the remaining
    missing files are treated as unavailable too.

    Args:
        attributes: attribute names or indices (see :func:`resolve_many`).
        classifier_dir: folder holding local copies ``celebahq-classifier-XX-name.pkl``.
        allow_random_weights: when a file is unavailable, use a randomly initialised network
            (seeded by the attribute index) instead of raising; it is marked ``random_weights``.
        download: allow downloading missing files.

    Raises:
        WeightsUnavailable: a file is missing and random weights are not allowed; the message
            names the file, its URL and where to put it.
    """
    from .celebahq import random_classifier
    from .tf_pickle import load_tf_classifier

    indices = resolve_many(attributes)
    out: list[AttributeClassifier] = []
    download_failed = not download
    for idx in indices:
        spec = WEIGHT_SPECS[idx]
        path: Path | None = None
        error: WeightsUnavailable | None = None
        if classifier_dir is not None:
            candidate = Path(classifier_dir) / spec.filename
            if candidate.is_file():
                path = candidate
            else:
                error = WeightsUnavailable(
                    f"{candidate}: classifier not found; download {spec.url} and put it in {classifier_dir}"
                )
        else:
            path = find(spec)
            if path is None and not download_failed:
                try:
                    path = fetch(spec)
                except WeightsUnavailable as exc:
                    download_failed, error = True, exc
            elif path is None:
                error = WeightsUnavailable(
                    f"{spec.name} weights not found: download {spec.url} and put it in --classifier-dir DIR, "
                    f"$STYLEGAN_EVAL_WEIGHTS/ or the torch hub cache ({spec.filename})"
                )
        name = ATTRIBUTES[idx]
        if path is not None:
            module = load_tf_classifier(path)
            out.append(
                AttributeClassifier(
                    name, module, module.resolution, False, str(path), f"sha256:{_sha256(path)}", module.tf_meta
                )
            )
        elif allow_random_weights:
            module = random_classifier(seed=idx).eval().requires_grad_(False)
            out.append(AttributeClassifier(name, module, module.resolution, True, "random init", f"random:{idx}"))
        else:
            assert error is not None
            raise error
    return out


def load_custom(path: str | os.PathLike) -> AttributeClassifier:
    """A classifier checkpoint written by ``stylegan_eval.classifiers.train`` (or a TF classifier pickle)."""
    from stylegan_eval.errors import CheckpointError

    p = Path(path)
    if not p.is_file():
        raise CheckpointError(
            f"--classifier {p}: no such file (expected a checkpoint from stylegan_eval.classifiers.train)"
        )
    with open(p, "rb") as f:
        head = f.read(4)
    if head[:2] == b"PK":  # a torch.save zip
        from .simple import load_checkpoint

        module, meta = load_checkpoint(p)
        return AttributeClassifier(
            str(meta.get("attribute") or p.stem),
            module,
            module.input_resolution,
            False,
            str(p),
            f"sha256:{_sha256(p)}",
            meta,
        )
    from .tf_pickle import load_tf_classifier

    module = load_tf_classifier(p)
    name = p.stem
    if name.startswith("celebahq-classifier-") and len(name) > 23:
        name = name[23:]
    return AttributeClassifier(name, module, module.resolution, False, str(p), f"sha256:{_sha256(p)}", module.tf_meta)


__all__ = [
    "ATTRIBUTES",
    "AttributeClassifier",
    "URL_BASE",
    "WEIGHT_SPECS",
    "filename",
    "load_celebahq",
    "load_custom",
    "normalize",
    "resolve",
    "resolve_many",
    "weight_spec",
]
