"""One module per ``mmfuse`` subcommand: ``add_arguments(parser)`` and ``run(args) -> int``.

Each also has ``EXAMPLES`` (command lines, one a line, shown at the end of its ``--help``) and
may have ``DESCRIPTION`` (the ``--help`` text, when the module's docstring is for developers).
"""


def examples_epilog(examples: str) -> str | None:
    """A ``--help``'s closing "examples:" block from command lines, one a line."""
    lines = [line for line in examples.strip().splitlines() if line.strip()]
    return "examples:\n" + "\n".join(f"  {line}" for line in lines) if lines else None
