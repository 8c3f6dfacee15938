"""The openai adapter's overhead over a bare async OpenAI client at the same concurrency.

Both sides send the same streamed chat completions (the same base64 PNG images, text and
greedy settings) to the same server, at the same concurrency, alternating A/B for
``--repeats`` rounds; the figure is the ratio of median wall times (adapter / bare), measured
in one run (and of the fastest rounds, less sensitive to a busy machine). The bare side is ``AsyncOpenAI.chat.completions.create(stream=True)`` under an
``asyncio.Semaphore`` reading every chunk; the adapter side is ``OpenAIAdapter.understand`` on
one batch of all requests (its retries armed but unused, its timings recorded).

    python benchmarks/openai_overhead.py --base-url http://127.0.0.1:8000/v1 --model MODEL
    python benchmarks/openai_overhead.py --serve "transformers serve DIR --port 8000 --device cpu" \\
        --base-url http://127.0.0.1:8000/v1 --model DIR --requests 32 --concurrency 4

``--quick`` (16 requests, 3 rounds) without ``--base-url`` serves the tiny LLaVA itself with
``transformers serve`` on a free local port (the serve extra: fastapi, uvicorn):

    python benchmarks/openai_overhead.py --quick --out benchmarks/results/openai_overhead_cpu.json

Writes the figures as JSON to ``--out`` (default: print only).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

from mllmbench.adapters.openai_compat import OpenAIAdapter
from mllmbench.adapters.openai_compat.requests import chat_messages
from mllmbench.adapters.openai_compat.serve import ServerProcess
from mllmbench.core.types import GenerationSettings
from mllmbench.testing.adapter_contract import sample_requests


async def bare_round(base_url: str, model: str, messages: list, concurrency: int, max_tokens: int) -> float:
    """Wall seconds for all `messages` through a bare client at `concurrency`."""
    from openai import AsyncOpenAI

    client = AsyncOpenAI(base_url=base_url, api_key="EMPTY", max_retries=0)
    semaphore = asyncio.Semaphore(concurrency)

    async def one(message: list) -> str:
        async with semaphore:
            stream = await client.chat.completions.create(
                model=model, messages=message, stream=True, stream_options={"include_usage": True},
                max_tokens=max_tokens, temperature=0.0, seed=0,
            )  # fmt: skip
            parts = []
            async for chunk in stream:
                parts.extend(c.delta.content for c in chunk.choices if c.delta.content)
            return "".join(parts)

    start = time.perf_counter()
    await asyncio.gather(*(one(m) for m in messages))
    seconds = time.perf_counter() - start
    await client.close()
    return seconds


def measure(args: argparse.Namespace) -> dict:
    requests = [r for _ in range((args.requests + 7) // 8) for r in sample_requests(8)][: args.requests]
    settings = GenerationSettings(max_new_tokens=args.max_new_tokens)
    adapter = OpenAIAdapter(args.model, base_urls=[args.base_url], concurrency=args.concurrency)
    adapter.load()
    bare: list[float] = []
    ours: list[float] = []
    try:
        adapter.understand(requests[: args.concurrency], settings)  # warm-up, both paths share the server
        for _ in range(args.repeats):
            # the bare side encodes its images inside the timed region too, as the adapter does
            start = time.perf_counter()
            messages = [chat_messages(r.text, r.images) for r in requests]
            encode = time.perf_counter() - start
            bare.append(encode + asyncio.run(
                bare_round(args.base_url, args.model, messages, args.concurrency, args.max_new_tokens)
            ))  # fmt: skip
            start = time.perf_counter()
            adapter.understand(requests, settings)
            ours.append(time.perf_counter() - start)
    finally:
        adapter.close()
    return {
        "requests": len(requests),
        "concurrency": args.concurrency,
        "max_new_tokens": args.max_new_tokens,
        "repeats": args.repeats,
        "bare_seconds": bare,
        "adapter_seconds": ours,
        "adapter_over_bare": statistics.median(ours) / statistics.median(bare),
        "adapter_over_bare_fastest": min(ours) / min(bare),
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line; ``--quick`` without ``--base-url`` serves the tiny LLaVA itself."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", help="the server (required unless --quick)")
    parser.add_argument("--model", help="the server's model id (required with --base-url)")
    parser.add_argument("--serve", help="start this server command first (stopped at the end)")
    parser.add_argument("--quick", action="store_true", help="16 requests, 3 rounds; serves the tiny LLaVA")
    parser.add_argument("--requests", type=int)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--max-new-tokens", type=int, default=16)
    parser.add_argument("--repeats", type=int)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    if args.base_url is None and not args.quick:
        parser.error("--base-url is required (or --quick, which serves the tiny LLaVA itself)")
    if args.base_url is not None and args.model is None:
        parser.error("--model is required with --base-url (the server's model id)")
    args.requests = args.requests or (16 if args.quick else 32)
    args.repeats = args.repeats or 3
    return args


def serve_tiny_llava(args: argparse.Namespace) -> None:
    """Point `args` at a `transformers serve` of the tiny LLaVA on a free port, CPU, float32."""
    from mllmbench.engine.tiny_checkpoints import ensure_tiny

    model = ensure_tiny("llava", Path(tempfile.mkdtemp(prefix="mllmbench-openai-overhead-")) / "tiny-llava")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    cli = Path(sys.executable).with_name("transformers")
    args.serve = shlex.join([
        str(cli), "serve", str(model), "--host", "127.0.0.1", "--port", str(port),
        "--device", "cpu", "--dtype", "float32", "--log-level", "warning",
    ])  # fmt: skip
    args.base_url, args.model = f"http://127.0.0.1:{port}/v1", str(model)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.base_url is None:
        serve_tiny_llava(args)
    server = None
    if args.serve:
        server = ServerProcess(args.serve)
        server.start()
    try:
        if server is not None:
            server.wait_until_ready([args.base_url], timeout=600)
        figures = measure(args)
    finally:
        if server is not None:
            server.stop()
    figures["load_average_at_end"] = os.getloadavg()
    figures["cpu_count"] = os.cpu_count()
    text = json.dumps(figures, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
