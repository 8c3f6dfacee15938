"""The adapter interface: one class per model family, the same calls for every paradigm.

An adapter wraps a model family (LLaVA, BLIP-2, Mllama, ...) behind batched calls:

* understanding: images + prompt -> text (`Adapter.understand`);
* generation: prompt -> images (`Adapter.generate_images`), each request with its own seed.

Constructing an adapter is cheap and never touches weights; `load()` does the heavy work.
Every adapter declares its capabilities and its paradigm (how vision meets language), and the
runner checks capabilities before any weights are loaded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from mllmbench.core.config import RunConfig
from mllmbench.core.types import (
    AdapterInfo,
    Capability,
    Connector,
    GenerateRequest,
    GenerateResponse,
    GenerateUsage,
    GenerationParadigm,
    GenerationProfile,
    GenerationSettings,
    ImageGenerationSettings,
    Paradigm,
    UnderstandRequest,
    UnderstandResponse,
    Usage,
    derive_seed,
)

T = TypeVar("T")

__all__ = [
    "Adapter",
    "AdapterInfo",
    "Capability",
    "Connector",
    "GenerateRequest",
    "GenerateResponse",
    "GenerateUsage",
    "GenerationParadigm",
    "GenerationProfile",
    "GenerationSettings",
    "ImageGenerationSettings",
    "Paradigm",
    "PreparedBatch",
    "UnderstandRequest",
    "UnderstandResponse",
    "Usage",
    "derive_seed",
]


@dataclass(frozen=True)
class PreparedBatch:
    """A batch of understanding requests made ready for the model ahead of time (`Adapter.prepare`).

    The pipelined engine prepares the next batch in a worker thread while the current one
    generates. `inputs` is the adapter's own (the processor outputs, for the transformers
    adapters); None means nothing was prepared ahead and `Adapter.understand_prepared` does all
    the work in `Adapter.understand`.
    """

    requests: tuple[UnderstandRequest, ...]
    inputs: Any = None
    """Model inputs built from the requests (None: nothing prepared ahead)."""
    prompts: tuple[str, ...] = ()
    """The rendered prompt of each request (empty when `inputs` is None)."""
    preprocess_seconds: float = 0.0
    """Wall time of the preparation (chat template, processor, copy to the device)."""


class Adapter:
    """Base class for every adapter. Subclasses set the class variables and implement `load`.

    Subclasses implement `understand` (and/or `generate_images`) and, to support
    ``mllm-bench tiny FAMILY`` and the adapter contract test, the classmethod `build_tiny`
    (built-in families delegate to their recipe in `mllmbench.adapters.tiny`). An adapter that
    cannot have a tiny checkpoint says why in `tiny_recipe_reason`.
    """

    name: ClassVar[str] = ""
    """Registry name, equal to the entry-point name."""
    capabilities: ClassVar[Capability] = Capability.NONE
    description: ClassVar[str] = ""
    connector: ClassVar[Connector] = Connector.NONE
    generation: ClassVar[GenerationParadigm] = GenerationParadigm.NONE
    tiny_recipe_reason: ClassVar[str | None] = None
    """Why this adapter has no `build_tiny` recipe (e.g. it talks to a server); ``None`` when it has one.

    The contract test over every registered adapter fails for an adapter with neither."""

    def __init__(
        self,
        model: str,
        *,
        device: str = "cpu",
        dtype: str = "float32",
        trust_remote_code: bool = False,
    ) -> None:
        self.model_id = model
        self.device = device
        self.dtype = dtype
        self.trust_remote_code = trust_remote_code
        self._info: AdapterInfo | None = None

    @classmethod
    def from_config(cls, config: RunConfig, *, device: str) -> Adapter:
        """The adapter a run uses; adapters with options of their own (a server's URL, a prompt
        format) override this to read them from `config`."""
        return cls(
            config.model, device=device, dtype=config.dtype, trust_remote_code=config.trust_remote_code
        )

    # --- lifecycle -------------------------------------------------------------------------
    def load(self) -> None:
        """Load weights and processor; called once by the runner, after capability checks."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the model (override when there is more to free than attributes)."""
        self._info = None

    def _synchronize(self) -> None:
        """Wait for queued GPU work, so a timing taken next covers it (nothing to wait for on a CPU)."""
        if self.device.startswith("cuda"):
            import torch

            torch.cuda.synchronize(self.device)

    def _require_loaded(self, value: T | None) -> T:
        """`value` once `load` has set it; a clear error before that."""
        if value is None:
            raise RuntimeError(f"adapter {self.name!r} is not loaded; call load() first")
        return value

    @property
    def info(self) -> AdapterInfo:
        """Provenance and paradigm of the loaded model."""
        return self._require_loaded(self._info)

    # --- capabilities ----------------------------------------------------------------------
    def understand(
        self, batch: Sequence[UnderstandRequest], settings: GenerationSettings
    ) -> list[UnderstandResponse]:
        """Answer a batch of requests; one response per request, in order."""
        raise NotImplementedError(f"adapter {self.name!r} does not support understanding")

    def prepare(self, batch: Sequence[UnderstandRequest]) -> PreparedBatch:
        """The part of `understand` that needs no model call (prompt rendering, the processor).

        The engine calls it from a worker thread, so it must not touch what `understand_prepared`
        changes. The default prepares nothing: `understand_prepared` then calls `understand`, so
        an adapter without the split still runs, only without the overlap.
        """
        return PreparedBatch(tuple(batch))

    def understand_prepared(
        self, prepared: PreparedBatch, settings: GenerationSettings
    ) -> list[UnderstandResponse]:
        """Answer a batch made by `prepare`; the same responses as `understand` on its requests."""
        return self.understand(prepared.requests, settings)

    def generate_images(
        self, batch: Sequence[GenerateRequest], settings: ImageGenerationSettings
    ) -> list[GenerateResponse]:
        """Draw images for a batch of prompts; one response per request, in order."""
        raise NotImplementedError(f"adapter {self.name!r} does not support image generation")

    # --- tiny checkpoints ------------------------------------------------------------------
    @classmethod
    def build_tiny(cls, out_dir: Path, *, seed: int = 0) -> Path:
        """Write a tiny random checkpoint of this family to `out_dir` with `save_pretrained`."""
        raise NotImplementedError(f"adapter {cls.name!r} has no tiny checkpoint recipe")

    @classmethod
    def has_tiny_recipe(cls) -> bool:
        """Whether this class (or a base below `Adapter`) overrides `build_tiny`."""
        return cls.__dict__.get("build_tiny") is not None or any(
            "build_tiny" in vars(base)
            for base in cls.__mro__[1:]
            if base is not Adapter and issubclass(base, Adapter)
        )
