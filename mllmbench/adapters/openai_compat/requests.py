"""One chat-completion request to an OpenAI-compatible server: streamed, timed, retried.

`chat_messages` turns a request into chat messages (images first, as base64 PNG data URLs,
then the text); `stream_completion` sends them with ``stream=True`` and records when each
content chunk arrived, and `with_retries` repeats a failed attempt with exponential backoff
and full jitter (tenacity) on connection errors, timeouts, 429 and 5xx, each attempt on the
next server of the pool. A request that still fails raises `RequestFailed`.
"""

from __future__ import annotations

import base64
import io
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from PIL.Image import Image

BACKOFF_SECONDS = 0.5
"""First backoff ceiling; it doubles per retry (full jitter: a uniform wait below the ceiling)."""
BACKOFF_MAX_SECONDS = 8.0
"""Largest wait between two attempts."""


class RequestFailed(Exception):
    """A request failed on every attempt; the message names the server, attempts and last error."""


@dataclass(frozen=True)
class StreamedAnswer:
    """What one successful streamed request returned."""

    text: str
    chunk_seconds: tuple[float, ...]
    """When each content chunk arrived, in seconds since the request was sent."""
    total_seconds: float
    """Request sent to the end of the stream."""
    prompt_tokens: int | None
    completion_tokens: int | None
    model: str
    base_url: str
    attempts: int


def image_data_url(image: Image) -> str:
    """A lossless ``data:image/png;base64,...`` URL of `image` (the server decodes the same pixels)."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def chat_messages(text: str, images: Sequence[Image]) -> list[dict[str, Any]]:
    """One user turn: the images first (as the local adapters' chat templates place them), then the text."""
    content: list[dict[str, Any]] = [
        {"type": "image_url", "image_url": {"url": image_data_url(image)}} for image in images
    ]
    content.append({"type": "text", "text": text})
    return [{"role": "user", "content": content}]


def prompt_record(text: str, n_images: int) -> str:
    """The prompt as recorded on the sample line: the user turn, ``<image>`` for each image."""
    return "".join("<image>" for _ in range(n_images)) + text


async def stream_completion(
    client: Any, model: str, messages: list[dict[str, Any]], params: dict[str, Any]
) -> StreamedAnswer:
    """Send one streamed chat completion and read it to the end (usage from the last chunk)."""
    start = time.perf_counter()
    stream = await client.chat.completions.create(
        model=model,
        messages=messages,
        stream=True,
        stream_options={"include_usage": True},
        **params,
    )
    parts: list[str] = []
    arrivals: list[float] = []
    usage = None
    served_model = model
    async with stream:
        async for chunk in stream:
            served_model = chunk.model or served_model
            if chunk.usage is not None:
                usage = chunk.usage
            for choice in chunk.choices:
                if choice.delta.content:
                    arrivals.append(time.perf_counter() - start)
                    parts.append(choice.delta.content)
    return StreamedAnswer(
        text="".join(parts),
        chunk_seconds=tuple(arrivals),
        total_seconds=time.perf_counter() - start,
        prompt_tokens=usage.prompt_tokens if usage is not None else None,
        completion_tokens=usage.completion_tokens if usage is not None else None,
        model=served_model,
        base_url=str(client.base_url),
        attempts=1,
    )


async def plain_completion(
    client: Any, model: str, messages: list[dict[str, Any]], params: dict[str, Any]
) -> StreamedAnswer:
    """One chat completion without streaming: the server's full decoded text, no per-token times.

    A streamed answer lacks an incomplete UTF-8 character at its very end (streaming
    detokenizers hold such bytes back until the character completes, and it never does); the
    whole answer decoded at once has it as U+FFFD, like a local adapter's.
    """
    start = time.perf_counter()
    response = await client.chat.completions.create(
        model=model,
        messages=messages,
        **params,
    )
    seconds = time.perf_counter() - start
    usage = response.usage
    return StreamedAnswer(
        text="".join(choice.message.content or "" for choice in response.choices[:1]),
        chunk_seconds=(),
        total_seconds=seconds,
        prompt_tokens=usage.prompt_tokens if usage is not None else None,
        completion_tokens=usage.completion_tokens if usage is not None else None,
        model=response.model or model,
        base_url=str(client.base_url),
        attempts=1,
    )


def is_retryable(exc: BaseException) -> bool:
    """Connection errors, timeouts, 408/409/429 and 5xx answers, and streams cut mid-way."""
    import openai

    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in (408, 409, 429) or exc.status_code >= 500
    if isinstance(exc, (openai.APIConnectionError, openai.APITimeoutError)):
        return True
    # A stream cut mid-way raises the HTTP library's own error (httpx, or httpx2 in recent openai).
    return any(cls.__name__ in ("TransportError", "StreamError") for cls in type(exc).__mro__)


async def with_retries(
    attempt: Callable[[int], Awaitable[StreamedAnswer]], *, max_retries: int, describe: Callable[[int], str]
) -> StreamedAnswer:
    """Run ``attempt(k)`` for k = 0, 1, ... until it succeeds or `max_retries` retries are spent.

    Raises:
        RequestFailed: the last attempt failed or the error is not retryable (4xx other than
            408/409/429: a bad request is not sent again).
    """
    from tenacity import (
        AsyncRetrying,
        RetryError,
        retry_if_exception,
        stop_after_attempt,
        wait_random_exponential,
    )

    retrying = AsyncRetrying(
        stop=stop_after_attempt(max_retries + 1),
        wait=wait_random_exponential(multiplier=BACKOFF_SECONDS, max=BACKOFF_MAX_SECONDS),
        retry=retry_if_exception(is_retryable),
        reraise=False,
    )
    number = 0
    try:
        async for state in retrying:
            with state:
                number = state.retry_state.attempt_number
                answer = await attempt(number - 1)
                return StreamedAnswer(**{**answer.__dict__, "attempts": number})
    except RetryError as exc:
        last = exc.last_attempt.exception()
        raise RequestFailed(
            f"no answer after {number} attempt(s), last on {describe(number - 1)}: "
            f"{type(last).__name__}: {last}"
        ) from last
    except Exception as exc:  # a non-retryable answer (400, 401, 404...): report it as it is
        raise RequestFailed(
            f"{describe(number - 1)} refused the request: {type(exc).__name__}: {exc}"
        ) from exc
    raise AssertionError("unreachable: tenacity neither returned nor raised")
