"""``openai``: any OpenAI-compatible chat-completions server (vLLM, SGLang, transformers serve, an API).

``mllm-bench run --adapter openai --model MODEL_ID --base-url URL [--base-url URL2 ...]``. Each
request is one user turn, images first as base64 PNG data URLs, sent streamed with greedy
settings (``temperature=0``, the run's ``max_new_tokens`` and seed). Up to ``--concurrency``
requests are in flight at once, spread round-robin over the servers; a failed attempt is retried
(`requests.with_retries`) on the next server. A request that fails on every attempt becomes that
sample's error: the runner logs it, the exit code is 1, and re-running the command retries it.

Timing comes from the stream: the base64 encoding is the preprocessing, the first content chunk
is the first token (TTFT), the later chunks the decode steps (TPOT, inter-token latency). A
server sends one chunk per token as a rule (vLLM, SGLang, transformers serve), but may merge or
hold back tokens (an incomplete UTF-8 character), so the per-token times are per chunk.
Token counts come from the server's ``usage``; the image-token count is unknown (0).
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from typing import Any, ClassVar

from mllmbench.adapters.base import Adapter
from mllmbench.adapters.openai_compat import requests as oai
from mllmbench.adapters.openai_compat.serve import ServerProcess, answers
from mllmbench.core.config import RunConfig
from mllmbench.core.errors import ConfigError
from mllmbench.core.types import (
    AdapterInfo,
    Capability,
    Connector,
    GenerationProfile,
    GenerationSettings,
    Paradigm,
    UnderstandRequest,
    UnderstandResponse,
    Usage,
)

log = logging.getLogger(__name__)

SERVE_READY_SECONDS = 600.0
"""How long ``--serve`` waits for a server to answer (large models load for minutes)."""


class OpenAIAdapter(Adapter):
    """Images + text -> text through OpenAI-compatible servers, streamed, concurrent, retried."""

    name: ClassVar[str] = "openai"
    description: ClassVar[str] = (
        "OpenAI-compatible chat-completions servers (vLLM, SGLang, transformers serve)"
    )
    capabilities: ClassVar[Capability] = Capability.UNDERSTAND
    connector: ClassVar[Connector] = Connector.NONE
    tiny_recipe_reason: ClassVar[str | None] = (
        "talks to a server; test it against `transformers serve` on another adapter's tiny checkpoint"
    )

    def __init__(
        self,
        model: str,
        *,
        device: str = "cpu",
        dtype: str = "float32",
        trust_remote_code: bool = False,
        base_urls: Sequence[str] = (),
        api_key_env: str | None = None,
        concurrency: int = 4,
        request_timeout: float = 60.0,
        max_retries: int = 3,
        serve: str | None = None,
        stream: bool = True,
    ) -> None:
        super().__init__(model, device=device, dtype=dtype, trust_remote_code=trust_remote_code)
        self.base_urls = [url.rstrip("/") for url in base_urls]
        self.api_key_env = api_key_env
        self.concurrency = concurrency
        self.request_timeout = request_timeout
        self.max_retries = max_retries
        self.serve_command = serve
        self.stream = stream
        """Stream answers (per-token times); False: whole answers (Python API only, see `plain_completion`)."""
        self._server: ServerProcess | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._clients: list[Any] = []
        self._next = 0
        self._outcomes: dict[tuple[str, str], tuple[Any, float]] = {}
        """Results of the last batch that had a failure, for the runner's one-by-one retry."""

    @classmethod
    def from_config(cls, config: RunConfig, *, device: str) -> OpenAIAdapter:
        """The adapter with the run's server options (``--base-url`` ... ``--serve``)."""
        return cls(
            config.model,
            device=device,
            dtype=config.dtype,
            base_urls=config.base_urls,
            api_key_env=config.api_key_env,
            concurrency=config.concurrency,
            request_timeout=config.request_timeout,
            max_retries=config.max_retries,
            serve=config.serve,
        )

    # --- lifecycle -------------------------------------------------------------------------
    def load(self) -> None:
        """Start the ``--serve`` command if any, wait for the servers, make the clients, record `info`.

        Raises:
            ConfigError: no ``--base-url``, an unset ``--api-key-env`` variable, a server that
                does not answer, or a model id the server does not list.
        """
        if not self.base_urls:
            raise ConfigError("adapter 'openai' needs --base-url URL (e.g. http://127.0.0.1:8000/v1)")
        if not self.model_id:
            raise ConfigError("adapter 'openai' needs --model: the model id the server serves")
        api_key = self._api_key()
        if self.serve_command:
            self._server = ServerProcess(self.serve_command)
            self._server.start()
        try:
            if self._server is not None:
                self._server.wait_until_ready(self.base_urls, SERVE_READY_SECONDS)
            self._start_loop(api_key)
            listed = self._submit(self._served_models()).result()
            self._info = self._build_info(listed)
        except BaseException:
            self.close()
            raise
        log.info("openai adapter: %s on %s", self.model_id, ", ".join(self.base_urls))

    def _api_key(self) -> str:
        if self.api_key_env is None:
            return os.environ.get("OPENAI_API_KEY", "EMPTY")
        key = os.environ.get(self.api_key_env)
        if not key:
            raise ConfigError(f"--api-key-env {self.api_key_env}: that environment variable is not set")
        return key

    def _start_loop(self, api_key: str) -> None:
        """An event loop in a daemon thread (clients stay bound to it), one client per server."""
        from openai import AsyncOpenAI

        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name="openai-adapter", daemon=True)
        self._thread.start()

        async def make() -> list[Any]:
            return [
                AsyncOpenAI(base_url=url, api_key=api_key, timeout=self.request_timeout, max_retries=0)
                for url in self.base_urls
            ]

        self._clients = self._submit(make()).result()

    def _submit(self, coroutine: Any) -> Future[Any]:
        loop = self._require_loaded(self._loop)
        return asyncio.run_coroutine_threadsafe(coroutine, loop)

    async def _served_models(self) -> list[str]:
        """The model ids every server lists (``GET /v1/models``)."""
        ids: list[str] = []
        for url, client in zip(self.base_urls, self._clients, strict=True):
            try:
                page = await client.models.list()
            except Exception as exc:  # noqa: BLE001 - turned into one clear message
                raise ConfigError(
                    f"server {url} does not answer GET /models: {type(exc).__name__}: {exc}"
                ) from exc
            served = [m.id for m in page.data]
            if self.model_id not in served:
                raise ConfigError(
                    f"server {url} does not serve model {self.model_id!r}; it lists: {', '.join(served) or 'none'}"
                )
            ids.extend(served)
        return ids

    def _build_info(self, listed: list[str]) -> AdapterInfo:
        return AdapterInfo(
            name=self.name,
            checkpoint=self.model_id,
            checkpoint_hash=None,
            dtype=self.dtype,
            device="server: " + ", ".join(self.base_urls),
            capabilities=self.capabilities,
            paradigm=Paradigm(family=self.name, connector=self.connector),
            model_class="openai-compatible server",
            processor_class="",
            chat_template=None,
            batching=f"concurrent requests (at most {self.concurrency} in flight)",
        )

    def close(self) -> None:
        """Close the clients, stop the loop, stop the ``--serve`` server; idempotent."""
        loop, self._loop = self._loop, None
        if loop is not None:
            clients, self._clients = self._clients, []

            async def shut() -> None:
                for client in clients:
                    await client.close()
                for task in asyncio.all_tasks():
                    if task is not asyncio.current_task():
                        task.cancel()

            try:
                asyncio.run_coroutine_threadsafe(shut(), loop).result(timeout=10)
            except Exception as exc:  # noqa: BLE001 - closing must not mask the run's own error
                log.debug("closing the openai clients: %s", exc)
            loop.call_soon_threadsafe(loop.stop)
            if self._thread is not None:
                self._thread.join(timeout=10)
            loop.close()
        if self._server is not None:
            self._server.stop()
            self._server = None
        super().close()

    # --- understanding ---------------------------------------------------------------------
    def understand(
        self, batch: Sequence[UnderstandRequest], settings: GenerationSettings
    ) -> list[UnderstandResponse]:
        """Answer `batch` with concurrent streamed requests; one response per request, in order.

        When a request fails after its retries this raises its `RequestFailed`; the runner then
        calls again one request at a time, and those calls return the answers (or raise the
        errors) this batch already got, without sending anything twice.
        """
        if not batch:
            return []
        keys = [(request.sample_id, request.text) for request in batch]
        if len(batch) == 1 and keys[0] in self._outcomes:
            outcome, prep = self._outcomes.pop(keys[0])
            if isinstance(outcome, BaseException):
                raise outcome
            return [self._response(batch[0], outcome, 0.0, 1, prep)]
        self._outcomes.clear()
        start = time.perf_counter()
        results = self._submit(self._gather(batch, settings)).result()
        seconds = time.perf_counter() - start
        failures = [r for r in results if isinstance(r[0], BaseException)]
        if failures:
            self._outcomes = dict(zip(keys, results, strict=True))
            raise failures[0][0]
        return [
            self._response(request, answer, seconds, len(batch), prep)
            for request, (answer, prep) in zip(batch, results, strict=True)
        ]

    async def _gather(
        self, batch: Sequence[UnderstandRequest], settings: GenerationSettings
    ) -> list[tuple[Any, float]]:
        semaphore = asyncio.Semaphore(self.concurrency)
        params = self._params(settings)

        async def one(request: UnderstandRequest) -> tuple[Any, float]:
            async with semaphore:
                prep_start = time.perf_counter()
                messages = oai.chat_messages(request.text, request.images)
                prep = time.perf_counter() - prep_start
                first = self._next
                self._next += 1

                async def attempt(k: int) -> oai.StreamedAnswer:
                    client = self._clients[(first + k) % len(self._clients)]
                    send = oai.stream_completion if self.stream else oai.plain_completion
                    return await send(client, self.model_id, messages, params)

                try:
                    answer = await oai.with_retries(
                        attempt,
                        max_retries=self.max_retries,
                        describe=lambda k: self.base_urls[(first + k) % len(self.base_urls)],
                    )
                except oai.RequestFailed as exc:
                    return exc, prep
                return answer, prep

        return list(await asyncio.gather(*(one(request) for request in batch)))

    def _params(self, settings: GenerationSettings) -> dict[str, Any]:
        params: dict[str, Any] = {"max_tokens": settings.max_new_tokens, "seed": settings.seed}
        if settings.do_sample:
            params["temperature"] = settings.temperature
        else:
            params["temperature"] = 0.0
        return params

    def _response(
        self, request: UnderstandRequest, answer: oai.StreamedAnswer, seconds: float, size: int, prep: float
    ) -> UnderstandResponse:
        chunks = answer.chunk_seconds
        n_out = answer.completion_tokens if answer.completion_tokens is not None else len(chunks)
        first = chunks[0] if chunks else answer.total_seconds
        return UnderstandResponse(
            text=answer.text.strip(),
            prompt=oai.prompt_record(request.text, len(request.images)),
            usage=Usage(
                input_tokens=answer.prompt_tokens or 0,
                output_tokens=n_out,
                image_tokens=0,
                batch_seconds=seconds or answer.total_seconds,
                batch_size=size,
                profile=GenerationProfile(
                    preprocess_seconds=prep,
                    prefill_seconds=first,
                    decode_seconds=answer.total_seconds - first,
                    vision_seconds=None,
                    token_seconds=chunks,
                    clock="perf_counter",
                ),
            ),
        )


def server_answers(base_url: str) -> bool:
    """Whether a server answers ``GET /v1/models`` at `base_url` now (for scripts and tests)."""
    return answers(base_url)
