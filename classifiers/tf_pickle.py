"""Read NVIDIA's TensorFlow network pickles (``dnnlib.tflib.network.Network``) without TensorFlow.

The generic reader (restricted unpickler, ``Network`` stub, state validation) is
:mod:`stylegan_eval.formats.tf_network`; the source text is only searched (linear time), never
executed. Every ``static_kwargs`` field used is type- and range-checked, and the implied
architecture is compared with the number of values the file holds before anything is allocated.

:func:`load_tf_classifier` turns such a pickle into a :class:`~.celebahq.CelebAHQClassifier`,
settling the architecture switches from what the pickle reveals:

- ``mbstd_group_size``: from the shape of ``4x4/Conv/weight`` (an extra input channel means
  the minibatch-stddev layer is present; its group size then comes from ``static_kwargs``,
  default 4), unless given explicitly.
- ``blur_filter``: ``static_kwargs['blur_filter']`` when recorded; else by builder:
  ``D_paper`` has no blur, ``D_basic`` defaults to ``[1, 2, 1]``; with neither known, whether
  the builder source applies ``blur2d`` before downsampling; else the default (blur on).
- ``lod``: the ``lod`` variable; ``FromRGB_lod1..`` are loaded when present.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from stylegan_eval.errors import CheckpointError
from stylegan_eval.formats.tf_network import (
    TFNetworkState,
    check_budget,
    function_source,
    kw_bool,
    kw_choice,
    kw_float,
    kw_int,
    kw_taps,
    read_tf_network,
)

from .celebahq import DEFAULT_BLUR, CelebAHQClassifier, nf

SUPPORTED_VERSIONS = (2, 3, 4)
CLASSIFIER_BUILDERS = ("D_basic", "D_paper")
MAX_RESOLUTION = 1024
_UNSET: Any = object()


# ---------------------------------------------------------------------------------- classifier
def _parse_taps(text: str) -> list[float] | None:
    text = text.strip()
    if text == "None":
        return None
    taps = [float(v) for v in text.strip("[]()").split(",") if v.strip()]
    if not taps or len(taps) > 9 or not all(np.isfinite(taps)) or sum(taps) == 0:
        raise ValueError(text)
    return taps


def infer_blur(state: TFNetworkState) -> tuple[list[float] | None, str]:
    """The blur filter the pickle implies, and how it was decided (in order of precedence):

    1. ``static_kwargs['blur_filter']``;
    2. builder ``D_paper``: no blur;
    3. the builder's source text: the ``blur_filter`` default in its signature, else whether
       its body mentions a blur at all;
    4. builder ``D_basic`` without source: its default ``[1, 2, 1]``;
    5. no metadata: the notes' default, blur on.
    """
    kw = state.static_kwargs
    if "blur_filter" in kw:
        return kw_taps(kw, "blur_filter", None, "static_kwargs", max_len=9), "static_kwargs['blur_filter']"
    if state.build_func_name == "D_paper":
        return None, "builder D_paper (no blur)"
    signature, body = function_source(state.build_module_src, state.build_func_name)
    if body:
        m = re.search(r"blur_filter\s*=\s*(None|\[[^\]]*\]|\([^)]*\))", signature)
        if m:
            try:
                taps = _parse_taps(m.group(1))
            except ValueError:
                taps = [float(v) for v in DEFAULT_BLUR]
            return taps, f"builder source default blur_filter={m.group(1)}"
        if "blur" in body:
            return [float(v) for v in DEFAULT_BLUR], "builder source applies blur"
        return None, "builder source has no blur"
    if state.build_func_name == "D_basic":
        return [float(v) for v in DEFAULT_BLUR], "builder D_basic default blur_filter"
    return [float(v) for v in DEFAULT_BLUR], "default (no metadata)"


def _resolution_from_variables(names: Sequence[str]) -> int | None:
    sizes = [int(m.group(1)) for n in names if (m := re.match(r"^(\d+)x\1/Conv0/weight$", n))]
    return max(sizes) if sizes else None


def load_tf_classifier(
    path: str | os.PathLike,
    *,
    blur_filter: Sequence[float] | None = _UNSET,
    mbstd_group_size: int | None = None,
) -> CelebAHQClassifier:
    """Load a CelebA-HQ attribute classifier pickle as a PyTorch module (eval mode, CPU).

    Args:
        path: ``celebahq-classifier-XX-name.pkl`` (a TF network pickle).
        blur_filter: override the blur decision (a list of taps, or None for no blur).
        mbstd_group_size: override the minibatch-stddev group size (only meaningful when the
            ``4x4/Conv`` weight has the extra input channel).

    The module's ``tf_meta`` attribute records the builder, kwargs and how each switch was set.

    Raises:
        CheckpointError: not a classifier pickle, an unsupported builder option, or variables
            that do not match the architecture exactly (every variable must be used).
        UnsafePickleError: the pickle asks for anything beyond the TF Network state.
    """
    state = read_tf_network(path)
    return classifier_from_state(state, str(path), blur_filter=blur_filter, mbstd_group_size=mbstd_group_size)


def _classifier_parameters(resolution: int, num_channels: int, mbstd_features: int, **fmap: Any) -> int:
    """Parameter count of the classifier the kwargs describe (lod branches included), without allocating."""
    log2 = int(resolution).bit_length() - 1
    total = 0
    for r in range(log2, 2, -1):
        a, b = nf(r - 1, **fmap), nf(r - 2, **fmap)
        total += 2 * (num_channels * a + a) + 9 * a * a + a + 9 * a * b + b
    c1, c0 = nf(1, **fmap), nf(0, **fmap)
    return total + 9 * (c1 + mbstd_features) * c1 + c1 + 16 * c1 * c0 + c0 + c0 + 1


def classifier_from_state(
    state: TFNetworkState,
    source: str = "<state>",
    *,
    blur_filter: Sequence[float] | None = _UNSET,
    mbstd_group_size: int | None = None,
) -> CelebAHQClassifier:
    """Build and fill :class:`CelebAHQClassifier` from a :class:`TFNetworkState` (see :func:`load_tf_classifier`)."""
    kw = state.static_kwargs
    if state.build_func_name not in CLASSIFIER_BUILDERS:
        raise CheckpointError(
            f"{source}: build function {state.build_func_name!r} is not a classifier/discriminator "
            f"builder (expected one of {', '.join(CLASSIFIER_BUILDERS)})"
        )
    if state.components:
        raise CheckpointError(
            f"{source}: a network with components ({', '.join(state.components)}) is not a classifier"
        )
    if kw_int(kw, "label_size", 0, source, 0, 1 << 16) != 0:
        raise CheckpointError(f"{source}: label_size={kw['label_size']} (the attribute classifiers have label_size 0)")
    kw_choice(kw, "nonlinearity", "lrelu", source, ("lrelu",))
    kw_choice(kw, "dtype", "float32", source, ("float32",))
    fused_scale = kw.get("fused_scale", True)
    if not isinstance(fused_scale, (bool, str)):
        raise CheckpointError(f"{source}: static_kwargs fused_scale={fused_scale!r} must be True, False or 'auto'")
    if state.build_func_name == "D_paper" and fused_scale is False:
        raise CheckpointError(f"{source}: D_paper with fused_scale=False (activation before pooling) is not supported")
    variables = state.variables
    if kw.get("resolution") is not None:
        resolution = kw_int(kw, "resolution", None, source, 8, MAX_RESOLUTION)
    else:
        resolution = _resolution_from_variables(list(variables)) or 0
        if resolution == 0:
            raise CheckpointError(f"{source}: cannot tell the resolution (no static_kwargs and no RxR/Conv0 variables)")
        if resolution > MAX_RESOLUTION:
            raise CheckpointError(f"{source}: variables imply a {resolution} px classifier (at most {MAX_RESOLUTION})")
    fmap = {
        "fmap_base": kw_int(kw, "fmap_base", 8192, source, 1, 1 << 20),
        "fmap_decay": kw_float(kw, "fmap_decay", 1.0, source, 0.0, 8.0),
        "fmap_max": kw_int(kw, "fmap_max", 512, source, 1, 4096),
    }
    num_channels = kw_int(kw, "num_channels", 3, source, 1, 16)
    mbstd_features = kw_int(kw, "mbstd_num_features", 1, source, 1, 64)
    kw_group = kw_int(kw, "mbstd_group_size", 4, source, 0, 1024)
    use_wscale = kw_bool(kw, "use_wscale", True, source)
    check_budget(
        _classifier_parameters(resolution, num_channels, mbstd_features, **fmap),
        state,
        source,
        f"a {resolution} px classifier",
    )
    decisions: dict[str, str] = {}
    # minibatch stddev: the 4x4/Conv input channels tell whether the layer exists.
    conv_w = variables.get("4x4/Conv/weight")
    base_in = nf(1, **fmap)
    if conv_w is not None and conv_w.ndim == 4 and conv_w.shape[2] == base_in + mbstd_features:
        group = mbstd_group_size if mbstd_group_size is not None else kw_group
        if group <= 1:
            raise CheckpointError(f"{source}: 4x4/Conv has a minibatch-stddev channel but mbstd_group_size={group}")
        decisions["mbstd"] = f"group size {group} (4x4/Conv has {base_in}+{mbstd_features} input channels)"
    else:
        group = 0
        decisions["mbstd"] = "absent (4x4/Conv has no extra input channel)"
    if blur_filter is _UNSET:
        blur, why = infer_blur(state)
    else:
        blur, why = (None if blur_filter is None else [float(v) for v in blur_filter]), "set by the caller"
    decisions["blur"] = f"{blur} ({why})"
    lod_value = variables.get("lod")
    lod = float(lod_value) if lod_value is not None and np.asarray(lod_value).shape == () else 0.0
    if not np.isfinite(lod) or not 0.0 <= lod <= 16.0:
        raise CheckpointError(f"{source}: lod={lod} is out of range (expected [0, 16])")
    lod_branches = any(re.match(r"^FromRGB_lod[1-9]\d*/", n) for n in variables)
    try:
        model = CelebAHQClassifier(
            resolution=resolution,
            num_channels=num_channels,
            blur_filter=blur,
            mbstd_group_size=group,
            mbstd_num_features=mbstd_features,
            use_wscale=use_wscale,
            lod_branches=lod_branches,
            lod=lod,
            **fmap,
        )
    except ValueError as exc:
        raise CheckpointError(f"{source}: unsupported classifier configuration ({exc})") from None
    model.load_tf_variables(variables, source)
    model.tf_meta = {
        "name": state.name,
        "version": state.version,
        "build_func_name": state.build_func_name,
        "static_kwargs": {
            k: v for k, v in kw.items() if isinstance(v, (int, float, str, bool, list, tuple, type(None)))
        },
        "decisions": decisions,
    }
    return model.eval().requires_grad_(False)


__all__ = ["TFNetworkState", "classifier_from_state", "infer_blur", "load_tf_classifier", "read_tf_network"]
