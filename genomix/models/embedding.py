"""Token embedding looked up straight into a low-precision dtype, with float32 weight gradients.

Why: under autocast ``nn.Embedding`` returns float32 rows, which the encoder then converts to bf16; in
backward the bf16 row gradients come back to float32 before the embedding sums them. For a training
batch of 42k tokens at D = 240 those are two float32 ``(N, D)`` tensors of 41 MB per step, each a fresh
mapping of pages the kernel must zero (PyTorch's CPU allocator does not cache), plus two conversion
passes. Here the lookup reads a bf16 copy of the (small) table, and the gradient is summed into a
float32 table a chunk of rows at a time: same forward values as embed-then-convert, same gradient up
to summation order.
"""

from __future__ import annotations

import torch
from torch import Tensor

GRAD_CHUNK = 1 << 13
"""Rows of the output gradient converted to float32 at a time in backward."""


def embed_low_precision(tokens: Tensor, weight: Tensor, padding_idx: int | None, dtype: torch.dtype) -> Tensor:
    """``nn.functional.embedding(tokens, weight).to(dtype)`` with float32-summed weight gradients.

    Args:
        tokens: integer token ids, any shape.
        weight: ``(vocabulary, D)`` embedding table (float32 parameters).
        padding_idx: the row that gets no gradient (as ``nn.Embedding``), or None.
        dtype: the output dtype (the autocast dtype).
    """
    return _LowPrecisionEmbedding.apply(tokens, weight, padding_idx, dtype)


class _LowPrecisionEmbedding(torch.autograd.Function):
    @staticmethod
    def forward(ctx, tokens: Tensor, weight: Tensor, padding_idx: int | None, dtype: torch.dtype) -> Tensor:
        ctx.save_for_backward(tokens)
        ctx.padding_idx, ctx.weight_shape, ctx.weight_dtype = padding_idx, weight.shape, weight.dtype
        return torch.nn.functional.embedding(tokens, weight.to(dtype))

    @staticmethod
    def backward(ctx, grad: Tensor):
        (tokens,) = ctx.saved_tensors
        accumulate = torch.promote_types(ctx.weight_dtype, torch.float32)
        grad_weight = torch.zeros(ctx.weight_shape, dtype=accumulate, device=grad.device)
        rows, flat = grad.reshape(-1, grad.shape[-1]), tokens.reshape(-1)
        for start in range(0, flat.numel(), GRAD_CHUNK):
            stop = start + GRAD_CHUNK
            grad_weight.index_add_(0, flat[start:stop], rows[start:stop].to(accumulate))
        if ctx.padding_idx is not None:
            grad_weight[ctx.padding_idx] = 0
        return None, grad_weight.to(ctx.weight_dtype), None, None


__all__ = ["embed_low_precision"]
