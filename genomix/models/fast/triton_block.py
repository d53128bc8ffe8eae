"""One ChordMixer block on GPU rows as one autograd Function over Triton kernels and cuBLAS matmuls.

Why: on a GPU the block's matmuls take a few percent of its time; the rest is elementwise passes over
memory (LayerNorm, bias, GELU, the rotation's gather, the residual add and their backward passes) and,
for short steps, kernel launches. Here each of those is one Triton kernel that reads and writes its
tensors once (:mod:`genomix.models.fast.triton_kernels`): forward LayerNorm, ``gelu(h + b1)``,
``x + rotate(update) + b2``; backward the inverse gather with ``fc2``'s bias gradient, GELU's backward with
``fc1``'s bias gradient, LayerNorm's backward with the residual gradient added. Six kernels and four
matmuls instead of about twenty ATen kernels.

Covers what :mod:`genomix.models.fast.fused` covers: ``x + rotate(fc2(gelu(fc1(prenorm(x)))))`` with a
LayerNorm prenorm (its affine folded into ``fc1`` by the caller) or none, exact GELU and no active dropout;
any post-norm is applied by the caller. The matmuls run in ``x``'s dtype (bf16 under autocast), the
kernels compute in float32, bias gradients are summed in float32.

Nothing here imports triton until a block runs on a device in :data:`DEVICES`: CPU-only training never
imports it. Speed on a GPU is not measured yet (``pipelines/bench_gpu.py`` measures it in one run).
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
from types import ModuleType

import torch
from torch import Tensor

DEVICES = ("cuda",)
"""Device types the Triton block runs on (tests add ``'cpu'`` under triton's interpreter)."""
DTYPES = (torch.float32, torch.bfloat16, torch.float16)


@functools.lru_cache(maxsize=1)
def installed() -> bool:
    """Whether triton can be imported (checked without importing it)."""
    return importlib.util.find_spec("triton") is not None


def kernels() -> ModuleType:
    """The kernels module (imports triton on first use)."""
    return importlib.import_module("genomix.models.fast.triton_kernels")


def supported(x: Tensor, index: Tensor) -> bool:
    """Whether :func:`triton_block` takes these rows: ``(n, D)`` float rows on a device in :data:`DEVICES`, the
    rotation's index on the same device, triton installed (switch the path off with ``fast.use``)."""
    return (x.device.type in DEVICES and x.dtype in DTYPES and x.dim() == 2 and x.shape[0] > 0
            and index.device == x.device and installed())


def triton_block(x: Tensor, w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor, index: Tensor, inverse: Tensor | None,
                 *, normalize: bool, eps: float) -> Tensor:
    """``x + rotate(mlp(layer_norm(x) if normalize else x))`` for ``(n, D)`` rows; the values of
    :func:`genomix.models.fast.fused.fused_block`.

    Args:
        x: ``(n, D)`` float32, bf16 or float16 activations.
        w1, b1, w2, b2: ``fc1`` and ``fc2`` weights and biases (any float dtype; the matmuls run in ``x``'s
            dtype, gradients come back in each parameter's dtype).
        index, inverse: the rotation's gather index and its inverse (``n * n_tracks`` entries); ``inverse``
            may be None when no gradient is needed.
        normalize: apply a LayerNorm without affine before ``fc1``.
        eps: the LayerNorm's epsilon.
    """
    return _TritonBlock.apply(x, w1, b1, w2, b2, index, inverse, normalize, eps)


class _TritonBlock(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor, index: Tensor,
                inverse: Tensor | None, normalize: bool, eps: float) -> Tensor:
        k = kernels()
        x = x.contiguous()
        w1_low, w2_low = w1.detach().to(x.dtype), w2.detach().to(x.dtype)
        b1_float, b2_float = b1.detach().float().contiguous(), b2.detach().float().contiguous()
        with torch.autocast(x.device.type, enabled=False):
            normed, mean, rstd = k.layer_norm(x, eps) if normalize else (x, None, None)
            hidden = torch.mm(normed, w1_low.t())  # fc1 without its bias: the GELU kernel adds it
            activated = k.bias_gelu(hidden, b1_float)
            out = k.rotate_add(x, torch.mm(activated, w2_low.t()), index.contiguous(), b2_float)
        ctx.save_for_backward(x, normed, mean, rstd, hidden, activated, w1_low, w2_low, b1_float, inverse)
        ctx.dtypes = (w1.dtype, b1.dtype, w2.dtype, b2.dtype)
        return out

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        x, normed, mean, rstd, hidden, activated, w1, w2, b1, inverse = ctx.saved_tensors
        if inverse is None:
            raise RuntimeError("this rotation was built without its inverse (inference only)")
        k = kernels()
        grad_out = grad_out.to(x.dtype).contiguous()
        with torch.autocast(x.device.type, enabled=False):
            grad_update, grad_b2 = k.gather_colsum(grad_out, inverse.contiguous())
            grad_w2 = torch.mm(grad_update.t(), activated)
            grad_hidden = torch.mm(grad_update, w2)
            del grad_update
            grad_hidden, grad_b1 = k.gelu_backward_colsum(grad_hidden, hidden, b1)
            grad_w1 = torch.mm(grad_hidden.t(), normed)
            grad_normed = torch.mm(grad_hidden, w1)
            del grad_hidden
            if mean is not None:
                grad_x = k.layer_norm_backward_add(grad_normed, x, mean, rstd, grad_out)
            else:
                grad_x = torch.add(grad_out, grad_normed)
        grads = (grad_w1, grad_b1, grad_w2, grad_b2)
        return (grad_x, *(grad.to(dtype) for grad, dtype in zip(grads, ctx.dtypes)), None, None, None, None)


__all__ = ["DEVICES", "DTYPES", "installed", "kernels", "supported", "triton_block"]
