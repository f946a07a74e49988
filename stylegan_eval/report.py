"""Reports: a pandas table of results plus the settings, versions, checkpoint hash and timings.

Every command returns a :class:`Report`; ``--out DIR`` writes ``<command>.json``, ``.csv`` and
``.md`` there, each atomically (written to a temporary file, then renamed), so an interrupted
run never leaves a half-written report.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .fileio import atomic_write, jsonable
from .log import printable

if TYPE_CHECKING:  # pandas is imported where a table is built; a cache-hit `stats` run needs none
    import pandas as pd

__all__ = ["Report", "cpu_model", "environment"]


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), else what ``platform`` knows."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for pkg in ("stylegan-eval", "torch", "torchvision", "numpy", "scipy", "scikit-learn", "pandas", "lpips"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    return out


def environment(device: Any = None) -> dict[str, Any]:
    """Package versions, the machine/device the numbers were computed on and the Hugging Face Hub
    files (``hf://``) the run resolved, with their commits and sha256.

    Torch facts (threads, device name) are included only when torch has been imported, i.e.
    when something was computed with it.
    """
    env: dict[str, Any] = {
        "versions": _versions(),
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
    }
    hub = sys.modules.get("stylegan_eval.hub")
    if hub is not None and hub.resolved():  # hf:// files this run read: repository, commit, sha256
        env["hub_files"] = hub.resolved()
    torch = sys.modules.get("torch")
    if torch is None:
        if device is not None:
            env["device"] = str(device)
        return env
    env["cpu_threads"] = torch.get_num_threads()
    if device is not None:
        dev = torch.device(device)
        env["device"] = str(dev)
        if dev.type == "cuda" and torch.cuda.is_available():
            env["device_name"] = torch.cuda.get_device_name(dev)
    return env


@dataclass
class Report:
    """The result of one command.

    Attributes:
        command: the command or metric name ("ppl", "fid", ...); names the output files.
        table: the numbers, one row per metric variant / attribute / checkpoint (a DataFrame;
            a list of row dicts is accepted for reports that are only printed as JSON).
        settings: every option that influenced the numbers.
        meta: checkpoint (path, sha256, family), environment, timings, warnings, and
            ``random_weights`` (names of networks that ran at random initialisation).
        extra_files: files written beside the report (plots, raw distances).
    """

    command: str
    table: pd.DataFrame
    settings: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    extra_files: list[str] = field(default_factory=list)

    @property
    def random_weights(self) -> list[str]:
        return list(self.meta.get("random_weights", []))

    def banner(self) -> str | None:
        if self.random_weights:
            return (
                "WARNING: computed with randomly initialised "
                + ", ".join(self.random_weights)
                + " (published weights not available): these numbers are NOT comparable to published ones."
            )
        return None

    def notes(self) -> list[str]:
        """Caveats of the run (``meta['warnings']`` and ``meta['notes']``, once each), for every report format."""
        found = [*(self.meta.get("warnings") or []), *(self.meta.get("notes") or [])]
        return list(dict.fromkeys(str(n) for n in found if n))

    def to_dict(self) -> dict[str, Any]:
        return jsonable(
            {
                "command": self.command,
                "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                "results": _records(self.table),
                "settings": self.settings,
                "meta": self.meta,
                "warning": self.banner(),
                "files": self.extra_files,
            }
        )

    def display_table(self) -> pd.DataFrame:
        """The table the terminal shows (the files keep every column)."""
        return self.table

    def to_markdown(self) -> str:
        import pandas as pd

        lines = [f"# stylegan-eval {self.command}", ""]
        if self.banner():
            lines += [f"> **{self.banner()}**", ""]
        lines += [_md_table(self.table), ""]
        lines += _md_notes(self.notes())
        figures = self.meta.get("figures") or {}
        if figures:
            lines += ["## Figures", ""]
            lines += [f"![{name}]({name})\n\n{text}\n" for name, text in figures.items()]
        lines += [
            "## Settings",
            "",
            _md_table(
                pd.DataFrame(
                    {"setting": list(self.settings), "value": [json.dumps(jsonable(v)) for v in self.settings.values()]}
                )
            ),
            "",
        ]
        meta = jsonable(self.meta)
        lines += ["## Run", "", "```json", json.dumps(meta, indent=2), "```", ""]
        return "\n".join(lines)

    def write(self, out_dir: str | os.PathLike) -> list[Path]:
        """Write ``<command>.json``, ``.csv`` and ``.md`` into ``out_dir`` atomically."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = [
            atomic_write(out / f"{self.command}.json", json.dumps(self.to_dict(), indent=2) + "\n"),
            atomic_write(out / f"{self.command}.csv", self.table.to_csv(index=False)),
            atomic_write(out / f"{self.command}.md", self.to_markdown()),
        ]
        return paths


