"""Checkpoint references, as the command line, the configuration and the Python API take them.

One reference names a generator:

- ``demo``: the embedded demo generator (:mod:`stylegan_eval.demo`), unless a file of that name exists;
- ``nvidia:<name>``: an official NVIDIA pickle (:mod:`.official`), cached or downloaded;
- ``hf://OWNER/REPO/PATH[@REVISION]``: a file of a Hugging Face Hub repository
  (:mod:`stylegan_eval.hub`), from its cache or downloaded, then loaded like a local file;
- a checkpoint file;
- ``package.module:attr``: a generator from code (:mod:`.custom`), without a file;
- ``FILE::package.module:attr``: that code given a checkpoint (``FILE`` may also be ``demo``,
  ``nvidia:<name>`` or ``hf://...``).

``--generator package.module:attr`` is the spec part given separately
(:class:`.checkpoint_spec.CheckpointSpec` joins the two).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from .. import hub
from ..errors import UserError
from .official import PREFIX as NVIDIA_PREFIX

#: A user generator's import spec: package.module:attr.
SPEC_RE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
#: The reference naming the embedded demo generator (stylegan_eval/assets).
EMBEDDED_DEMO = "demo"


def is_name(value: str | os.PathLike) -> bool:
    """``demo`` / ``nvidia:<name>`` / ``hf://...``: names, not paths (never made relative to a configuration's folder)."""
    return str(value) == EMBEDDED_DEMO or str(value).startswith((NVIDIA_PREFIX, hub.PREFIX))


def looks_like_path(value: str | os.PathLike) -> bool:
    """False for references that name code (a spec, ``FILE::spec``): an untrusted configuration may not set them."""
    value = str(value)
    return "::" not in value and (not SPEC_RE.match(value) or Path(value).exists())


#: Why a folder (or zip of images) is refused where a generator is needed.
IMAGES_NEED_FEATURE_METRICS = (
    "a folder or zip of images; this command needs a generator checkpoint (images are evaluated as the "
    "generated side by fid and by calc/compare's feature metrics)"
)


def split_checkpoint_ref(value: str | os.PathLike, check: bool = False) -> tuple[str | None, str | None]:
    """A reference -> (checkpoint path or name, generator spec); either may be None.

    With ``check`` a file that does not exist is a UserError naming the value (otherwise
    loading it reports that). A directory passes: generated images for the feature metrics, refused
    by :meth:`~stylegan_eval.formats.checkpoint_spec.CheckpointSpec.load`. A malformed ``hf://``
    reference is always a UserError; whether the Hub has the file is known only when it is resolved.
    """
    value = str(value)
    if hub.is_hub_ref(value):
        path, sep, spec = value.partition("::")
        hub.parse(path)
        if sep and not SPEC_RE.match(spec):
            raise UserError(f"{value}: expected CKPT::package.module:attr, got the spec {spec!r}")
        return path, (spec if sep else None)
    if is_name(value) or Path(value).exists():
        return value, None  # a folder: images, which only the feature metrics take (refused where a generator loads)
    if "::" in value:
        path, _, spec = value.partition("::")
        if not SPEC_RE.match(spec):
            raise UserError(f"{value}: expected CKPT::package.module:attr, got the spec {spec!r}")
        if not path or (check and not (Path(path).is_file() or is_name(path))):
            raise UserError(f"{value}: no such checkpoint file {path!r}")
        return path, spec
    if SPEC_RE.match(value):
        return None, value
    if check:
        raise UserError(
            f"{value}: no such file (expected a checkpoint file, demo, nvidia:<name>, "
            "package.module:attr or CKPT::package.module:attr)"
        )
    return value, None


def resolve_demo(path: str | os.PathLike) -> str | os.PathLike:
    """``demo`` (when no such file exists) -> the embedded demo generator's file; any other path unchanged."""
    if str(path) == EMBEDDED_DEMO and not Path(path).exists():
        from ..demo import default_checkpoint

        return default_checkpoint()
    return path
