"""Messages on stderr: one logger (``stylegan_eval``), one prefix, one setup function.

Every warning reads ``stylegan-eval: warning: <text>`` and every note ``stylegan-eval: <text>``,
whether it comes from a command or from the Python API. Library code calls :func:`warning` /
:func:`info` (or ``logging.getLogger("stylegan_eval").warning``); :func:`setup` installs the one
handler (idempotent; the command line calls it first). An application that configures
``logging`` itself may skip :func:`setup`: the records then go to its own handlers.

The handler writes to whatever ``sys.stderr`` is at the time of each message, so that
redirections (pytest, click's test runner) see them.
"""

from __future__ import annotations

import logging
import sys
import time
import unicodedata
import warnings

LOGGER_NAME = "stylegan_eval"
PREFIX = "stylegan-eval"

logger = logging.getLogger(LOGGER_NAME)
_started: float | None = None


class _StderrHandler(logging.StreamHandler):
    """A StreamHandler bound to the current ``sys.stderr`` at every record."""

    @property  # type: ignore[override]
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:  # StreamHandler.__init__ assigns it; the property ignores it
        pass


def printable(text: object) -> str:
    """``text`` with control and format characters escaped (``\\x1b``, ``\\n``, ``\\u202e``), so that
    names and metadata read from files can neither send terminal escape sequences nor add lines."""
    out = []
    for ch in str(text):
        if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp"):
            code = ord(ch)
            out.append(
                {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(ch)
                or (f"\\x{code:02x}" if code < 256 else f"\\u{code:04x}")
            )
        else:
            out.append(ch)
    return "".join(out)


class _Formatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        msg = printable(record.getMessage())
        if record.levelno >= logging.ERROR:
            return f"{PREFIX}: error: {msg}"
        if record.levelno >= logging.WARNING:
            return f"{PREFIX}: warning: {msg}"
        return f"{PREFIX}: {msg}"


def setup(level: int = logging.INFO) -> logging.Logger:
    """Install the stderr handler on the ``stylegan_eval`` logger (once) and start the run clock."""
    global _started
    _started = time.perf_counter()
    if not any(isinstance(h, _StderrHandler) for h in logger.handlers):
        handler = _StderrHandler()
        handler.setFormatter(_Formatter())
        logger.addHandler(handler)
        logger.propagate = False
    logger.setLevel(level)
    return logger


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    text = str(message).strip()
    logger.warning(f"{category.__name__}: {text.splitlines()[0][:300] if text else ''}")


def route_warnings() -> None:
    """Show Python warnings (numpy's, torch's, a user adapter's) as ``stylegan-eval: warning:
    <Category>: <first line>`` like every other warning, instead of Python's two-line format
    with a source line (the command line calls it; library users keep their own settings)."""
    warnings.showwarning = _show_warning


def _ensure() -> None:
    if not logger.handlers and not logging.getLogger().handlers:
        setup()


def warning(message: str) -> None:
    """``stylegan-eval: warning: <message>`` on stderr (through :data:`logger`)."""
    _ensure()
    logger.warning(message)


def summarize(messages: list[str]) -> list[str]:
    """Repeated warnings as one line each: duplicates dropped, and messages that differ only in a
    leading label (``"z:shape: the linear SVM did not converge ..."``) merged into
    ``"the linear SVM did not converge ... (8 cases: z:shape, z:colour, ...)"``; order kept."""
    groups: dict[str, list[str]] = {}
    for m in dict.fromkeys(str(x) for x in messages):
        label, sep, rest = m.partition(": ")
        key = rest if sep and label and " " not in label else m
        groups.setdefault(key, []).append(label if key != m else "")
    out = []
    for text, labels in groups.items():
        labels = [x for x in labels if x]
        if len(labels) > 1:
            out.append(f"{text} ({len(labels)} cases: {', '.join(labels)})")
        else:
            out.append(f"{labels[0]}: {text}" if labels else text)
    return out


def warn_all(messages: list[str]) -> list[str]:
    """:func:`warning` for each message, repeated ones summarized (:func:`summarize`); returns the lines
    printed (to record them in a report)."""
    lines = summarize(list(messages))
    for m in lines:
        warning(m)
    return lines


def info(message: str) -> None:
    """``stylegan-eval: <message>`` on stderr (through :data:`logger`)."""
    _ensure()
    logger.info(message)


def format_seconds(seconds: float) -> str:
    """3.2 -> '3.2 s', 75 -> '1 min 15 s', 3725 -> '1 h 02 min'."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, sec = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {sec:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def elapsed() -> float | None:
    """Seconds since :func:`setup` (None before it)."""
    return None if _started is None else time.perf_counter() - _started


def finished(quiet: bool = False) -> None:
    """Print ``stylegan-eval: done in <elapsed>`` (the end of a command; nothing when ``quiet`` or before :func:`setup`)."""
    seconds = elapsed()
    if seconds is not None and not quiet:
        info(f"done in {format_seconds(seconds)}")
