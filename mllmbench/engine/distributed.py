"""Data-parallel runs under ``torchrun``: each rank takes a shard, rank 0 scores the whole set.

``torchrun --nproc-per-node N -m mllmbench run ...`` sets RANK / WORLD_SIZE / LOCAL_RANK; the
process group uses gloo on the CPU and nccl on CUDA. Without those variables everything here is
a no-op and the run is single-process.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Dist:
    """This process's place in the run."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        """True when running under torchrun with more than one process."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0 writes run.json and computes corpus metrics."""
        return self.rank == 0

    def shard(self, items: list[T]) -> list[T]:
        """This rank's share: contiguous blocks, so every rank gets a similar amount of work."""
        if not self.enabled:
            return items
        n = len(items)
        start = n * self.rank // self.world_size
        stop = n * (self.rank + 1) // self.world_size
        return items[start:stop]

    def device_for(self, device: str) -> str:
        """`cuda` becomes `cuda:<local_rank>` so each rank uses its own GPU."""
        if self.enabled and device == "cuda":
            return f"cuda:{self.local_rank}"
        return device


def from_env() -> Dist:
    """Read torchrun's variables (defaults: a single process)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist()
    return Dist(int(os.environ.get("RANK", "0")), world, int(os.environ.get("LOCAL_RANK", "0")))


def init(dist: Dist, device: str) -> None:
    """Start the process group (gloo for CPU, nccl for CUDA) when running data-parallel."""
    if not dist.enabled:
        return
    import torch.distributed as tdist

    if not tdist.is_initialized():
        backend = "nccl" if device.startswith("cuda") else "gloo"
        if backend == "nccl":
            import torch

            torch.cuda.set_device(dist.local_rank)
        tdist.init_process_group(backend=backend)


def barrier(dist: Dist) -> None:
    """Wait for every rank (no-op in a single process)."""
    if dist.enabled:
        import torch.distributed as tdist

        tdist.barrier()


def shutdown(dist: Dist) -> None:
    """Destroy the process group."""
    if dist.enabled:
        import torch.distributed as tdist

        if tdist.is_initialized():
            tdist.destroy_process_group()
