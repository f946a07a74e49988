"""One module per subcommand, each exposing ``command`` (a click command).

The CLI (:mod:`stylegan_eval.cli`) imports a command's module when that command is invoked or
listed, never all of them up front. What several commands share (the common options,
:class:`~stylegan_eval.commands.options.RunOptions`, :func:`~stylegan_eval.commands.options.emit`)
is in :mod:`.options`; commands never import the CLI.
"""