def _records(table: Any) -> list[dict[str, Any]]:
    """Rows of a DataFrame, or of a list of row dicts (what a cache-hit ``stats`` builds without pandas)."""
    if isinstance(table, list):
        return [dict(r) for r in table]
    return table.to_dict(orient="records")


def _fmt(v: Any) -> str:
    """A table cell: floats with 6 significant digits (float noise below 1e-12 as 0), '-' for None/NaN."""
    from .metrics.intervals import nice

    if v is None or type(v).__name__ == "NAType":  # pandas.NA
        return "-"
    if isinstance(v, (float, np.floating)):
        return nice(float(v), digits=6)
    return str(v)


def _md_notes(notes: list[str]) -> list[str]:
    """A "Notes" section listing the run's caveats (nothing when there are none)."""
    if not notes:
        return []
    return ["## Notes", "", *(f"- {n}" for n in notes), ""]


def _md_table(df: pd.DataFrame) -> str:
    """A GitHub Markdown table without the optional tabulate dependency."""
    cols = [str(c) for c in df.columns]
    rows = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for rec in df.itertuples(index=False):
        rows.append("| " + " | ".join(printable(_fmt(v)).replace("|", "\\|") for v in rec) + " |")
    return "\n".join(rows)


# ------------------------------------------------------------------------------ the compare report
@dataclass
class CompareReport(Report):
    """The comparison report: the long table plus a summary, the rules and the plots.

    ``write`` adds ``compare.html`` (self-contained, plots as base64 PNG) to the JSON, CSV and
    Markdown files of :class:`~stylegan_eval.report.Report`.
    """

    summary: pd.DataFrame | None = None
    rules: pd.DataFrame | None = None
    results: dict[str, dict[str, Any]] = field(default_factory=dict)  # label -> output -> compare Measurement
    #: (caption, uint8 image) per checkpoint: sample grid, mixing figure (:func:`stylegan_eval.plots.checkpoint_figures`).
    samples: list[tuple[str, Any]] = field(default_factory=list)
    _figure_cache: Any = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # The command leaves each checkpoint's figures in meta["checkpoints"][label]["figures"]
        # (one line at its loop); they are images, not metadata, so they move here.
        for info in (self.meta.get("checkpoints") or {}).values():
            if isinstance(info, dict) and "figures" in info:
                self.samples += list(info.pop("figures") or [])

    @property
    def passed(self) -> bool:
        return self.rules is None or bool(self.rules["passed"].all())

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        d["summary"] = self.summary.to_dict(orient="records") if self.summary is not None else []
        d["rules"] = jsonable(self.rules.to_dict(orient="records")) if self.rules is not None else []
        d["passed"] = self.passed
        d["significance_rule"] = _significance_rule()
        return d

    def display_table(self) -> pd.DataFrame:
        """The terminal's table: no baseline columns for one checkpoint, the file's name and a 12-digit sha256
        prefix instead of the full path and hash, no empty columns (the files keep everything)."""
        df = self.table.copy()
        if df["checkpoint"].nunique() < 2:
            df = df.drop(columns=["delta", "delta_pct", "better", "significant"], errors="ignore")
        if "path" in df:
            df["path"] = [Path(p).name if isinstance(p, str) else p for p in df["path"]]
        if "sha256" in df:
            df["sha256"] = [h[:12] if isinstance(h, str) else h for h in df["sha256"]]
        return df.dropna(axis=1, how="all")

    def rules_markdown(self) -> list[str]:
        if self.rules is None or not len(self.rules):
            return []
        failed = int((~self.rules["passed"].astype(bool)).sum())
        head = "**Rules: all passed**" if not failed else f"**Rules: {failed} of {len(self.rules)} checks FAILED**"
        r = self.rules.drop(columns=["observed"]).copy()
        r["passed"] = ["pass" if p else "**FAIL**" for p in r["passed"]]
        return [head, "", _md_table(r), ""]

    def to_markdown(self) -> str:
        labels = list(dict.fromkeys(self.table["checkpoint"]))
        lines = [f"## stylegan-eval compare: {' vs '.join(labels)}", ""]
        if self.banner():
            lines += [f"> **{self.banner()}**", ""]
        from .metrics.registry import direction_note

        lines += [f"Baseline: `{labels[0]}`. {direction_note(list(dict.fromkeys(self.table['metric'])))}", ""]
        if self.summary is not None:
            lines += [_md_table(self.summary), ""]
        lines += self.rules_markdown()
        lines += _md_notes(self.notes())
        lines += [f"Significance: {_significance_rule()}.", ""]
        lines += [
            "<details><summary>All results and settings</summary>",
            "",
            _md_table(self.table.drop(columns=["sha256"], errors="ignore")),
            "",
        ]
        lines += ["```json", json.dumps(jsonable(self.settings), indent=2), "```", "", "</details>", ""]
        return "\n".join(lines)

    def notes(self) -> list[str]:
        """The run's caveats plus why an interval or a chart is missing (see :mod:`stylegan_eval.figures.charts`)."""
        from .figures.charts import interval_notes

        return list(dict.fromkeys([*super().notes(), *interval_notes(self.table), *self._figures()[1]]))

    def _figures(self) -> tuple[list[Any], list[str]]:
        from .figures import reports as fr

        if getattr(self, "_figure_cache", None) is not None:
            return self._figure_cache
        facts: dict[str, Any] = {"seed": self.settings.get("seed"), "random_weights": self.random_weights}
        figs = fr.metric_figures(self.table, **facts)
        dists: dict[str, dict[str, Any]] = {}
        ents: dict[str, dict[str, dict[str, float]]] = {}
        for label, per_metric in self.results.items():
            for metric, m in per_metric.items():
                d = m.details[0] if m.details else {}
                if "distances" in d:
                    dists.setdefault(metric, {})[label] = d["distances"]
                if "entropy_bits" in d:
                    runs = [x["entropy_bits"] for x in m.details]
                    ents.setdefault(metric, {})[label] = {a: float(np.mean([r[a] for r in runs])) for a in runs[0]}
        z_vs_w = fr.z_vs_w_figure(self.table, **facts)
        figs += ([z_vs_w] if z_vs_w is not None else []) + fr.ppl_figures(dists, self.table, **facts)
        ls_figs, notes = fr.separability_figures(ents, self.table, **facts)
        hooked = self._hook_figures(handled=set(dists) | set(ents))
        self._figure_cache = (figs + ls_figs + hooked, notes)
        return self._figure_cache

    def _hook_figures(self, handled: set[str]) -> list[Any]:
        """The charts a metric's registry ``figures`` hook draws, for outputs not charted above."""
        from .figures.style import Figure
        from .metrics import registry

        figs: list[Any] = []
        for output in dict.fromkeys(o for per in self.results.values() for o in per):
            spec = registry.output_spec(output) if output not in handled else None
            hook = spec.load_figures() if spec is not None else None
            if hook is None:
                continue
            runs = {label: per[output].details for label, per in self.results.items() if output in per}
            figs += [Figure(f"{output}_{k}", caption, fig) for k, (caption, fig) in enumerate(hook(output, runs))]
        return figs

    def figures(self) -> list[Any]:
        """The report's charts (:class:`stylegan_eval.figures.style.Figure`), built once."""
        return self._figures()[0]

    def to_html(self) -> str:
        from . import html_report
        from .figures.style import image_figure

        labels = list(dict.fromkeys(self.table["checkpoint"]))
        # Sample grids first, then mixing figures: with one column per checkpoint the checkpoints sit side by side.
        samples = sorted(self.samples, key=lambda s: "mixing" in s[0])
        shown = [image_figure(img, f"samples_{i}", cap) for i, (cap, img) in enumerate(samples)]
        return html_report.render(
            f"stylegan-eval {self.command}: {' vs '.join(labels)}",
            self.summary if self.summary is not None else self.table,
            self.table,
            self.rules,
            self.figures(),
            notes=[f"Baseline: {labels[0]}.", *self.notes(), f"Significance: {_significance_rule()}."],
            settings=self.settings,
            warning=self.banner(),
            samples=shown,
            headline=("checkpoint", "metric", "value", "ci95_low", "ci95_high"),
        )

    def write(self, out_dir) -> list[Path]:
        paths = super().write(out_dir)
        paths.append(atomic_write(Path(out_dir) / f"{self.command}.html", self.to_html()))
        return paths


def _significance_rule() -> str:
    from .metrics.intervals import SIGNIFICANCE_RULE

    return SIGNIFICANCE_RULE
