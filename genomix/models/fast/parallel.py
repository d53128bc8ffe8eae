"""Independent groups of sequences on separate CPU threads, forward and backward.

A batch's sequences never interact inside the encoder, so its cache-sized groups can run at the same
time. On a CPU the elementwise half of a ChordMixer step is bound by memory traffic and gains little
from a second intra-op thread; giving each core a group of its own instead (one intra-op thread per
group) made a 2-core training step 1.2-1.4x faster (docs/benchmarks.md).

Forward: each thread builds its group's autograd graph. Backward: each thread runs its group's
backward (PyTorch's CPU autograd runs concurrent backward passes on their calling threads and
accumulates parameter gradients under a lock), and the groups' input gradients are concatenated.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import torch
from torch import Tensor

_POOLS: dict[int, ThreadPoolExecutor] = {}
_POOLS_LOCK = threading.Lock()


def run_groups(run_group: Callable[[Tensor, int], Tensor], parts: Sequence[Tensor], workers: int) -> Tensor:
    """``torch.cat([run_group(part, i) for i, part in enumerate(parts)])``, ``workers`` groups at a time.

    Differentiable: gradients reach ``parts`` (through their common base) and every parameter that
    ``run_group`` uses, exactly as the sequential loop would give them.
    """
    if torch.is_grad_enabled() and any(part.requires_grad for part in parts):
        return _ParallelGroups.apply(run_group, workers, *parts)
    return torch.cat(_map(run_group, list(parts), workers, grad=False))


class _ParallelGroups(torch.autograd.Function):
    @staticmethod
    def forward(ctx, run_group, workers: int, *parts: Tensor) -> Tensor:
        leaves = [part.detach().requires_grad_(part.requires_grad) for part in parts]
        outputs = _map(run_group, leaves, workers, grad=True)
        ctx.leaves, ctx.outputs, ctx.workers = leaves, outputs, workers
        return torch.cat([output.detach() for output in outputs])

    @staticmethod
    def backward(ctx, grad: Tensor):
        grads = torch.split(grad, [output.shape[0] for output in ctx.outputs])
        pairs = [(output, g) for output, g in zip(ctx.outputs, grads) if output.requires_grad]

        def backward_one(pair: tuple[Tensor, Tensor], _index: int) -> None:
            torch.autograd.backward(*pair)

        _map(backward_one, pairs, ctx.workers, grad=None)
        leaf_grads = [leaf.grad if leaf.grad is not None else torch.zeros_like(leaf) for leaf in ctx.leaves]
        del ctx.leaves, ctx.outputs
        return (None, None, *leaf_grads)


def _map(function, items: list, workers: int, *, grad: bool | None) -> list:
    """``[function(item, i) ...]`` on ``workers`` threads with one intra-op thread each.

    Each thread gets the caller's autocast settings (thread-local state) and, unless ``grad`` is
    None, the given grad mode.
    """
    device = "cpu"
    autocast = torch.is_autocast_enabled(device)
    dtype = torch.get_autocast_dtype(device)

    def call(item, index):
        with torch.autocast(device, dtype=dtype, enabled=autocast):
            if grad is None:
                return function(item, index)
            with torch.set_grad_enabled(grad):
                return function(item, index)

    with _one_intra_op_thread():
        return list(_pool(workers).map(call, items, range(len(items))))


@contextmanager
def _one_intra_op_thread() -> Iterator[None]:
    """The process-wide intra-op thread count set to 1 for the duration (restored after)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _pool(workers: int) -> ThreadPoolExecutor:
    with _POOLS_LOCK:
        if workers not in _POOLS:
            _POOLS[workers] = ThreadPoolExecutor(workers, thread_name_prefix="genomix-group")
        return _POOLS[workers]
