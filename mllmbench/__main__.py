"""`python -m mllmbench` is the same as the `mllm-bench` command."""

from mllmbench.bench.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
