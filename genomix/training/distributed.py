"""Distributed training through PyTorch's own engine: ``torchrun`` + DDP (NCCL on GPUs, gloo on CPUs).

``torchrun --nproc_per_node N -m genomix.cli train ...`` (or the ``genomix`` script) sets ``RANK``,
``WORLD_SIZE`` and ``LOCAL_RANK``; :func:`setup` reads them. Without them training runs in one
process and nothing here does anything. Only rank 0 writes files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import timedelta

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistContext:
    """Where this process stands.

    Attributes:
        rank: global rank (0 for a single process).
        world_size: number of processes.
        local_rank: rank on this machine (picks the GPU).
        device: the device this process trains on.
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def is_main(self) -> bool:
        """Only the main process writes files and logs progress."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def setup(*, device: str = "auto") -> DistContext:
    """Join the process group when launched by ``torchrun``; pick the device.

    Args:
        device: ``auto`` (CUDA when present), ``cpu`` or ``cuda``.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = torch.cuda.is_available() if device == "auto" else device == "cuda"
    chosen = torch.device(f"cuda:{local_rank}") if use_cuda else torch.device("cpu")
    if use_cuda:
        torch.cuda.set_device(chosen)
    if world_size > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo", timeout=timedelta(minutes=60))
    return DistContext(rank=rank, world_size=world_size, local_rank=local_rank, device=chosen)


def barrier(context: DistContext) -> None:
    """Wait until every rank gets here (no-op in one process)."""
    if context.distributed:
        dist.barrier()


def teardown(context: DistContext) -> None:
    """Leave the process group (if any)."""
    if context.distributed and dist.is_initialized():
        dist.destroy_process_group()


def wrap(model: torch.nn.Module, context: DistContext) -> torch.nn.Module:
    """Wrap in DDP when distributed. Unused parameters are allowed: short sequences use fewer blocks."""
    if not context.distributed:
        return model
    device_ids = [context.device.index] if context.device.type == "cuda" else None
    return torch.nn.parallel.DistributedDataParallel(model, device_ids=device_ids, find_unused_parameters=True)


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The plain model inside a DDP wrapper."""
    return model.module if isinstance(model, torch.nn.parallel.DistributedDataParallel) else model


def broadcast_object(value, context: DistContext):
    """Rank 0's ``value`` on every rank."""
    if not context.distributed:
        return value
    holder = [value]
    dist.broadcast_object_list(holder, src=0)
    return holder[0]


def all_reduce_sum(value: float, context: DistContext) -> float:
    """Sum of ``value`` over ranks."""
    if not context.distributed:
        return value
    tensor = torch.tensor([value], dtype=torch.float64, device=context.device)
    dist.all_reduce(tensor)
    return float(tensor.item())
