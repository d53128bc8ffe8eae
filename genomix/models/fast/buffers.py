"""Reuse of large CPU activation buffers between blocks: a small caching allocator for one job.

Why: PyTorch's CPU allocator returns every freed tensor to the C library, which hands large ones
straight back to the kernel; the next tensor of that size must be faulted in and zeroed again. On a
megabase sequence each block makes several such tensors of hundreds of megabytes, and getting fresh
pages costs more than the block's arithmetic (measured on the 2-vCPU VM of docs/benchmarks.md:
fresh memory is written at 0.7-10 GB/s, reused memory at 15-17 GB/s; 73 of 117 s of a 2**20-token
training step were spent in the kernel). CUDA has a caching allocator; this is the CPU counterpart
for the buffers that :mod:`genomix.models.fast.chunked` allocates.

A pooled buffer is free again when nothing but the pool references its storage (autograd's saved
tensors and views count, through the storage's reference count), so buffers whose lifetime autograd
decides (a block's output, an input gradient) are reused safely. Buffers idle for
:data:`MAX_IDLE` requests are released, so a pool that saw many different lengths does not grow.
"""

from __future__ import annotations

import ctypes
import math
import os
import platform
import threading
from dataclasses import dataclass

import torch
from torch import Tensor

MIN_BYTES = 30 << 20
"""Smaller requests go to PyTorch's allocator: glibc keeps blocks under its 32 MiB mmap threshold
(:func:`tune_malloc`) for reuse itself. With huge pages on, PyTorch asks for 2 MiB-aligned memory and
glibc adds the alignment to the request, so from 30 MiB on a tensor is a fresh mapping every time (an
equal-lengths batch of 2 x 16,384 float32 rows of 240: 31.5 MB, whose join took 108 ms a step)."""
MAX_IDLE = 512
"""A free buffer not handed out for this many requests is released (about three 2**20-token
training steps of a 20-block model)."""
ENABLED = True
"""False: :func:`empty` is ``torch.empty`` (for A/B measurements)."""

_use_count = getattr(torch._C, "_storage_Use_Count", None)


@dataclass
class _Buffer:
    base: Tensor
    last_used: int


class BufferPool:
    """Buffers keyed by ``(dtype, number of elements)``; thread-safe."""

    def __init__(self) -> None:
        self._buffers: dict[tuple[torch.dtype, int], list[_Buffer]] = {}
        self._requests = 0
        self._lock = threading.Lock()

    def empty(self, shape: tuple[int, ...], dtype: torch.dtype) -> Tensor:
        """An uninitialised contiguous CPU tensor of ``shape``, from the pool when one is free."""
        numel = math.prod(shape)
        key = (dtype, numel)
        with self._lock:
            self._requests += 1
            self._release_idle()
            for buffer in self._buffers.get(key, ()):
                if _is_free(buffer.base):
                    buffer.last_used = self._requests
                    return buffer.base.view(shape)
            # a size with no free buffer: usually a new batch shape, so the free buffers of earlier
            # shapes are let go first (memory stays bounded when every step has another length)
            self._release(lambda buffer: True)
            base = torch.empty(numel, dtype=dtype)
            self._buffers.setdefault(key, []).append(_Buffer(base, self._requests))
            return base.view(shape)

    def held_bytes(self) -> int:
        """Bytes of every buffer the pool holds, free or in use."""
        with self._lock:
            return sum(b.base.nbytes for buffers in self._buffers.values() for b in buffers)

    def release_free(self) -> None:
        """Let go of every free buffer (a phase that needs fewer buffers than the last one begins)."""
        with self._lock:
            self._release(lambda buffer: True)

    def clear(self) -> None:
        """Forget every buffer (those still in use stay alive until their users drop them)."""
        with self._lock:
            self._buffers.clear()

    def _release_idle(self) -> None:
        self._release(lambda buffer: self._requests - buffer.last_used >= MAX_IDLE)

    def _release(self, unwanted) -> None:
        """Drop the free buffers for which ``unwanted(buffer)`` is true."""
        for key in list(self._buffers):
            kept = [b for b in self._buffers[key] if not (unwanted(b) and _is_free(b.base))]
            if kept:
                self._buffers[key] = kept
            else:
                del self._buffers[key]


def _is_free(base: Tensor) -> bool:
    # the pool's base tensor plus the temporary storage object made to ask: nobody else
    return _use_count(base.untyped_storage()._cdata) <= 2


POOL = BufferPool()

MMAP_THRESHOLD = 32 << 20
TRIM_THRESHOLD = 256 << 20
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3


def tune_malloc() -> bool:
    """Make glibc keep freed blocks under 32 MiB for reuse from the start; True if it was set.

    glibc serves blocks above its mmap threshold with fresh mappings and returns free memory at the
    top of its heap to the kernel past a trim threshold. Both start small and adapt to what the
    process happened to free first, so the same training step ran at 20-26k or 28-32k tokens/s
    (2**14 tokens) depending on the order of its first allocations. Fixed at 32 MiB (the largest
    value glibc's own adaptation reaches) and 256 MiB, 2**14-2**15-token steps no longer fault in
    their activations each time (measured in docs/benchmarks.md: 26k-44k page faults per step -> 525-795);
    larger tensors are :data:`POOL`'s job. Called by :func:`genomix.models.fast.tune_cpu`, never at
    import. Skipped off glibc, when ``GENOMIX_TUNE_MALLOC=0``, or when
    the user set glibc's own ``MALLOC_*_THRESHOLD_`` / ``GLIBC_TUNABLES`` variables.
    """
    if os.environ.get("GENOMIX_TUNE_MALLOC", "1") == "0" or platform.libc_ver()[0] != "glibc":
        return False
    if any(name in os.environ for name in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "GLIBC_TUNABLES")):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))


def empty(shape: tuple[int, ...], *, dtype: torch.dtype, device: torch.device | str = "cpu") -> Tensor:
    """``torch.empty(shape, dtype=dtype, device=device)``, from :data:`POOL` for large CPU tensors."""
    device = torch.device(device)
    nbytes = math.prod(shape) * torch.empty((), dtype=dtype).element_size()
    if not ENABLED or _use_count is None or device.type != "cpu" or nbytes < MIN_BYTES:
        return torch.empty(shape, dtype=dtype, device=device)
    return POOL.empty(tuple(shape), dtype)


def empty_like(x: Tensor) -> Tensor:
    """``torch.empty_like(x)`` (contiguous), from :data:`POOL` for large CPU tensors."""
    return empty(tuple(x.shape), dtype=x.dtype, device=x.device)


__all__ = ["BufferPool", "POOL", "empty", "empty_like", "tune_malloc"]
