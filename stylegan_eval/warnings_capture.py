"""Warnings raised while reading files (torch's ``UserWarning``s about storages, legacy formats,
``weights_only``) are captured instead of printed, so that a bad input gives exactly one line on
stderr; the captured texts go into the report's ``meta["load_warnings"]`` (the JSON report and
``--json`` output). Standard library only.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

#: Warning texts captured so far in this process (first 200 characters each, at most 50 kept).
captured: list[str] = []
_MAX = 50


@contextmanager
def captured_warnings() -> Iterator[list[str]]:
    """Record every warning raised in the block into :data:`captured` (nothing reaches stderr)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # about the reader's own use of torch storages, not about the file: no news to the user
        warnings.filterwarnings("ignore", message="TypedStorage is deprecated")
        try:
            yield captured
        finally:
            for w in caught:
                text = f"{w.category.__name__}: {str(w.message).strip().splitlines()[0][:200] if str(w.message).strip() else ''}"
                if text not in captured and len(captured) < _MAX:
                    captured.append(text)
