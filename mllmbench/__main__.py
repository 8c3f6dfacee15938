"""`python -m mllmbench` is the same as the `mllm-bench` command."""

from mllmbench.cli.main import main

if __name__ == "__main__":
    raise SystemExit(main())
