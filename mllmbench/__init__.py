"""mllm-bench: a benchmark and comparison harness for multimodal LLM paradigms.

Importing this package is cheap: no torch, no transformers, no registration.
"""

__version__ = "0.1.0"
