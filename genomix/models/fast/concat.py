"""Splitting a batch's rows into groups and joining the groups' outputs, on reused memory.

Why: ``torch.cat`` of the groups' outputs and the backward of ``torch.split`` (another concatenation)
each make a fresh ``(N, D)`` tensor per training step. Above glibc's mmap threshold such a tensor is
new memory from the kernel every time, and its first write costs far more than the copy itself
(measured on the 2-vCPU VM of docs/benchmarks.md: 124 ms for a fresh 40 MB tensor, 9 ms reused).
Here both land in :data:`~genomix.models.fast.buffers.POOL` buffers, and the gradients flowing back
through the join are views of the incoming gradient (no copy at all).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from genomix.models.fast.buffers import empty


def split_rows(rows: Tensor, sizes: Sequence[int]) -> tuple[Tensor, ...]:
    """``torch.split(rows, sizes)`` (views), whose backward writes the parts' gradients into one reused
    buffer (a part without a gradient gets zeros)."""
    if not (torch.is_grad_enabled() and rows.requires_grad):
        return torch.split(rows, list(sizes))
    return _Split.apply(rows, tuple(sizes))


def cat_rows(parts: Sequence[Tensor]) -> Tensor:
    """``torch.cat(parts)`` of ``(n_i, D)`` tensors of one dtype into a reused buffer; its backward hands
    each part a view of the incoming gradient."""
    if len(parts) == 1:
        return parts[0]
    if len({part.dtype for part in parts}) != 1 or any(part.dim() != 2 for part in parts):
        return torch.cat(list(parts))
    return _Cat.apply(*parts)


class _Split(torch.autograd.Function):
    @staticmethod
    def forward(ctx, rows: Tensor, sizes: tuple[int, ...]) -> tuple[Tensor, ...]:
        ctx.sizes, ctx.shape, ctx.dtype, ctx.device = sizes, tuple(rows.shape), rows.dtype, rows.device
        ctx.set_materialize_grads(False)  # an unused part's gradient arrives as None, not a zero tensor
        return tuple(part.view_as(part) for part in torch.split(rows, list(sizes)))

    @staticmethod
    def backward(ctx, *grads: Tensor | None):
        grad = empty(ctx.shape, dtype=ctx.dtype, device=ctx.device)
        for part, part_grad in zip(torch.split(grad, list(ctx.sizes)), grads):
            if part_grad is None:
                part.zero_()
            else:
                part.copy_(part_grad)
        return grad, None


class _Cat(torch.autograd.Function):
    @staticmethod
    def forward(ctx, *parts: Tensor) -> Tensor:
        n_rows = sum(part.shape[0] for part in parts)
        out = empty((n_rows, parts[0].shape[1]), dtype=parts[0].dtype, device=parts[0].device)
        torch.cat(parts, out=out)
        ctx.sizes = [part.shape[0] for part in parts]
        return out

    @staticmethod
    def backward(ctx, grad: Tensor):
        return torch.split(grad, ctx.sizes)


__all__ = ["split_rows", "cat_rows"]
