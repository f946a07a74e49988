"""One module per subcommand, each exposing ``command`` (a click command).

The CLI module registers them all at import; importing it first here means that importing a
command module directly (``stylegan_eval.commands.fid``) never meets a half-initialised CLI.
"""

from .. import cli as _cli  # noqa: F401
