"""One module per `mllm-bench` subcommand: ``add_arguments(parser)`` and ``run(args) -> int``."""
