"""Environment variables read as numbers, with one-line errors naming the variable (standard library only)."""

from __future__ import annotations

import os

from .errors import UserError


def env_int(name: str, default: int, minimum: int | None = None, maximum: int | None = None) -> int:
    """``int($name)``, ``default`` when unset or empty; UserError (one line) for anything else,
    or for a value outside ``[minimum, maximum]``."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise UserError(f"environment variable {name}={raw[:40]!r}: expected an integer") from None
    if minimum is not None and value < minimum:
        raise UserError(f"environment variable {name}={value}: expected an integer >= {minimum}")
    if maximum is not None and value > maximum:
        raise UserError(f"environment variable {name}={raw[:40]}: expected an integer <= {maximum}")
    return value
