"""One ChordMixer block on bf16 or float32 CPU rows as one autograd Function over fused kernels.

Why: a bf16 block on a CPU spends most of its time in elementwise passes bound by memory traffic
(float32 less so: its matmuls are slower).
With :mod:`genomix.native`'s kernels, five passes do the work of ten ATen ones (forward: LayerNorm;
rotation, residual and ``fc2``'s bias in one pass. Backward: the rotation's inverse gather with
``fc2``'s bias gradient; GELU's backward with ``fc1``'s bias gradient; LayerNorm's backward with the
residual gradient added). The matmuls and GELU's forward stay ATen's (oneDNN). 1.3x a bf16 training
step on a 2-core CPU, 1.1-1.2x a float32 one (docs/benchmarks.md).

Covers ``x + rotate(fc2(gelu(fc1(prenorm(x)))))`` with a LayerNorm prenorm (its affine folded into
``fc1`` by the caller) or none, exact GELU and no active dropout; any post-norm is applied by the
caller. Saves the same tensors as the unfused block: the input, the normalized input, the MLP's
hidden pre-activation and activation. Bias gradients are summed in float32.

float32 training blocks run the MLP forward and the whole backward in chunks of rows
(:data:`TRAIN_CHUNK_ROWS`), writing the same saved tensors: a chunk's layers are read again while
they are in cache, its gradients never leave it, and the matmuls run at their cache-sized rate.
"""

from __future__ import annotations

import torch
from torch import Tensor

from genomix import native


def fused_block(x: Tensor, w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor, index: Tensor, inverse: Tensor | None,
                *, normalize: bool, eps: float) -> Tensor:
    """``x + rotate(mlp(layer_norm(x) if normalize else x))`` for bf16 or float32 ``(n, D)`` rows.

    Args:
        x: ``(n, D)`` bf16 or float32 activations on the CPU.
        w1, b1, w2, b2: ``fc1`` and ``fc2`` weights and biases (any float dtype; the matmuls run in
            ``x``'s dtype, gradients come back in each parameter's dtype).
        index, inverse: the rotation's int32 gather index and its inverse (``n * n_tracks`` entries);
            ``inverse`` may be None when no gradient is needed.
        normalize: apply a LayerNorm without affine before ``fc1``.
        eps: the LayerNorm's epsilon.
    """
    return _FusedBlock.apply(x, w1, b1, w2, b2, index, inverse, normalize, eps)


def fused_block_(x: Tensor, w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor, index: Tensor, *, normalize: bool,
                 eps: float, chunk: int, update: Tensor) -> Tensor:
    """Inference, in place: ``x`` becomes :func:`fused_block`'s output (the same values), with the MLP run
    ``chunk`` rows at a time into ``update`` (a full-size buffer like ``x`` that the caller provides)."""
    with torch.no_grad():
        return forward_in_chunks(x, *kernel_weights(x, w1, b1, w2, b2), index, normalize=normalize, eps=eps,
                                 chunk=chunk, update=update, out=x)


def kernel_weights(x: Tensor, w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor) -> tuple[Tensor, ...]:
    """The weights as the kernels take them: matmul operands in ``x``'s dtype (bf16 under autocast),
    ``fc2``'s bias in float32 (it is added in the rotation's float32 pass)."""
    return w1.to(x.dtype), b1.to(x.dtype), w2.to(x.dtype), b2.detach().float().contiguous()


def forward_in_chunks(x: Tensor, w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor, index: Tensor, *, normalize: bool,
                      eps: float, chunk: int, update: Tensor, out: Tensor) -> Tensor:
    """No autograd: ``out = x + rotate(mlp(x)) + b2`` with the MLP ``chunk`` rows at a time into ``update``
    (weights from :func:`kernel_weights`; ``out`` may be ``x``). Per row, the values of :func:`fused_block`."""
    with torch.autocast("cpu", enabled=False):
        for start in range(0, x.shape[0], chunk):
            activated = hidden_layers(x[start:start + chunk], w1, b1, normalize, eps)[-1]
            torch.mm(activated, w2.t(), out=update[start:start + chunk])
        return native.rotate_add(x, update, index, b2, out=out)


