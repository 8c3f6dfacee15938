"""A response cache across runs, so a changed metric or suite version need not run the model again.

Keyed by what determines a greedy response: the checkpoint identity (weights hash of a local
directory, or the hub id), the adapter and its chat template, the dtype, the suite's prompt text,
the image bytes and the generation settings. Entries are JSON files under
``<cache_root>/responses/``, written atomically; nothing is ever unpickled.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from mllmbench.core import hashing, jsonio
from mllmbench.core.errors import InputError
from mllmbench.core.types import AdapterInfo, GenerationSettings, UnderstandResponse, Usage

log = logging.getLogger(__name__)

SCHEMA = 1


def file_sha256(path: str | Path) -> str:
    """sha256 of a file's bytes."""
    return hashing.file_sha256(path)


class ResponseCache:
    """Understanding responses stored by request identity."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.hits = 0
        self.misses = 0

    def key(
        self, info: AdapterInfo, text: str, image_paths: tuple[str, ...], settings: GenerationSettings
    ) -> str:
        """The identity of one request for one checkpoint."""
        ident = {
            "schema": SCHEMA,
            "adapter": info.name,
            "checkpoint": info.checkpoint_hash or info.checkpoint,
            "dtype": info.dtype,
            "chat_template": info.chat_template,
            "text": text,
            "images": [file_sha256(p) for p in image_paths],
            "settings": settings.to_dict(),
        }
        return hashing.json_sha256(ident, ensure_ascii=False)

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> UnderstandResponse | None:
        """The cached response, or None (a damaged entry counts as a miss and is logged)."""
        path = self._path(key)
        if not path.exists():
            self.misses += 1
            return None
        try:
            d: dict[str, Any] = jsonio.read_json(path, what="cached response")
            u = d["usage"]
            usage = Usage(
                u["input_tokens"], u["output_tokens"], u["image_tokens"], u["batch_seconds"], u["batch_size"]
            )
            response = UnderstandResponse(text=d["text"], prompt=d["prompt"], usage=usage)
        except (InputError, KeyError, TypeError) as exc:
            log.warning("ignoring a damaged response-cache entry %s: %s", path, exc)
            self.misses += 1
            return None
        self.hits += 1
        return response

    def put(self, key: str, response: UnderstandResponse) -> None:
        """Store one response (atomic write)."""
        jsonio.write_json_atomic(
            self._path(key),
            {"text": response.text, "prompt": response.prompt, "usage": response.usage.to_dict()},
        )
