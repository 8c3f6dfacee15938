"""The run configuration: every setting a user chooses, with its one default."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class RunConfig:
    """Everything a user chose for a run. Its hash (without output-only fields) names the run."""

    adapter: str
    model: str
    suites: tuple[str, ...]
    data_dir: str | None = None
    """Data directory for every suite that has no entry in `suite_data`."""
    suite_data: tuple[tuple[str, str], ...] = ()
    """Per-suite data directories, ``(suite, dir)`` pairs (``--data SUITE=DIR``)."""
    limit: int | None = None
    batch_size: int = 8
    device: str = "cpu"
    dtype: str = "float32"
    seed: int = 0
    max_new_tokens: int = 32
    trust_remote_code: bool = False
    steps: int | None = None
    """Image generation: denoising steps (None: the checkpoint's default)."""
    guidance: float | None = None
    """Image generation: classifier-free guidance scale (None: the checkpoint's default)."""
    temperature: float | None = None
    """Image generation: sampling temperature for token-based generators (None: default)."""
    top_k: int | None = None
    """Image generation: top-k for token-based generators (None: default)."""
    image_size: int | None = None
    """Image generation: width = height in pixels (None: the checkpoint's default)."""
    out_dir: str = ""
    fail_fast: bool = False
    response_cache: bool = False
    """Reuse responses cached by earlier runs of the same checkpoint, prompt, images and settings."""

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        d = asdict(self)
        d["suites"] = list(self.suites)
        d["suite_data"] = [list(p) for p in self.suite_data]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunConfig:
        """Inverse of `to_dict` (unknown keys from other versions are ignored)."""
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        known["suites"] = tuple(known.get("suites", ()))
        known["suite_data"] = tuple(tuple(p) for p in known.get("suite_data", ()))
        return cls(**known)

    def identity(self) -> dict[str, Any]:
        """The fields that change results (output location and failure policy excluded)."""
        d = self.to_dict()
        for k in ("out_dir", "fail_fast", "response_cache"):
            d.pop(k)
        return d
