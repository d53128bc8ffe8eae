"""Segments checkpointing with compact storage: float32 compute, block inputs kept in bf16 for backward.

Why: a float32 megabase step with ``grad_checkpointing='segments'`` holds about ``2 sqrt(blocks)`` full-size
block inputs at its peak (the stored input of every segment, the recomputed inputs of one segment), each
1.3 GiB at 1,048,576 nt and D = 336: 15 GiB in all. Stored in bf16 they take half, and a segment's forward
runs in place (one row buffer and one update buffer, no autograd graph), and the segments shrink toward
the end (:func:`~genomix.models.fast.engine.segment_bounds`): a 1,048,576-nt step's peak fell from 15.1 to
9.2 GiB (docs/benchmarks.md, issue 20).

What changes: the forward pass is the float32 forward of :mod:`genomix.models.fast.chunked`, value for value
(the loss and outputs do not change). The backward pass recomputes each segment from its bf16-stored input
and keeps the recomputed block inputs in bf16, so the gradients are those at activations rounded to bf16
(relative error about 2**-9 per element); the chunks of the backward pass convert them to float32 and
compute in float32. The bound is tested (``tests/models/fast/test_compact.py``: gradients against float32
storage, and a seeded training run's valid metric).

Chosen by ``grad_checkpointing='segments_bf16'`` on float32 rows, for segments whose every block is in kernel
form (LayerNorm prenorm or none), has no post-norm and draws no dropout; any other segment (and bf16 rows,
already compact) runs ``'segments'``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from genomix.models.fast import buffers, chunked, fused
from genomix.models.fast.blocks import dropping, normalizes
from genomix.models.fast.buffers import empty_like
from genomix.models.fast.dispatch import active, record
from genomix.models.fast.folded import mlp_weights
from genomix.models.rotation import Rotation, _gather_subset

STORAGE = torch.bfloat16
"""The dtype of the stored and recomputed block inputs."""


def applies(rows: Tensor, steps: Sequence) -> bool:
    """Whether :func:`compact_segment` runs these ``(block, plan, (sequences, rows))`` steps on ``rows``."""
    return (rows.dtype == torch.float32 and rows.dim() == 2 and active("chunked")
            and all(plan.exact and plan.kernel_form and type(block.norm) is nn.Identity and not dropping(block)
                    for block, plan, _ in steps))


def compact_segment(rows: Tensor, rotation: Rotation, steps: Sequence) -> Tensor:
    """The blocks of one segment on ``(N, D)`` float32 rows, checkpointed with bf16 storage (:func:`applies`).

    Args:
        rows: ``(N, D)`` the segment's input.
        rotation: the batch's rotation (each step runs on its prefix).
        steps: ``(block, plan, (n_sequences, n_rows))`` per block, as the engine schedules them.

    Returns:
        ``(N, D)`` float32, the segment's output.
    """
    record("compact")
    layout = []
    weights = []
    for block, _, (n_sequences, n_rows) in steps:
        normalize, eps = normalizes(block)
        layout.append((rotation.head(n_sequences, n_rows), n_rows, normalize, eps))
        weights.extend(mlp_weights(block))
    return _CompactSegment.apply(rows, layout, *weights)


def _kernel_weights(rows: Tensor, weights: Sequence[Tensor], native: bool) -> list[tuple[Tensor, ...]]:
    """Per block ``(w1, b1, w2, b2)`` as the chunked kernels take them (b2 float32 for the fused kernels)."""
    out = []
    for number in range(0, len(weights), 4):
        w1, b1, w2, b2 = (weight.detach() for weight in weights[number:number + 4])
        w1, b1, w2, b2_float = fused.kernel_weights(rows, w1, b1, w2, b2)
        out.append((w1, b1, w2, b2_float if native else b2.to(rows.dtype)))
    return out


def _recompute(stored: Tensor, w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor, index: Tensor, *, normalize: bool,
               eps: float, native: bool, update: Tensor, chunk: int) -> Tensor:
    """The next block input in :data:`STORAGE` from this one's stored rows: float32 compute, chunk by chunk.

    ``b2`` as :func:`_kernel_weights` gives it: with the fused kernels it is added after the rotation.
    """
    n, width = stored.shape
    for start in range(0, n, chunk):
        rows = stored[start:start + chunk].to(w1.dtype)
        hidden = (fused.hidden_layers(rows, w1, b1, normalize, eps) if native
                  else chunked._hidden(rows, w1, b1, normalize, eps))[3]
        activated = torch.nn.functional.gelu(hidden)
        if native:
            torch.mm(activated, w2.t(), out=update[start:start + chunk])
        else:
            torch.addmm(b2, activated, w2.t(), out=update[start:start + chunk])
    per_row = index.numel() // max(n, 1)
    source = update.view(index.numel(), -1)
    following = torch.empty_like(stored)
    for start in range(0, n, chunk):
        rotated = _gather_subset(source, index[start * per_row:(start + chunk) * per_row]).view(-1, width)
        rows = stored[start:start + chunk].to(w1.dtype) + rotated
        following[start:start + chunk] = rows + b2 if native else rows
    return following


class _CompactSegment(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, layout: list, *weights: Tensor) -> Tensor:
        native = active("fused") and fused.supported(x, layout[0][0].index)
        chunk = chunked.CHUNK_ROWS
        with torch.no_grad(), torch.autocast(x.device.type, enabled=False):
            rows = empty_like(x)
            rows.copy_(x)
            update = empty_like(rows)
            for (rotation, n_rows, normalize, eps), (w1, b1, w2, b2) in zip(layout,
                                                                             _kernel_weights(rows, weights, native)):
                head = rows[:n_rows]
                chunked.forward_into(head, w1, b1, w2, b2, rotation.index, normalize=normalize, eps=eps,
                                     chunk=chunk, native=native, update=update[:n_rows], out=head)
            del update
        ctx.save_for_backward(x.detach().to(STORAGE), *weights)
        ctx.layout, ctx.native, ctx.chunk = layout, native, chunk
        return rows

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        stored, *weights = ctx.saved_tensors
        layout, native, chunk = ctx.layout, ctx.native, ctx.chunk
        if any(rotation.inverse is None for rotation, *_ in layout):
            raise RuntimeError("this rotation was built without its inverse (inference only)")
        grad, grad_dtype = grad_out.to(torch.float32).contiguous(), grad_out.dtype
        del grad_out  # held to the end, it would keep a full-size gradient alive through every block
        kernel_weights = _kernel_weights(grad, weights, native)
        buffers.POOL.release_free()  # the forward's free row buffers: this pass needs two of its own
        with torch.no_grad(), torch.autocast(grad.device.type, enabled=False):
            inputs = [stored]
            update = empty_like(grad)
            for (rotation, n_rows, normalize, eps), (w1, b1, w2, b2) in zip(layout[:-1], kernel_weights):
                following = inputs[-1].clone() if n_rows < stored.shape[0] else None
                head = _recompute(inputs[-1][:n_rows], w1, b1, w2, b2, rotation.index, normalize=normalize,
                                  eps=eps, native=native, update=update[:n_rows], chunk=chunk)
                if following is None:
                    following = head
                else:
                    following[:n_rows] = head
                inputs.append(following)
            del update
            weight_grads: list[Tensor | None] = [None] * len(weights)
            for number in reversed(range(len(layout))):
                (rotation, n_rows, normalize, eps), (w1, b1, w2, _) = layout[number], kernel_weights[number]
                grad_in = empty_like(grad)
                if n_rows < grad.shape[0]:
                    grad_in[n_rows:] = grad[n_rows:]
                parts = chunked.backward_in_chunks(inputs.pop()[:n_rows], grad[:n_rows], w1, b1, w2, rotation.inverse,
                                                   normalize=normalize, eps=eps, chunk=chunk, native=native,
                                                   grad_x=grad_in[:n_rows])
                grad = grad_in
                for offset, part in enumerate(parts):
                    weight_grads[4 * number + offset] = part.to(weights[4 * number + offset].dtype)
        return (grad.to(grad_dtype), None, *weight_grads)


__all__ = ["STORAGE", "applies", "compact_segment"]
