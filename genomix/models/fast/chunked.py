"""One ChordMixer block on long inputs, run in cache-sized chunks of rows, recomputed in backward.

Why: on a CPU, a block over hundreds of thousands of rows is bound by memory traffic, and PyTorch's
CPU allocator hands every full-size temporary back to the kernel, which must zero fresh pages for the
next one (measured: fresh memory is written at 4-10 GB/s, reused memory at 15-17 GB/s here). The plain
block makes about ten full-size tensors per forward and backward: LayerNorm output, MLP hidden
layers, the update, its rotated copy, their gradients. This block makes three: the update, the
output and (in backward) the input gradient. Everything else lives one chunk at a time in cache.

It keeps only its input for backward and recomputes the MLP there, chunk by chunk: the work of
per-block activation checkpointing, which is why the encoder uses it only when checkpointing is on
(see :mod:`genomix.models.fast.engine`).

Covers ``x + rotate(fc2(gelu(fc1(prenorm(x)))))`` with a LayerNorm prenorm (its affine folded into
``fc1`` by the caller) or none, and no active dropout; any post-norm is applied by the caller.
"""

from __future__ import annotations

import torch
from torch import Tensor

from genomix.models.fast import fused
from genomix.models.fast.buffers import empty_like
from genomix.models.rotation import _gather_subset, rotate_add_into

CHUNK_ROWS = 8192
"""Rows per chunk: 8,192 x D=336 in bf16 is 5.3 MiB, so a chunk's working set stays in cache.
Measured per block at 2**18 rows (2 threads): 2,048 rows 324-384k tokens/s, 4,096 rows 306-406k,
8,192 rows 455-476k, 16,384 rows 434-471k."""


def chunked_block(x: Tensor, w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor, index: Tensor,
                  inverse: Tensor, *, normalize: bool, eps: float, chunk: int | None = None,
                  kernels: bool = True) -> Tensor:
    """``x + rotate(mlp(layer_norm(x) if normalize else x))`` on ``(n, D)`` rows, chunk by chunk.

    Args:
        x: ``(n, D)`` activations; the computation runs in ``x``'s dtype.
        w1, b1, w2, b2: ``fc1`` and ``fc2`` weights and biases (cast to ``x``'s dtype here; their
            gradients are accumulated in float32 over chunks and returned in their own dtype).
        index, inverse: the rotation's gather index and its inverse (``n * n_tracks`` entries each).
        normalize: apply a LayerNorm without affine before ``fc1``.
        eps: the LayerNorm's epsilon.
        chunk: rows per chunk (default :data:`CHUNK_ROWS`; float32 rows on the fused kernels: the fused
            block's training chunks, :data:`fused.TRAIN_CHUNK_ROWS`, so that a checkpointed block gives
            the values of the block without checkpointing exactly, weight-gradient sums included).
        kernels: use the fused kernels where they apply (:func:`fused.supported`); False: ATen ops.
    """
    if not chunk:
        chunk = fused.TRAIN_CHUNK_ROWS.get(x.dtype, 0) if kernels and fused.supported(x, index) else 0
    return _ChunkedBlock.apply(x, w1, b1, w2, b2, index, inverse, normalize, eps, chunk or CHUNK_ROWS, kernels)


def _hidden(xc: Tensor, w1: Tensor, b1: Tensor, normalize: bool, eps: float):
    """``(normalized input, its mean, its rstd, fc1 output)`` for one chunk."""
    mean = rstd = None
    normed = xc
    if normalize:
        normed, mean, rstd = torch.native_layer_norm(xc, (xc.shape[1],), None, None, eps)
    return normed, mean, rstd, torch.addmm(b1, normed, w1.t())


class _ChunkedBlock(torch.autograd.Function):
    """With bf16 rows and the native kernels (:func:`fused.supported`) each chunk runs the fused block's
    kernels (:mod:`genomix.models.fast.fused`), so the values are those of the unchunked fused block;
    otherwise ATen ops."""

    @staticmethod
    def forward(ctx, x: Tensor, w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor, index: Tensor,
                inverse: Tensor | None, normalize: bool, eps: float, chunk: int, kernels: bool) -> Tensor:
        x = x.contiguous()
        ctx.dtypes = (w1.dtype, b1.dtype, w2.dtype, b2.dtype)
        ctx.native = kernels and fused.supported(x, index)
        w1, b1, w2, b2_float = fused.kernel_weights(x, w1.detach(), b1.detach(), w2.detach(), b2)
        b2 = b2.detach().to(x.dtype)
        with torch.autocast(x.device.type, enabled=False):
            update = empty_like(x)
            out = forward_into(x, w1, b1, w2, b2_float if ctx.native else b2, index, normalize=normalize, eps=eps, chunk=chunk,
                               native=ctx.native, update=update, out=empty_like(x))
        del update
        ctx.save_for_backward(x, w1, b1, w2, b2, inverse)
        ctx.normalize, ctx.eps, ctx.chunk = normalize, eps, chunk
        return out

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        x, w1, b1, w2, b2, inverse = ctx.saved_tensors
        if inverse is None:
            raise RuntimeError("this rotation was built without its inverse (inference only)")
        normalize, eps, chunk = ctx.normalize, ctx.eps, ctx.chunk
        grad_out = grad_out.to(x.dtype).contiguous()
        grad_x = empty_like(x)
        with torch.autocast(x.device.type, enabled=False):
            grads = backward_in_chunks(x, grad_out, w1, b1, w2, inverse, normalize=normalize, eps=eps, chunk=chunk,
                                       native=ctx.native, grad_x=grad_x)
        return (grad_x, *(grad.to(dtype) for grad, dtype in zip(grads, ctx.dtypes)),
                None, None, None, None, None, None)


