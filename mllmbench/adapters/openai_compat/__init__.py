"""The ``openai`` adapter: OpenAI-compatible chat-completions servers (see `adapter`)."""

from mllmbench.adapters.openai_compat.adapter import OpenAIAdapter

__all__ = ["OpenAIAdapter"]
