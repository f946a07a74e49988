"""One module per subcommand, each exposing ``command`` (a click command).

The CLI (:mod:`stylegan_eval.cli`) imports a command's module when that command is invoked or
listed, never all of them up front. Importing the CLI first here means that importing a
command module directly (``stylegan_eval.commands.fid``) never meets a half-initialised CLI.
"""

from .. import cli as _cli  # noqa: F401
