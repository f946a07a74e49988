"""Every CLI flag has one declaration: the same help, type/choices and default wherever it appears.

The walk covers every command of the ``stylegan-eval`` group, the lazily imported ones and those
of nested groups (``weights list`` ...). :data:`DIFFERENT_MEANINGS` lists the flags that
legitimately mean different things in different commands, each with its reason; the list can only
shrink (a test fails once an entry has become consistent).
"""

from __future__ import annotations

from collections import defaultdict

import click
import pytest

from stylegan_eval.cli import cli

#: flag -> why its commands declare it differently.
DIFFERENT_MEANINGS = {
    "--out": "the help names the files each command writes; plot writes its figures to the current folder by default",
    "--out-file": "the one file a command writes: a grid (generate), a figure (mix), the statistics (stats)",
    "--num-samples": "what is counted differs: pairs (ppl), samples (separability), generated images (fid), "
    "every metric's override (compare, calc, track), pairs per variant (demo); so do the defaults",
    "--num-gen": "the alias of --num-samples (see there)",
    "--psi": "truncation takes the list of its figure's rows; elsewhere one truncation value",
    "--seeds": "each figure takes another count: a grid (generate, 0-15), columns (truncation, 1-16), figures "
    "(variation, 1-8)",
    "--cols": "generate: images per grid row; mix: the source seeds of the top row",
    "--indices": "generate: a list of sample indices instead of --seeds; mix: a switch that reads --rows/--cols "
    "as indices",
    "--force": "what is replaced: convert's OUT, the --out-file of generate/mix, the cached copy of weights download",
    "--noise-mode": "the figure commands default to the checkpoint's constant noise (gen_images.py); the metrics "
    "to per-sample noise (their protocols)",
    "--space": "ppl walks one space; separability fits one or both (z,w)",
    "--fail-if": "the rule grammar differs: calc has no baseline, compare regresses against the first checkpoint, "
    "track against the run's best",
    "--metrics": "plot filters the outputs of existing reports; compare, calc and track choose what runs",
    "--data": "stats: another name of its IMAGES argument (the images summarised), not the real side of a metric",
}


def _commands(group: click.Group, ctx: click.Context, prefix: str = ""):
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        assert cmd is not None, name
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, click.Context(cmd, parent=ctx, info_name=name), f"{prefix}{name} ")
        else:
            yield f"{prefix}{name}", cmd


def _type(param: click.Parameter) -> str:
    """The type as the user meets it: its class, choices, bounds and path kinds."""
    t = param.type
    text = type(t).__name__
    if isinstance(t, click.Choice):
        text += f"{sorted(map(str, t.choices))} case_sensitive={t.case_sensitive}"
    if isinstance(t, (click.IntRange, click.FloatRange)):
        text += f"[{t.min}, {t.max}] open=({t.min_open}, {t.max_open})"
    if isinstance(t, click.Path):
        text += f" file_okay={t.file_okay} dir_okay={t.dir_okay} exists={t.exists}"
    return text


def _signature(opt: click.Option) -> tuple:
    """What must agree between two declarations of a flag (a required option's default never applies)."""
    default = None if opt.required else repr(opt.default)
    return (opt.name, tuple(sorted(opt.opts)), tuple(opt.secondary_opts), opt.help, _type(opt), default, opt.multiple)


@pytest.fixture(scope="module")
def declarations() -> dict[str, dict[tuple, list[str]]]:
    """flag -> {signature: commands declaring it so}."""
    out: dict[str, dict[tuple, list[str]]] = defaultdict(lambda: defaultdict(list))
    ctx = click.Context(cli, info_name="stylegan-eval")
    commands = list(_commands(cli, ctx))
    assert {"compare", "calc", "separability", "ppl", "fid", "stats", "weights download"} <= {n for n, _ in commands}
    for name, cmd in commands:
        for param in cmd.params:
            if isinstance(param, click.Option):
                for flag in (*param.opts, *param.secondary_opts):
                    out[flag][_signature(param)].append(name)
    return out


def test_every_flag_reads_the_same_in_every_command(declarations):
    differing = {
        flag: {", ".join(cmds): sig[3] for sig, cmds in by_sig.items()}
        for flag, by_sig in declarations.items()
        if len(by_sig) > 1 and flag not in DIFFERENT_MEANINGS
    }
    assert not differing, f"flags declared differently (declare each once, in commands/*_options.py): {differing}"


def test_the_list_of_different_meanings_is_not_stale(declarations):
    consistent = [f for f in DIFFERENT_MEANINGS if len(declarations.get(f, {})) < 2]
    assert not consistent, f"now declared once: remove from DIFFERENT_MEANINGS: {consistent}"
    assert all(reason.strip() for reason in DIFFERENT_MEANINGS.values())


def test_shared_protocol_flags_are_offered_where_their_metric_runs(declarations):
    """The metric options of compare/calc/track are the dedicated commands' own declarations."""
    shared = {
        "--distance": "ppl",
        "--lpips-weights": "ppl",
        "--attr": "separability",
        "--classifier": "separability",
        "--svm": "separability",
        "--detector": "fid",
        "--inception-weights": "fid",
        "--fid-method": "fid",
        "--format": "ppl",
    }
    for flag, dedicated in shared.items():
        (commands,) = declarations[flag].values()
        assert {dedicated, "compare", "calc", "track"} <= set(commands), flag