def hidden_layers(x: Tensor, w1: Tensor, b1: Tensor, normalize: bool, eps: float):
    """``(normalized, mean, rstd, fc1 output, GELU output)`` for rows (mean and rstd None without
    normalization)."""
    mean = rstd = None
    normed = x
    if normalize:
        normed, mean, rstd = native.layer_norm(x, eps)
    hidden = torch.addmm(b1, normed, w1.t())
    return normed, mean, rstd, hidden, torch.nn.functional.gelu(hidden)


def backward_rows(grad_out: Tensor, start: int, inverse: Tensor, tracks: int, x: Tensor, layers: tuple, w1: Tensor,
                  w2: Tensor, grad_x: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """The backward pass of the block's rows ``start, start + len(x)``: writes their input gradient into
    ``grad_x``.

    Args:
        grad_out: the block's whole output gradient (the rotation reads anywhere in it).
        start: the first row.
        inverse: the rotation's inverse for these rows (``tracks`` entries per row).
        x, layers: these rows' input and their :func:`hidden_layers`.
        w1, w2: the weights in the rows' dtype.
        grad_x: these rows of the input gradient (written).

    Returns:
        ``(grad_w1, grad_b1, grad_w2, grad_b2)`` of these rows: weight gradients in the rows' dtype (one
        matmul), bias gradients in float32.
    """
    normed, mean, rstd, hidden, activated = layers
    own_grad = grad_out[start:start + x.shape[0]]
    grad_update, grad_b2 = native.gather_colsum(grad_out, inverse, tracks)
    grad_w2 = torch.mm(grad_update.t(), activated)
    grad_hidden = torch.mm(grad_update, w2)
    del grad_update  # each gradient is freed as soon as it is used: the peak stays that of ATen's backward
    grad_hidden, grad_b1 = native.gelu_backward_colsum(grad_hidden, hidden)
    grad_w1 = torch.mm(grad_hidden.t(), normed)
    grad_normed = torch.mm(grad_hidden, w1)
    del grad_hidden
    if mean is not None:
        native.layer_norm_backward_add(grad_normed, x, mean, rstd, own_grad, out=grad_x)
    else:
        torch.add(own_grad, grad_normed, out=grad_x)
    return grad_w1, grad_b1, grad_w2, grad_b2


def _chunk_rows(x: Tensor) -> int:
    """Rows per chunk of a training block in ``x``'s dtype (0: all rows at once)."""
    return TRAIN_CHUNK_ROWS.get(x.dtype, 0)


TRAIN_CHUNK_ROWS = {torch.float32: 1024}
"""Rows per chunk of the training block, by dtype (absent: all rows at once). Measured on the 2-vCPU
AMD EPYC (Zen 4) of docs/benchmarks.md, one 16,384-row block (D 240, H 128) forward and backward, CPU
time, medians of 15-25 interleaved runs: float32 in 1,024-row chunks 0.86-0.94x the time of all rows at
once (2,048: 0.87x, 512: 0.95x; recomputing the LayerNorm and GELU outputs in backward instead of
saving them: 0.95-0.97x); bf16 in 1,024-row chunks 1.10x, so bf16 runs whole."""


def _hidden_layers_in_chunks(x: Tensor, w1: Tensor, b1: Tensor, w2: Tensor, normalize: bool, eps: float,
                             chunk: int) -> tuple[tuple, Tensor]:
    """``(hidden_layers(x, ...), update)`` with ``update = GELU output @ w2^T``, computed ``chunk`` rows
    at a time into full-size tensors: each chunk's layers are still in cache when the next op reads
    them, and the matmuls run on cache-sized operands (per row, the values of :func:`hidden_layers`)."""
    n = x.shape[0]
    normed = torch.empty_like(x) if normalize else x
    mean = torch.empty(n, dtype=torch.float32) if normalize else None
    rstd = torch.empty(n, dtype=torch.float32) if normalize else None
    hidden = torch.empty(n, w1.shape[0], dtype=x.dtype)
    activated = torch.empty_like(hidden)
    update = torch.empty_like(x)
    for start in range(0, n, chunk):
        rows = slice(start, start + chunk)
        if normalize:
            native.layer_norm(x[rows], eps, out=normed[rows], mean=mean[rows], rstd=rstd[rows])
        torch.addmm(b1, normed[rows], w1.t(), out=hidden[rows])
        torch.ops.aten.gelu.out(hidden[rows], out=activated[rows])
        torch.mm(activated[rows], w2.t(), out=update[rows])
    return (normed, mean, rstd, hidden, activated), update


def _rows_of(layers: tuple, rows: slice) -> tuple:
    """Those rows of :func:`hidden_layers`' outputs (mean and rstd may be None)."""
    return tuple(None if layer is None else layer[rows] for layer in layers)


class _FusedBlock(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor, index: Tensor,
                inverse: Tensor | None, normalize: bool, eps: float) -> Tensor:
        x = x.contiguous()
        w1_low, b1_low, w2_low, b2_float = kernel_weights(x, w1, b1, w2, b2)
        chunk = _chunk_rows(x)
        ctx.chunk = chunk if 0 < chunk < x.shape[0] else max(x.shape[0], 1)
        with torch.autocast("cpu", enabled=False):
            if ctx.chunk < x.shape[0]:
                layers, update = _hidden_layers_in_chunks(x, w1_low, b1_low, w2_low, normalize, eps, ctx.chunk)
            else:
                layers = hidden_layers(x, w1_low, b1_low, normalize, eps)
                update = torch.mm(layers[-1], w2_low.t())
            out = native.rotate_add(x, update, index, b2_float)
        ctx.save_for_backward(x, *layers, w1_low, w2_low, inverse)  # normed is x without normalization
        ctx.dtypes = (w1.dtype, b1.dtype, w2.dtype, b2.dtype)
        return out

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        x, normed, mean, rstd, hidden, activated, w1, w2, inverse = ctx.saved_tensors
        if inverse is None:
            raise RuntimeError("this rotation was built without its inverse (inference only)")
        grad_out = grad_out.to(x.dtype).contiguous()
        grad_x = torch.empty_like(grad_out)
        n, chunk = x.shape[0], ctx.chunk
        tracks = inverse.numel() // max(n, 1)
        layers, grads = (normed, mean, rstd, hidden, activated), None
        with torch.autocast("cpu", enabled=False):
            for start in range(0, max(n, 1), chunk):  # one call when there are no rows
                rows = slice(start, start + chunk)
                part = backward_rows(grad_out, start, inverse[start * tracks:(start + chunk) * tracks], tracks,
                                     x[rows], _rows_of(layers, rows), w1, w2, grad_x[rows])
                # several chunks only in float32 (TRAIN_CHUNK_ROWS): the weight gradients sum in float32
                grads = part if grads is None else [total.add_(more) for total, more in zip(grads, part)]
        return (grad_x, *(grad.to(dtype) for grad, dtype in zip(grads, ctx.dtypes)), None, None, None, None)


def supported(x: Tensor, index: Tensor) -> bool:
    """Whether :func:`fused_block` takes these rows: bf16 or float32 on the CPU, an int32 index, kernels
    loaded (switch the path off with ``genomix.models.fast.use``)."""
    return (x.device.type == "cpu" and x.dtype in native.DTYPES and x.dim() == 2
            and index.dtype == torch.int32 and native.available())


__all__ = ["fused_block", "fused_block_", "forward_in_chunks", "backward_rows", "hidden_layers", "kernel_weights",
           "TRAIN_CHUNK_ROWS",
           "supported"]
