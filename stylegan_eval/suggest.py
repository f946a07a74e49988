"""'did you mean ...' for mistyped names (metrics, attributes); torch-free."""

from __future__ import annotations

import difflib
from typing import Iterable


def close_matches(name: str, choices: Iterable[str], n: int = 3) -> list[str]:
    """The choices closest to ``name`` (case-insensitive), best first; empty when none is close."""
    options = {str(c).lower(): str(c) for c in choices}
    return [options[m] for m in difflib.get_close_matches(str(name).lower(), list(options), n=n, cutoff=0.6)]


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """``"; did you mean ppl2_wend?"`` (or ``"a or b"``), or "" when nothing is close."""
    matches = close_matches(name, choices)
    return f"; did you mean {' or '.join(matches)}?" if matches else ""
