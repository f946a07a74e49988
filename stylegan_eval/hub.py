"""Hugging Face Hub references, ``hf://OWNER/REPO/PATH[@REVISION]``: parsed and resolved to a local file.

A reference names one file of a model repository, at a branch, tag or commit (``REVISION``,
default ``main``; the text after the last ``@`` of the path part). Resolution goes through
``huggingface_hub.hf_hub_download`` and its cache (``$HF_HUB_CACHE``, else ``$HF_HOME/hub``);
``$HF_HUB_OFFLINE`` (or ``$STYLEGAN_EVAL_OFFLINE``) set to a true value answers from that cache
only. The file is then read by the same loaders as a local file (no code from it is executed and
no repository code is imported); what it resolved to (the commit hash and the file's sha256) is
returned for fingerprints and reports.

Errors (a malformed reference, a file missing from the cache offline, a repository, revision or
file the Hub does not have, ``huggingface_hub`` not installed) are one-line UserErrors naming the
reference. Torch-free; ``huggingface_hub`` is imported only to resolve.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import UserError

PREFIX = "hf://"
_NAME_RE = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}$")
_COMMIT_RE = re.compile(r"^[0-9a-f]{40}$")
_TRUE = {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class HubRef:
    """One file of a Hub model repository: ``repo_id`` (``OWNER/REPO``), ``filename`` (its path in
    the repository, ``/``-separated) and ``revision`` (branch, tag or commit hash)."""

    repo_id: str
    filename: str
    revision: str = "main"

    def __str__(self) -> str:
        return f"{PREFIX}{self.repo_id}/{self.filename}@{self.revision}"


@dataclass(frozen=True)
class HubFile:
    """A resolved reference: the local file in the Hub cache and what it is (for reports)."""

    ref: str
    path: Path
    repo_id: str
    filename: str
    revision: str
    commit: str | None
    sha256: str

    def info(self) -> dict[str, Any]:
        """The report's / fingerprint's description: reference, repository, file, revision, commit, sha256."""
        return {
            "ref": self.ref,
            "repo_id": self.repo_id,
            "filename": self.filename,
            "revision": self.revision,
            "commit": self.commit,
            "sha256": self.sha256,
        }


def is_hub_ref(value: object) -> bool:
    """True for a string starting with ``hf://`` (never for a Path: a Path has lost the ``//``)."""
    return isinstance(value, str) and value.startswith(PREFIX)


def parse(ref: str) -> HubRef:
    """``hf://OWNER/REPO/PATH[@REVISION]`` -> HubRef; UserError naming ``ref`` when malformed."""
    expected = f"{ref}: expected hf://OWNER/REPO/PATH[@REVISION]"
    if not is_hub_ref(ref):
        raise UserError(expected)
    parts = ref[len(PREFIX) :].split("/", 2)
    if len(parts) < 3:
        raise UserError(expected)
    owner, repo, rest = parts
    path, at, revision = rest.rpartition("@") if "@" in rest else (rest, "", "main")
    if at and not revision:
        raise UserError(f"{expected} (empty revision after '@')")
    for name in (owner, repo):
        if not _NAME_RE.match(name):
            raise UserError(f"{expected} ({name!r} is not a Hub user or repository name)")
    pieces = path.split("/")
    if not path or any(p in ("", ".", "..") for p in pieces):
        raise UserError(f"{expected} (the file path {path!r} must be relative, without '.', '..' or '//')")
    return HubRef(f"{owner}/{repo}", path, revision)


def offline() -> bool:
    """True when ``$HF_HUB_OFFLINE`` or ``$STYLEGAN_EVAL_OFFLINE`` is set to a true value (read at each call)."""
    return any(os.environ.get(v, "").strip().lower() in _TRUE for v in ("HF_HUB_OFFLINE", "STYLEGAN_EVAL_OFFLINE"))


def cache_dir() -> Path:
    """The Hub cache folder, read from the environment at each call: ``$HF_HUB_CACHE``, else
    ``$HF_HOME/hub``, else ``~/.cache/huggingface/hub`` (huggingface_hub's own rules)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.path.expanduser(os.environ["HF_HUB_CACHE"]))
    home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "huggingface"
    )
    return Path(os.path.expanduser(home)) / "hub"


def _commit_of(local: Path, filename: str) -> str | None:
    """The commit hash a cached file belongs to: its ``snapshots/<commit>/FILENAME`` folder name."""
    depth = len(filename.split("/"))
    parts = local.parts
    if len(parts) > depth + 1 and parts[-depth - 2] == "snapshots" and _COMMIT_RE.match(parts[-depth - 1]):
        return parts[-depth - 1]
    return None


def _download(ref: str, hub_ref: HubRef) -> str:
    """hf_hub_download, its errors as one-line UserErrors naming ``ref``."""
    try:
        import huggingface_hub
        from huggingface_hub import errors as hub_errors
    except ImportError:
        raise UserError(f"{ref}: Hugging Face Hub references need huggingface_hub (pip install stylegan-eval[hub])")
    where = "the Hub cache " + str(cache_dir())
    try:
        return huggingface_hub.hf_hub_download(
            hub_ref.repo_id,
            hub_ref.filename,
            revision=hub_ref.revision,
            cache_dir=cache_dir(),
            local_files_only=offline(),
        )
    except hub_errors.LocalEntryNotFoundError:
        mode = "offline ($HF_HUB_OFFLINE / $STYLEGAN_EVAL_OFFLINE)" if offline() else "the Hub could not be reached"
        raise UserError(f"{ref}: not in {where} and {mode}") from None
    except hub_errors.RepositoryNotFoundError:
        raise UserError(f"{ref}: no such Hub repository {hub_ref.repo_id!r} (or it is private)") from None
    except hub_errors.RevisionNotFoundError:
        raise UserError(f"{ref}: no revision {hub_ref.revision!r} in {hub_ref.repo_id}") from None
    except hub_errors.EntryNotFoundError:
        raise UserError(f"{ref}: no file {hub_ref.filename!r} in {hub_ref.repo_id}@{hub_ref.revision}") from None
    except (hub_errors.HfHubHTTPError, OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"{ref}: {first}") from None


_RESOLVED: dict[str, HubFile] = {}


def resolve(ref: str) -> HubFile:
    """Resolve ``ref`` to a file in the Hub cache (downloaded unless offline), with its commit and sha256.

    Remembered per process by reference, so that one run hashes a file once.
    """
    from .fileio import sha256_file

    hub_ref = parse(ref)
    if ref in _RESOLVED and _RESOLVED[ref].path.is_file():
        return _RESOLVED[ref]
    local = Path(_download(ref, hub_ref))
    if not local.is_file():
        raise UserError(f"{ref}: resolved to {local}, which is not a file")
    commit = _commit_of(local, hub_ref.filename)
    found = HubFile(ref, local, hub_ref.repo_id, hub_ref.filename, hub_ref.revision, commit, sha256_file(local))
    _RESOLVED[ref] = found
    return found


def resolved() -> list[dict[str, Any]]:
    """Every reference this process resolved (their :meth:`HubFile.info`), for reports."""
    return [f.info() for f in _RESOLVED.values()]


def local_path(value: str | os.PathLike) -> str | os.PathLike:
    """An ``hf://`` reference -> its local file (resolved); any other value unchanged."""
    return resolve(str(value)).path if is_hub_ref(value) else value