def forward_into(x: Tensor, w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor, index: Tensor, *, normalize: bool,
                 eps: float, chunk: int, native: bool, update: Tensor, out: Tensor) -> Tensor:
    """No autograd: ``out = x + rotate(mlp(x))``, the MLP ``chunk`` rows at a time into ``update``.

    Args:
        x: ``(n, D)`` contiguous rows; ``out`` may be ``x`` itself (the rotation reads ``update`` only).
        w1, b1, w2: the weights in ``x``'s dtype; b2: ``fc2``'s bias, in float32 for the fused kernels
            (:func:`fused.kernel_weights`), else in ``x``'s dtype.
        index: the rotation's gather index for these rows.
        native: use the fused kernels (:func:`fused.supported`).
        update: ``(n, D)`` buffer for the MLP's output.

    Returns:
        ``out``.
    """
    if native:
        return fused.forward_in_chunks(x, w1, b1, w2, b2, index, normalize=normalize, eps=eps, chunk=chunk,
                                       update=update, out=out)
    for start in range(0, x.shape[0], chunk):
        hidden = _hidden(x[start:start + chunk], w1, b1, normalize, eps)[3]
        torch.addmm(b2, torch.nn.functional.gelu(hidden), w2.t(), out=update[start:start + chunk])
    return rotate_add_into(out, x, update, index, chunk_rows=chunk * (index.numel() // max(x.shape[0], 1)))


def backward_in_chunks(x: Tensor, grad_out: Tensor, w1: Tensor, b1: Tensor, w2: Tensor, inverse: Tensor, *,
                       normalize: bool, eps: float, chunk: int, native: bool, grad_x: Tensor
                       ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """The block's backward pass, its MLP recomputed ``chunk`` rows at a time: writes ``grad_x``.

    Args:
        x: ``(n, D)`` the block's input, stored in the weights' dtype or a more compact one (each chunk
            is converted to the weights' dtype: compact storage, full-precision compute).
        grad_out: ``(n, D)`` contiguous gradient of the block's output, in the weights' dtype.
        w1, b1, w2: the weights in the compute dtype (:func:`fused.kernel_weights`).
        inverse: the rotation's inverse for these rows.
        normalize, eps: the LayerNorm without affine before ``fc1``.
        chunk: rows per chunk.
        native: use the fused kernels (:func:`fused.supported` holds for the compute dtype).
        grad_x: ``(n, D)`` the input gradient (written).

    Returns:
        ``(grad_w1, grad_b1, grad_w2, grad_b2)`` summed over chunks in float32 (float64 for float64 rows).
    """
    n, width = x.shape
    per_row = inverse.numel() // max(n, 1)
    grad_rows = grad_out.view(inverse.numel(), -1)
    f32 = dict(dtype=torch.promote_types(w1.dtype, torch.float32), device=x.device)
    grad_w1, grad_b1 = torch.zeros(w1.shape, **f32), torch.zeros(b1.shape, **f32)
    grad_w2, grad_b2 = torch.zeros(w2.shape, **f32), torch.zeros(width, **f32)
    for start in range(0, n, chunk):
        xc = x[start:start + chunk].to(w1.dtype)
        rows = inverse[start * per_row:(start + chunk) * per_row]
        if native:
            layers = fused.hidden_layers(xc, w1, b1, normalize, eps)
            grads = fused.backward_rows(grad_out, start, rows, per_row, xc, layers, w1, w2, grad_x[start:start + chunk])
            for total, part in zip((grad_w1, grad_b1, grad_w2, grad_b2), grads):
                total += part
            continue
        # the update's gradient is the output gradient rotated back (a gather by the inverse)
        grad_update = _gather_subset(grad_rows, rows).view(-1, width)
        normed, mean, rstd, hidden = _hidden(xc, w1, b1, normalize, eps)
        activated = torch.nn.functional.gelu(hidden)
        grad_w2 += torch.mm(grad_update.t(), activated)
        grad_b2 += grad_update.sum(0, dtype=grad_b2.dtype)
        grad_hidden = torch.ops.aten.gelu_backward(torch.mm(grad_update, w2), hidden)
        grad_w1 += torch.mm(grad_hidden.t(), normed)
        grad_b1 += grad_hidden.sum(0, dtype=grad_b1.dtype)
        grad_in = torch.mm(grad_hidden, w1)
        if normalize:
            grad_in = torch.ops.aten.native_layer_norm_backward(
                grad_in, xc, (width,), mean, rstd, None, None, [True, False, False])[0]
        torch.add(grad_out[start:start + chunk], grad_in, out=grad_x[start:start + chunk])
    return grad_w1, grad_b1, grad_w2, grad_b2


__all__ = ["chunked_block", "forward_into", "backward_in_chunks", "CHUNK_ROWS"]
