"""Code-free ``.safetensors`` generator files written by ``stylegan-eval convert``.

Layout: the safetensors tensors are the generator adapter's ``state_dict()`` (keys as the
family's module has them, e.g. ``net.synthesis.L0_36_512.weight``; stored noise buffers included)
(the stored truncation centre is part of each adapter's state). The header's metadata holds
``stylegan_eval_format`` = ``"1"`` and ``stylegan_eval_config``: the JSON of ``Generator.config()``
(``family``, ``arch`` = architecture arguments, ``w_avg``, ``stored_noise``, ``truncation``, ``info``).

Loading reads nothing executable: the header size is bounded before it is read, every tensor
entry (dtype, shape, offsets) is checked against the file size, and the config's types are
validated before a network is built. Each family is rebuilt by one function in
:data:`FAMILY_LOADERS` (``family -> "module:from_config"``; ``from_config(config, state_dict)``
returns the :class:`~stylegan_eval.generator.Generator`); a new family plugs in with one line.
"""

from __future__ import annotations

import importlib
import json
import os
import struct
from pathlib import Path
from typing import Any

import torch

from ..checks import loads_json, unusable_number
from ..errors import CheckpointError, UserError
from ..generator import Generator

NAME = "safetensors"
FORMAT_VERSION = "1"
META_CONFIG = "stylegan_eval_config"
META_FORMAT = "stylegan_eval_format"
#: Bounds on what is read from the (untrusted) header before anything is allocated.
MAX_HEADER_BYTES = 16 << 20
MAX_CONFIG_BYTES = 1 << 20
MAX_TENSORS = 100_000

#: family -> "module:from_config" (``from_config(config, state_dict) -> Generator``, strict).
FAMILY_LOADERS: dict[str, str] = {
    "stylegan2-rosinality": "stylegan_eval.networks.stylegan2:from_config",
    "stylegan2-nvidia": "stylegan_eval.networks.stylegan2:from_config",
    "stylegan2-tf": "stylegan_eval.networks.stylegan2:from_config",
    "stylegan2-torch": "stylegan_eval.networks.stylegan2:from_config",
    "stylegan3-t": "stylegan_eval.networks.stylegan3:from_config",
    "stylegan3-r": "stylegan_eval.networks.stylegan3:from_config",
    "stylegan3": "stylegan_eval.networks.stylegan3:from_config",
    "stylegan1-rosinality": "stylegan_eval.networks.stylegan1:from_config",
    "stylegan1-tf": "stylegan_eval.networks.stylegan1:from_config",
}
_TORCH_DTYPES = {
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "F64": torch.float64,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
    "BOOL": torch.bool,
}
_DTYPES = {"F32", "F16", "BF16", "F64", "I64", "I32", "I16", "I8", "U8", "BOOL"}


def _loader(family: str) -> Any:
    module, _, func = FAMILY_LOADERS[family].partition(":")
    return getattr(importlib.import_module(module), func)


