"""One ChordMixer block on bf16 CPU rows as one autograd Function over fused kernels.

Why: a bf16 block on a CPU spends most of its time in elementwise passes bound by memory traffic.
With :mod:`genomix.native`'s kernels the block makes five such passes instead of eleven (forward:
LayerNorm; rotation, residual and ``fc2``'s bias in one pass. Backward: the rotation's inverse
gather with ``fc2``'s bias gradient; GELU's backward with ``fc1``'s bias gradient; LayerNorm's
backward with the residual gradient added). The matmuls and GELU's forward stay ATen's (oneDNN).

Covers ``x + rotate(fc2(gelu(fc1(prenorm(x)))))`` with a LayerNorm prenorm (its affine folded into
``fc1`` by the caller) or none, exact GELU and no active dropout; any post-norm is applied by the
caller. Saves the same tensors as the unfused block: the input, the normalized input, the MLP's
hidden pre-activation and activation. Bias gradients are summed in float32.
"""

from __future__ import annotations

import torch
from torch import Tensor

from genomix import native


def fused_block(x: Tensor, w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor, index: Tensor, inverse: Tensor | None,
                *, normalize: bool, eps: float) -> Tensor:
    """``x + rotate(mlp(layer_norm(x) if normalize else x))`` for bf16 ``(n, D)`` rows.

    Args:
        x: ``(n, D)`` bf16 activations on the CPU.
        w1, b1, w2, b2: ``fc1`` and ``fc2`` weights and biases (any float dtype; the matmuls run in bf16,
            gradients come back in each parameter's dtype).
        index, inverse: the rotation's int32 gather index and its inverse (``n * n_tracks`` entries);
            ``inverse`` may be None when no gradient is needed.
        normalize: apply a LayerNorm without affine before ``fc1``.
        eps: the LayerNorm's epsilon.
    """
    return _FusedBlock.apply(x, w1, b1, w2, b2, index, inverse, normalize, eps)


def fused_block_(x: Tensor, w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor, index: Tensor, *, normalize: bool,
                 eps: float, chunk: int, update: Tensor) -> Tensor:
    """Inference, in place: ``x`` becomes :func:`fused_block`'s output (the same values), with the MLP run
    ``chunk`` rows at a time into ``update`` (a full-size bf16 buffer the caller provides)."""
    with torch.no_grad(), torch.autocast("cpu", enabled=False):
        w1_low, b1_low, w2_low = w1.to(x.dtype), b1.to(x.dtype), w2.to(x.dtype)
        for start in range(0, x.shape[0], chunk):
            update[start:start + chunk] = _mlp(x[start:start + chunk], w1_low, b1_low, w2_low, normalize, eps)[-1]
        return native.rotate_add(x, update, index, b2.float().contiguous(), out=x)


def _mlp(x: Tensor, w1: Tensor, b1: Tensor, w2: Tensor, normalize: bool, eps: float):
    """``(normalized, mean, rstd, fc1 output, GELU output, fc2 output without its bias)`` for bf16 rows."""
    mean = rstd = None
    normed = x
    if normalize:
        normed, mean, rstd = native.layer_norm(x, eps)
    hidden = torch.addmm(b1, normed, w1.t())
    activated = torch.nn.functional.gelu(hidden)
    return normed, mean, rstd, hidden, activated, torch.mm(activated, w2.t())


class _FusedBlock(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor, index: Tensor,
                inverse: Tensor | None, normalize: bool, eps: float) -> Tensor:
        x = x.contiguous()
        dtype = x.dtype
        with torch.autocast("cpu", enabled=False):
            w1_low, w2_low = w1.to(dtype), w2.to(dtype)
            normed, mean, rstd, hidden, activated, update = _mlp(x, w1_low, b1.to(dtype), w2_low, normalize, eps)
            out = native.rotate_add(x, update, index, b2.detach().float().contiguous())
        ctx.save_for_backward(x if normalize else None, normed, mean, rstd, hidden, activated, w1_low, w2_low,
                              inverse)
        ctx.normalize = normalize
        ctx.dtypes = (w1.dtype, b1.dtype, w2.dtype, b2.dtype)
        return out

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        x, normed, mean, rstd, hidden, activated, w1, w2, inverse = ctx.saved_tensors
        if inverse is None:
            raise RuntimeError("this rotation was built without its inverse (inference only)")
        grad_out = grad_out.to(activated.dtype).contiguous()
        with torch.autocast("cpu", enabled=False):
            grad_update, grad_b2 = native.gather_colsum(grad_out, inverse)
            grad_w2 = torch.mm(grad_update.t(), activated)
            grad_hidden, grad_b1 = native.gelu_backward_colsum(torch.mm(grad_update, w2), hidden)
            grad_w1 = torch.mm(grad_hidden.t(), normed)
            grad_normed = torch.mm(grad_hidden, w1)
            if ctx.normalize:
                grad_x = native.layer_norm_backward_add(grad_normed, x, mean, rstd, grad_out)
            else:
                grad_x = torch.add(grad_out, grad_normed)
        w1_dtype, b1_dtype, w2_dtype, b2_dtype = ctx.dtypes
        return (grad_x, grad_w1.to(w1_dtype), grad_b1.to(b1_dtype), grad_w2.to(w2_dtype), grad_b2.to(b2_dtype),
                None, None, None, None)


def supported(x: Tensor, index: Tensor) -> bool:
    """Whether :func:`fused_block` takes these rows: bf16 on the CPU, an int32 index, kernels loaded."""
    return (x.device.type == "cpu" and x.dtype == torch.bfloat16 and x.dim() == 2 and index.dtype == torch.int32
            and native.available())


__all__ = ["fused_block", "fused_block_", "supported"]
