"""Names of NVIDIA's published generator pickles (``nvidia:<name>``), resolved through the weights manager.

``stylegan-eval info nvidia:stylegan3-t-ffhq-1024x1024`` looks for ``stylegan3-t-ffhq-1024x1024.pkl``
in ``$STYLEGAN_EVAL_WEIGHTS`` and the torch.hub cache, else downloads it from NVIDIA (see
:mod:`stylegan_eval.weights`); offline, a one-line error names the file, its URL and where to put
a local copy. Torch-free.

sha256: NVIDIA publishes no checksums for these files and none were available to record here,
so every entry has ``sha256=None`` (the file is used unverified; the report records the sha256
of the file actually loaded).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

PREFIX = "nvidia:"
SG3_URL = "https://api.ngc.nvidia.com/v2/models/nvidia/research/stylegan3/versions/1/files/"
SG2_NGC_URL = "https://api.ngc.nvidia.com/v2/models/nvidia/research/stylegan2/versions/1/files/"
SG2_TF_URL = "https://nvlabs-fi-cdn.nvidia.com/stylegan2/networks/"
ADA_URL = "https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/"
#: NVlabs/stylegan README's Google Drive file for the FFHQ generator (a direct download may need a browser).
SG1_FFHQ_URL = "https://drive.google.com/uc?id=1MEGjdvVpUsu1jB4zrXZN7Y4kBBOzizDQ"


@dataclass(frozen=True)
class Official:
    name: str
    filename: str
    url: str
    family: str
    sha256: str | None = None


def _table() -> dict[str, Official]:
    out: dict[str, Official] = {}

    def add(name: str, url: str, family: str, filename: str | None = None) -> None:
        out[name] = Official(name, filename or f"{name}.pkl", url, family)

    add("karras2019stylegan-ffhq-1024x1024", SG1_FFHQ_URL, "stylegan1-tf")
    for cfg in "abcdef":
        add(f"stylegan2-ffhq-config-{cfg}", f"{SG2_TF_URL}stylegan2-ffhq-config-{cfg}.pkl", "stylegan2-tf")
    for data in ("car", "cat", "church", "horse"):
        for cfg in "ef":
            add(f"stylegan2-{data}-config-{cfg}", f"{SG2_TF_URL}stylegan2-{data}-config-{cfg}.pkl", "stylegan2-tf")
    for data in ("ffhq", "metfaces", "afhqcat", "afhqdog", "afhqwild", "cifar10", "brecahad"):
        add(f"stylegan2-ada-{data}", f"{ADA_URL}{data}.pkl", "stylegan2-nvidia", filename=f"stylegan2-ada-{data}.pkl")
    for name in (
        "ffhq-1024x1024",
        "ffhq-512x512",
        "ffhq-256x256",
        "ffhqu-1024x1024",
        "ffhqu-256x256",
        "metfaces-1024x1024",
        "metfacesu-1024x1024",
        "afhqv2-512x512",
        "afhqcat-512x512",
        "afhqdog-512x512",
        "afhqwild-512x512",
        "brecahad-512x512",
        "cifar10-32x32",
        "celebahq-256x256",
        "lsundog-256x256",
    ):
        add(f"stylegan2-{name}", f"{SG2_NGC_URL}stylegan2-{name}.pkl", "stylegan2-nvidia")
    for cfg in "tr":
        for name in (
            "ffhq-1024x1024",
            "ffhqu-1024x1024",
            "ffhqu-256x256",
            "metfaces-1024x1024",
            "metfacesu-1024x1024",
            "afhqv2-512x512",
        ):
            add(f"stylegan3-{cfg}-{name}", f"{SG3_URL}stylegan3-{cfg}-{name}.pkl", f"stylegan3-{cfg}")
    return out


OFFICIAL: dict[str, Official] = _table()


def is_official_name(path: object) -> bool:
    """True for ``nvidia:<name>`` (a str or a Path made from one)."""
    return isinstance(path, (str, os.PathLike)) and os.fspath(path).startswith(PREFIX)


def lookup(name: str) -> Official:
    from ..errors import CheckpointError

    key = name.removeprefix(PREFIX)
    key = key.removesuffix(".pkl")
    if key not in OFFICIAL:
        close = [n for n in OFFICIAL if key.split("-")[0] in n][:6]
        raise CheckpointError(
            f"{name}: not an official NVIDIA checkpoint name (e.g. {', '.join(close or list(OFFICIAL)[:6])})"
        )
    return OFFICIAL[key]


def resolve(path: str | os.PathLike) -> str | os.PathLike:
    """``nvidia:<name>`` -> the local file (cached or downloaded); any other path unchanged."""
    if not is_official_name(path) or os.path.exists(os.fspath(path)):
        return path
    from ..weights import WeightSpec, fetch

    entry = lookup(os.fspath(path))
    return fetch(WeightSpec(entry.name, entry.filename, entry.url, sha256=entry.sha256))
