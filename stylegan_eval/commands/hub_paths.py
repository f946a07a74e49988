"""File options that also take a Hugging Face Hub reference (``hf://OWNER/REPO/PATH[@REVISION]``):
statistics files (``--data``) and detector / distance weights files (``--inception-weights``,
``--lpips-weights``).

The reference is resolved when the option is read (from the Hub cache, or downloaded unless
``$HF_HUB_OFFLINE`` is set), so the command sees a local file and loads it with the loaders a
local file goes through; a bad reference is a one-line usage error naming it (exit 2) before
any work. What it resolved to (commit, sha256) is listed by :func:`stylegan_eval.hub.resolved`
for the report.
"""

from __future__ import annotations

from typing import Any

import click

from .. import hub
from ..errors import UserError


class HubOrPath(click.Path):
    """``click.Path`` that also accepts ``hf://...`` (resolved to the cached file, a ``Path``)."""

    @staticmethod
    def is_name(value: str) -> bool:
        """``hf://...`` is a name, never made relative to a configuration's folder."""
        return hub.is_hub_ref(value)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if hub.is_hub_ref(value):
            try:
                value = str(hub.resolve(value).path)
            except UserError as exc:
                self.fail(str(exc), param, ctx)
        return super().convert(value, param, ctx)
