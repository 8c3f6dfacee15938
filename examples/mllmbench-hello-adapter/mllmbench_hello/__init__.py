"""An example third-party package that adds an adapter to mllm-bench through an entry point."""
