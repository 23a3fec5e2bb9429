"""One module per ``mmfuse`` subcommand: ``add_arguments(parser)`` and ``run(args) -> int``."""
