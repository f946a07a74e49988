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
