"""Pooling of each sequence's rows into one vector (the decoders' first step).

Per-sequence means over ``(N, D)`` rows of concatenated sequences, with no Python loop over sequences
and accumulated in float32 whatever the rows' dtype (a bf16 sum over thousands of rows drifts).
"""

from __future__ import annotations

import torch
from torch import Tensor

MEAN_CHUNK = 1 << 13
"""Rows converted to float32 at a time (bounds the float32 copy)."""


class _SegmentMean(torch.autograd.Function):
    """Per-sequence means accumulated in float32 whatever the rows' dtype."""

    @staticmethod
    def forward(ctx, rows: Tensor, lengths: Tensor, sequence_of: Tensor, chunk: int) -> Tensor:
        dtype = torch.promote_types(rows.dtype, torch.float32)  # float64 rows stay float64
        sums = torch.zeros(len(lengths), rows.shape[1], dtype=dtype, device=rows.device)
        for start in range(0, rows.shape[0], chunk):
            stop = min(start + chunk, rows.shape[0])
            sums.index_add_(0, sequence_of[start:stop], rows[start:stop].to(dtype))
        ctx.save_for_backward(lengths, sequence_of)
        ctx.rows_dtype = rows.dtype
        return sums / lengths.unsqueeze(1).to(dtype)

    @staticmethod
    def backward(ctx, grad_means: Tensor):
        lengths, sequence_of = ctx.saved_tensors
        per_sequence = (grad_means / lengths.unsqueeze(1).to(grad_means.dtype)).to(ctx.rows_dtype)
        return per_sequence.index_select(0, sequence_of), None, None, None


def segment_mean(rows: Tensor, lengths: Tensor, *, chunk: int = MEAN_CHUNK) -> Tensor:
    """Mean of each sequence's rows: ``(N, D)``, ``(B,)`` -> ``(B, D)`` float32 (float64 for float64 rows)."""
    sequence_of = torch.repeat_interleave(torch.arange(len(lengths), device=rows.device), lengths)
    return _SegmentMean.apply(rows, lengths, sequence_of, chunk)


__all__ = ["segment_mean"]
