"""Reports: a pandas table of results plus the settings, versions, checkpoint hash and timings.

Every command returns a :class:`Report`; ``--out DIR`` writes ``<command>.json``, ``.csv`` and
``.md`` there, each atomically (written to a temporary file, then renamed), so an interrupted
run never leaves a half-written report.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import platform
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .fileio import atomic_write

if TYPE_CHECKING:  # pandas is imported where a table is built; a cache-hit `stats` run needs none
    import pandas as pd

__all__ = ["Report", "atomic_write", "cpu_model", "environment", "jsonable"]


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
    """Package versions and the machine/device the numbers were computed on.

    Torch facts (threads, device name) are included only when torch has been imported, i.e.
    when something was computed with it.
    """
    env: dict[str, Any] = {"versions": _versions(), "platform": platform.platform(), "cpu": cpu_model(), "cpu_count": os.cpu_count()}
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


def jsonable(value: Any) -> Any:
    """Convert numpy/pandas/torch scalars, paths and non-finite floats into JSON-safe values."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        v = float(value)
        return v if math.isfinite(v) else None
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 1) == 0:
        return jsonable(value.item())
    return value


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
                "WARNING: computed with randomly initialised " + ", ".join(self.random_weights)
                + " (published weights not available): these numbers are NOT comparable to published ones."
            )
        return None

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

    def to_markdown(self) -> str:
        import pandas as pd

        lines = [f"# stylegan-eval {self.command}", ""]
        if self.banner():
            lines += [f"> **{self.banner()}**", ""]
        lines += [_md_table(self.table), ""]
        lines += ["## Settings", "", _md_table(pd.DataFrame({"setting": list(self.settings), "value": [json.dumps(jsonable(v)) for v in self.settings.values()]})), ""]
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
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.6g}"
    return str(v)


def _md_table(df: pd.DataFrame) -> str:
    """A GitHub Markdown table without the optional tabulate dependency."""
    cols = [str(c) for c in df.columns]
    rows = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for rec in df.itertuples(index=False):
        rows.append("| " + " | ".join(_fmt(v).replace("|", "\\|") for v in rec) + " |")
    return "\n".join(rows)
