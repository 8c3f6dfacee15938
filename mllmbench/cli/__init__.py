"""The `mllm-bench` command line, on top of every other layer."""
