"""Error types that map to the CLI's exit codes.

`UserError` (and subclasses) means the input was wrong: the CLI prints its message as one line
and exits with code 2. Anything else is an internal error (exit code 1).
"""

from __future__ import annotations


class UserError(Exception):
    """Bad input: a missing or malformed file, an impossible option value.

    The message must name the file or option and say what was expected; it is shown to the
    user as one line, without a traceback.
    """


class CheckpointError(UserError):
    """A checkpoint file could not be read or is not of the expected family."""


class WeightsUnavailable(UserError):
    """Published weights (LPIPS VGG, Inception, classifiers) are neither cached nor downloadable."""


class UnsafePickleError(CheckpointError):
    """A pickle asked for a global that the restricted unpickler does not allow."""


class ArgumentError(UserError, ValueError):
    """A library function got a bad argument; the message names the Python argument.

    ``arg`` is the argument's name (``num_samples``); the command line shows the message with
    the argument translated to its flag (``--num-samples``, :func:`stylegan_eval.cli.flag_message`).
    ``cli_hint``, when given, replaces a Python-worded hint at the end of the message on the CLI.
    """

    def __init__(self, arg: str, message: str, cli_hint: str | None = None, hint: str | None = None) -> None:
        self.arg = arg
        self.message = message
        self.hint = hint
        self.cli_hint = cli_hint
        super().__init__(message + (f"; {hint}" if hint else ""))


class DiskFullError(UserError, OSError):
    """A write failed for lack of space (ENOSPC, EDQUOT); the message names the file.

    Also an :class:`OSError` (``errno`` kept), so callers that tolerate a failed optional write
    (a cache entry) still do.
    """

    def __init__(self, message: str, errno: int | None = None) -> None:
        super().__init__(message)
        self.errno = errno
