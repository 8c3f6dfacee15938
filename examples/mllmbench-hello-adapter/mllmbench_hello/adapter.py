"""`hello_llava`: the LLaVA family with a different prompt wrapper, registered from outside mllm-bench.

Everything that is LLaVA (loading, chat template, image placement, batching, token counts, the
tiny checkpoint) is inherited from `mllmbench.adapters.llava.LlavaAdapter`; this package only
changes how the suite's text is wrapped before LLaVA's chat template is applied. So a
llava-1.5 checkpoint sees ``USER: <image>\\nHello! Look at the picture carefully. {text} ASSISTANT:``.
"""

from __future__ import annotations

from typing import ClassVar

from mllmbench.adapters.llava import LlavaAdapter

PROMPT_WRAPPER = "Hello! Look at the picture carefully. {text}"
"""Wraps the suite's text; the suite's wording stays inside, unchanged."""


class HelloLlavaAdapter(LlavaAdapter):
    """LLaVA with `PROMPT_WRAPPER` around the task text (same connector, same checkpoints)."""

    name: ClassVar[str] = "hello_llava"
    description: ClassVar[str] = "Example plugin: LLaVA with a friendly prompt wrapper"

    def render_prompt(self, text: str, n_images: int) -> str:
        """LLaVA's chat template applied to the wrapped text."""
        return super().render_prompt(PROMPT_WRAPPER.format(text=text), n_images)
