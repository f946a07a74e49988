"""Read NVIDIA's TensorFlow network pickles (``dnnlib.tflib.network.Network``) without TensorFlow.

A TF network pickle holds one ``Network`` object whose ``__getstate__`` produced a dict:
``version`` (2-4), ``name``, ``static_kwargs`` (the build function's keyword arguments),
``components`` (sub-networks), ``build_module_src`` (the Python source of the module that
defines the build function), ``build_func_name`` and ``variables`` (a list of
``(local name, numpy array)``). Unpickling it normally ``exec``'s ``build_module_src`` and
builds a TF graph; here the stream is read with the restricted unpickler, the ``Network``
class is replaced by a stub that keeps the state dict, and the source text is only searched,
never executed.

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
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from stylegan_eval.errors import CheckpointError
from stylegan_eval.formats.safe_pickle import FrozenType, safe_load

from .celebahq import DEFAULT_BLUR, CelebAHQClassifier, nf

SUPPORTED_VERSIONS = (2, 3, 4)
CLASSIFIER_BUILDERS = ("D_basic", "D_paper")
_UNSET: Any = object()


class _TFNetworkStub(metaclass=FrozenType):
    """Stand-in for ``dnnlib.tflib.network.Network``: keeps the pickled state, runs nothing."""

    __slots__ = ("state",)

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, dict):
            raise CheckpointError(f"TF network state must be a dict, got {type(state).__name__}")
        object.__setattr__(self, "state", state)


class _EasyDictStub(dict, metaclass=FrozenType):
    """Stand-in for ``dnnlib.util.EasyDict`` (a dict with attribute access; only the dict is kept)."""

    def __setstate__(self, state: Any) -> None:  # EasyDict pickles an empty or dict __dict__
        if isinstance(state, dict):
            self.update(state)


TF_GLOBALS = {
    ("dnnlib.tflib.network", "Network"): _TFNetworkStub,
    ("dnnlib.util", "EasyDict"): _EasyDictStub,
}


@dataclass
class TFNetworkState:
    """The pickled state of one TF ``Network``.

    Attributes:
        version: pickle format version (2-4).
        name: network name (e.g. "D").
        static_kwargs: keyword arguments of the build function.
        build_func_name: name of the build function ("D_basic", ...).
        build_module_src: source text of the defining module (never executed).
        variables: TF variable name -> numpy array, in the pickled order.
        components: sub-networks by name.
    """

    version: int
    name: str
    static_kwargs: dict[str, Any]
    build_func_name: str
    build_module_src: str
    variables: dict[str, np.ndarray]
    components: dict[str, "TFNetworkState"] = field(default_factory=dict)

    @classmethod
    def from_state(cls, state: dict[str, Any], source: str) -> "TFNetworkState":
        version = state.get("version")
        if version not in SUPPORTED_VERSIONS:
            raise CheckpointError(f"{source}: unsupported TF network pickle version {version!r} (expected 2-4)")
        missing = [k for k in ("name", "static_kwargs", "build_func_name", "variables") if k not in state]
        if missing:
            raise CheckpointError(f"{source}: TF network state lacks {', '.join(missing)}")
        variables: dict[str, np.ndarray] = {}
        raw_vars = state["variables"]
        if not isinstance(raw_vars, (list, tuple)):
            raise CheckpointError(f"{source}: TF network 'variables' must be a list of (name, array)")
        for item in raw_vars:
            if not (isinstance(item, (list, tuple)) and len(item) == 2 and isinstance(item[0], str)):
                raise CheckpointError(f"{source}: malformed entry in TF network 'variables'")
            name, value = item
            if name in variables:
                raise CheckpointError(f"{source}: variable {name} appears twice")
            arr = np.asarray(value)
            if arr.dtype.hasobject or arr.dtype.kind not in "fiub":
                raise CheckpointError(f"{source}: variable {name} is not a numeric array ({arr.dtype})")
            variables[name] = arr
        components = {}
        for key, comp in dict(state.get("components") or {}).items():
            if not isinstance(comp, _TFNetworkStub):
                raise CheckpointError(f"{source}: component {key!r} is not a TF network")
            components[str(key)] = cls.from_state(comp.state, f"{source}:{key}")
        src = state.get("build_module_src") or ""
        return cls(
            version=int(version),
            name=str(state["name"]),
            static_kwargs=dict(state["static_kwargs"] or {}),
            build_func_name=str(state["build_func_name"]),
            build_module_src=src if isinstance(src, str) else "",
            variables=variables,
            components=components,
        )


def read_tf_network(path: str | os.PathLike) -> TFNetworkState:
    """Read a TF network pickle with the restricted unpickler; nothing in it is executed.

    Raises:
        UnsafePickleError: the pickle names a global other than the TF Network / EasyDict
            classes and the numpy array constructors.
        CheckpointError: not a TF network pickle.
    """
    obj = safe_load(path, extra_globals=TF_GLOBALS, encoding="latin1")
    if not isinstance(obj, _TFNetworkStub) or not hasattr(obj, "state"):
        raise CheckpointError(f"{path}: not a TensorFlow network pickle (found {type(obj).__name__})")
    return TFNetworkState.from_state(obj.state, str(path))


# ---------------------------------------------------------------------------------- classifier
def _function_source(src: str, func: str) -> tuple[str, str]:
    """(signature, whole text) of top-level ``def func(`` in ``src``; a text search, never a parse or exec."""
    m = re.search(rf"^def {re.escape(func)}\((.*?)\)\s*:.*?(?=^def |\Z)", src, flags=re.S | re.M)
    return (m.group(1), m.group(0)) if m else ("", "")


def _parse_taps(text: str) -> list[float] | None:
    text = text.strip()
    if text == "None":
        return None
    return [float(v) for v in text.strip("[]()").split(",") if v.strip()]


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
        value = kw["blur_filter"]
        return (None if value is None else [float(v) for v in value]), "static_kwargs['blur_filter']"
    if state.build_func_name == "D_paper":
        return None, "builder D_paper (no blur)"
    signature, body = _function_source(state.build_module_src, state.build_func_name)
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
        raise CheckpointError(f"{source}: a network with components ({', '.join(state.components)}) is not a classifier")
    if int(kw.get("label_size", 0)) != 0:
        raise CheckpointError(f"{source}: label_size={kw['label_size']} (the attribute classifiers have label_size 0)")
    nonlin = kw.get("nonlinearity", "lrelu")
    if nonlin != "lrelu":
        raise CheckpointError(f"{source}: nonlinearity {nonlin!r} is not supported (lrelu only)")
    if str(kw.get("dtype", "float32")) != "float32":
        raise CheckpointError(f"{source}: dtype {kw['dtype']!r} is not supported (float32 only)")
    if state.build_func_name == "D_paper" and kw.get("fused_scale", True) is False:
        raise CheckpointError(f"{source}: D_paper with fused_scale=False (activation before pooling) is not supported")
    variables = state.variables
    resolution = int(kw.get("resolution") or _resolution_from_variables(list(variables)) or 0)
    if resolution == 0:
        raise CheckpointError(f"{source}: cannot tell the resolution (no static_kwargs and no RxR/Conv0 variables)")
    fmap = dict(
        fmap_base=int(kw.get("fmap_base", 8192)),
        fmap_decay=float(kw.get("fmap_decay", 1.0)),
        fmap_max=int(kw.get("fmap_max", 512)),
    )
    decisions: dict[str, str] = {}
    # minibatch stddev: the 4x4/Conv input channels tell whether the layer exists.
    conv_w = variables.get("4x4/Conv/weight")
    base_in = nf(1, **fmap)
    mbstd_features = int(kw.get("mbstd_num_features", 1))
    if conv_w is not None and conv_w.ndim == 4 and conv_w.shape[2] == base_in + mbstd_features:
        group = mbstd_group_size if mbstd_group_size is not None else int(kw.get("mbstd_group_size", 4))
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
    lod_branches = any(re.match(r"^FromRGB_lod[1-9]\d*/", n) for n in variables)
    try:
        model = CelebAHQClassifier(
            resolution=resolution,
            num_channels=int(kw.get("num_channels", 3)),
            blur_filter=blur,
            mbstd_group_size=group,
            mbstd_num_features=mbstd_features,
            use_wscale=bool(kw.get("use_wscale", True)),
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
        "static_kwargs": {k: v for k, v in kw.items() if isinstance(v, (int, float, str, bool, list, tuple, type(None)))},
        "decisions": decisions,
    }
    return model.eval().requires_grad_(False)


__all__ = ["TFNetworkState", "classifier_from_state", "infer_blur", "load_tf_classifier", "read_tf_network"]
