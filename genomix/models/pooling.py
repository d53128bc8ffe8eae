"""Pooling of each sequence's rows into one vector (the decoders' first step).

Per-sequence means (published) or means and position moments over ``(N, D)`` rows of concatenated
sequences, with no Python loop over sequences and accumulated in float32 whatever the rows' dtype (a bf16
sum over thousands of rows drifts), a chunk of rows at a time (no full-size float32 copy).

Why moments: the rotation is cyclic and a mean forgets where anything was, so a mean-pooled ChordMixer
cannot tell "motif A before motif B" from "B before A". The first moment of each channel along the
sequence, ``mean_p ramp(p) x_p`` with ``ramp`` rising from about ``-sqrt(3)`` to ``sqrt(3)`` (mean 0,
variance 1), is where that channel's feature lies; a linear decoder can compare two features' places.
"""

from __future__ import annotations

import math

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


class _SegmentMoments(torch.autograd.Function):
    """Per-sequence ``[mean_p x_p, mean_p ramp_p x_p]`` in float32, one pass over chunks of rows."""

    @staticmethod
    def forward(ctx, rows: Tensor, lengths: Tensor, sequence_of: Tensor, ramp: Tensor, chunk: int) -> Tensor:
        dtype = torch.promote_types(rows.dtype, torch.float32)
        sums = torch.zeros(2, len(lengths), rows.shape[1], dtype=dtype, device=rows.device)
        for start in range(0, rows.shape[0], chunk):
            stop = min(start + chunk, rows.shape[0])
            owner, x = sequence_of[start:stop], rows[start:stop].to(dtype)
            sums[0].index_add_(0, owner, x)
            sums[1].index_add_(0, owner, x * ramp[start:stop, None].to(dtype))
        ctx.save_for_backward(lengths, sequence_of, ramp)
        ctx.rows_dtype, ctx.chunk = rows.dtype, chunk
        return torch.cat([sums[0], sums[1]], 1) / lengths.unsqueeze(1).to(dtype)

    @staticmethod
    def backward(ctx, grad: Tensor):
        lengths, sequence_of, ramp = ctx.saved_tensors
        grad = grad / lengths.unsqueeze(1).to(grad.dtype)
        grad_mean, grad_moment = grad.chunk(2, dim=1)
        out = torch.empty(len(sequence_of), grad_mean.shape[1], dtype=ctx.rows_dtype, device=grad.device)
        for start in range(0, len(sequence_of), ctx.chunk):
            stop = min(start + ctx.chunk, len(sequence_of))
            owner = sequence_of[start:stop]
            out[start:stop] = grad_mean.index_select(0, owner) + grad_moment.index_select(0, owner) \
                * ramp[start:stop, None].to(grad.dtype)
        return out, None, None, None, None


def segment_mean(rows: Tensor, lengths: Tensor, *, chunk: int = MEAN_CHUNK) -> Tensor:
    """Mean of each sequence's rows: ``(N, D)``, ``(B,)`` -> ``(B, D)`` float32 (float64 for float64 rows)."""
    sequence_of = torch.repeat_interleave(torch.arange(len(lengths), device=rows.device), lengths)
    return _SegmentMean.apply(rows, lengths, sequence_of, chunk)


def position_ramp(lengths: Tensor) -> Tensor:
    """``(B,)`` lengths -> ``(N,)`` float32 ``sqrt(12) ((p + 1/2) / L - 1/2)`` at each position ``p`` of each
    sequence: mean 0 and variance about 1 over every sequence, 0 for a sequence of one position."""
    lengths = lengths.to(torch.int64)
    sequence_of = torch.repeat_interleave(torch.arange(len(lengths), device=lengths.device), lengths)
    starts = torch.cumsum(lengths, 0) - lengths
    position = (torch.arange(int(lengths.sum()), device=lengths.device) - starts[sequence_of]).to(torch.float64)
    return (math.sqrt(12) * ((position + 0.5) / lengths[sequence_of] - 0.5)).to(torch.float32)


def segment_moments(rows: Tensor, lengths: Tensor, *, chunk: int = MEAN_CHUNK) -> Tensor:
    """Mean and first position moment of each sequence's rows (module docstring): ``(N, D)``, ``(B,)`` ->
    ``(B, 2 D)`` float32 (float64 for float64 rows), ``[mean_p x_p, mean_p ramp_p x_p]``."""
    sequence_of = torch.repeat_interleave(torch.arange(len(lengths), device=rows.device), lengths)
    return _SegmentMoments.apply(rows, lengths, sequence_of, position_ramp(lengths), chunk)


__all__ = ["segment_mean", "segment_moments", "position_ramp"]