def describe(gen: Generator) -> dict[str, Any]:
    """The JSON-able config of ``gen`` (``gen.config()``); UserError for families that have none."""
    try:
        config = gen.config()
    except UserError as exc:
        raise UserError(f"{exc} (cannot convert)") from None
    if config.get("family") not in FAMILY_LOADERS:
        raise UserError(f"{gen.family}: no safetensors loader registered for family {config.get('family')!r}")
    try:
        json.dumps(config, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise UserError(f"{gen.family}: generator config is not JSON-able ({exc})") from None
    return config


def write(gen: Generator, out: str | os.PathLike) -> Path:
    """Write ``gen`` as one code-free safetensors file (weights + JSON config); returns the path."""
    from safetensors.torch import save

    from ..fileio import atomic_write

    config = describe(gen)
    tensors = {k: v.detach().to("cpu").clone().contiguous() for k, v in gen.state_dict().items()}
    text = json.dumps(config, sort_keys=True, allow_nan=False)
    if len(text) > MAX_CONFIG_BYTES:
        raise UserError(f"{gen.family}: generator config is {len(text)} bytes, more than {MAX_CONFIG_BYTES}")
    # One atomic write (temporary file, rename): a failure (disk full) never leaves half a file at ``out``.
    return atomic_write(out, save(tensors, metadata={META_FORMAT: FORMAT_VERSION, META_CONFIG: text}))


def is_safetensors(path: Path) -> bool:
    """8-byte little-endian header length followed by a JSON object (a length that fits the file,
    or any length for a ``.safetensors`` name, so that a bad header gets the safetensors error)."""
    with open(path, "rb") as f:
        head = f.read(9)
    if len(head) < 9 or head[8:9] != b"{":
        return False
    (n,) = struct.unpack("<Q", head[:8])
    return n <= Path(path).stat().st_size - 8 or Path(path).suffix == ".safetensors"


def _read_header_bytes(p: Path, size: int) -> tuple[bytes, int]:
    """(the header's bytes, its declared length); the 8-byte length is checked against the file size and
    :data:`MAX_HEADER_BYTES` before anything is read."""
    with open(p, "rb") as f:
        raw = f.read(8)
        if len(raw) < 8:
            raise CheckpointError(f"{p}: truncated safetensors file (no header length)")
        (n,) = struct.unpack("<Q", raw)
        if n > MAX_HEADER_BYTES or n > size - 8:
            raise CheckpointError(
                f"{p}: safetensors header claims {n} bytes (file has {size}, limit {MAX_HEADER_BYTES})"
            )
        return f.read(n), n


def _check_entry(p: Path, key: str, entry: Any, data_len: int) -> None:
    """A tensor entry: known dtype, a shape of bounded non-negative ints, offsets inside the data."""
    ok = (
        isinstance(entry, dict)
        and entry.get("dtype") in _DTYPES
        and isinstance(entry.get("shape"), list)
        and all(isinstance(d, int) and 0 <= d < 1 << 40 for d in entry["shape"])
        and isinstance(entry.get("data_offsets"), list)
        and len(entry["data_offsets"]) == 2
        and all(isinstance(o, int) for o in entry["data_offsets"])
    )
    if not ok:
        raise CheckpointError(f"{p}: safetensors entry {key[:60]!r} is malformed (dtype, shape, data_offsets)")
    a, b = entry["data_offsets"]
    if not 0 <= a <= b <= data_len:
        raise CheckpointError(f"{p}: safetensors entry {key[:60]!r} points outside the file")


def read_header(path: str | os.PathLike) -> dict[str, Any]:
    """The parsed JSON header (sizes bounded, entries checked against the file); CheckpointError otherwise."""
    p = Path(path)
    size = p.stat().st_size
    text, n = _read_header_bytes(p, size)
    try:
        header = loads_json(text.decode("utf-8"), f"{p}: safetensors header", limit=4, error=CheckpointError)
    except UnicodeDecodeError as exc:
        raise CheckpointError(f"{p}: safetensors header is not valid JSON ({str(exc)[:80]})") from None
    if not isinstance(header, dict) or len(header) > MAX_TENSORS:
        raise CheckpointError(f"{p}: safetensors header must be an object with at most {MAX_TENSORS} entries")
    data_len = size - 8 - n
    for key, entry in header.items():
        if key != "__metadata__":
            _check_entry(p, key, entry, data_len)
        elif not isinstance(entry, dict) or not all(isinstance(v, str) for v in entry.values()):
            raise CheckpointError(f"{p}: safetensors __metadata__ must map strings to strings")
    return header


def read_config(path: str | os.PathLike, header: dict[str, Any]) -> dict[str, Any]:
    meta = header.get("__metadata__") or {}
    if meta.get(META_FORMAT) != FORMAT_VERSION or META_CONFIG not in meta:
        raise CheckpointError(
            f"{path}: safetensors file without a stylegan-eval config (write it with 'stylegan-eval convert')"
        )
    text = meta[META_CONFIG]
    if len(text) > MAX_CONFIG_BYTES:
        raise CheckpointError(f"{path}: stylegan-eval config is {len(text)} bytes, more than {MAX_CONFIG_BYTES}")
    config = loads_json(text, f"{path}: stylegan-eval config", error=CheckpointError)
    if not isinstance(config, dict):
        raise CheckpointError(f"{path}: stylegan-eval config must be a JSON object")
    problem = unusable_number(config)
    if problem is not None:
        raise CheckpointError(f"{path}: stylegan-eval config {problem} (expected finite numbers up to 2^31)")
    for key in ("resolution", "truncation_cutoff"):
        value = config.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
            raise CheckpointError(f"{path}: stylegan-eval config {key} = {str(value)[:40]}: expected an integer >= 0")
    family = config.get("family")
    if not isinstance(family, str) or family not in FAMILY_LOADERS:
        raise CheckpointError(f"{path}: config family {family!r} is not one of {', '.join(FAMILY_LOADERS)}")
    if not isinstance(config.get("arch"), dict):
        raise CheckpointError(f"{path}: config 'arch' must be a JSON object")
    if not isinstance(config.get("info", {}), dict):
        raise CheckpointError(f"{path}: config 'info' must be a JSON object")
    return config


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


# ---------------------------------------------------------------------------------- format API
def detect(raw: Any) -> bool:
    return getattr(raw, "kind", None) == "safetensors"


def load(raw: Any, resolution: int | None = None, **options: Any) -> Generator:
    """Rebuild the generator described by the file's config and load its weights strictly."""
    from safetensors.torch import load_file

    path = raw.path
    if options:
        raise CheckpointError(f"{path}: unknown option(s) for safetensors files: {', '.join(sorted(options))}")
    header = read_header(path)
    config = read_config(path, header)
    family = config["family"]
    from_config = _loader(family)
    # Build on the meta device first, from meta tensors of the header's shapes: nothing the
    # config asks for is allocated unless the file holds exactly the tensors it implies.
    stored = {k: v for k, v in header.items() if k != "__metadata__"}
    try:
        with torch.device("meta"):
            probe = {k: torch.empty(v["shape"], dtype=_TORCH_DTYPES[v["dtype"]]) for k, v in stored.items()}
            expected = {k: list(v.shape) for k, v in from_config(config, probe).state_dict().items()}
    except (KeyError, TypeError, ValueError, RuntimeError, AttributeError, ArithmeticError) as exc:
        raise CheckpointError(f"{path}: tensors do not match its {family} config ({_first_line(exc)})") from None
    if {k: list(v["shape"]) for k, v in stored.items()} != expected:
        raise CheckpointError(f"{path}: tensors do not match its {family} config")
    try:
        tensors = load_file(str(path), device="cpu")
    except Exception as exc:  # noqa: BLE001 - safetensors raises several types
        raise CheckpointError(f"{path}: unreadable safetensors data ({str(exc)[:120]})") from None
    try:
        gen = from_config(config, tensors)
    except (KeyError, TypeError, ValueError, RuntimeError, AttributeError, ArithmeticError) as exc:
        raise CheckpointError(f"{path}: does not match its {family} config ({_first_line(exc)})") from None
    if resolution is not None and int(resolution) != gen.resolution:
        raise CheckpointError(f"{path}: --resolution {resolution} does not match the file's {gen.resolution}")
    return gen
