"""One module per `python -m lib <command>`: each has `add_arguments(parser)` and `run(args) -> int`."""
