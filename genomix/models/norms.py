"""The norms a ChordMixer block can use: ``'LN'``, ``'BN'``, ``'GN'`` (as published) or ``'None'``.

They act on ``(N, D)`` rows of concatenated sequences. ``LN`` and ``BN`` are position-wise (``BN``'s
statistics span the batch in training, as published); ``GN`` normalises each sequence over all its
positions, per group of channels, so it is a :class:`SequenceNorm` and takes the rows' ``lengths``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

NORMS = ("LN", "BN", "GN", "None")
LOW_PRECISION = (torch.bfloat16, torch.float16)
STATS_CHUNK = 1 << 12
"""Rows per float32 step of the LayerNorm parameter gradients (4,096: the fastest measured)."""


class _LayerNormRows(torch.autograd.Function):
    """LayerNorm of low-precision rows whose weight and bias gradients are summed in float32.

    ATen's CPU kernel sums them in the input's dtype: over tens of thousands of bf16 rows the sum
    stops growing (measured: 90-98% too small at 40,000 rows). The input gradient stays ATen's.
    """

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, bias: Tensor, eps: float) -> Tensor:
        out, mean, rstd = torch.native_layer_norm(x, (x.shape[-1],), weight, bias, eps)
        ctx.save_for_backward(x, weight, bias, mean, rstd)
        return out

    @staticmethod
    def backward(ctx, grad: Tensor):
        x, weight, bias, mean, rstd = ctx.saved_tensors
        grad_x = None
        if ctx.needs_input_grad[0]:
            grad_x = torch.ops.aten.native_layer_norm_backward(
                grad.contiguous(), x, (x.shape[-1],), mean, rstd, weight, bias, [True, False, False])[0]
        width = x.shape[-1]
        rows, grad_rows = x.reshape(-1, width), grad.reshape(-1, width)
        mean, rstd = mean.reshape(-1, 1), rstd.reshape(-1, 1)
        weight32, bias32 = weight.float(), bias.float()
        grad_w = torch.zeros(width, dtype=torch.float32, device=x.device)
        grad_b = torch.zeros_like(grad_w)
        for start in range(0, rows.shape[0], STATS_CHUNK):  # float32 chunks: fused and exact
            chunk = slice(start, start + STATS_CHUNK)
            _, part_w, part_b = torch.ops.aten.native_layer_norm_backward(
                grad_rows[chunk].float(), rows[chunk].float(), (width,), mean[chunk], rstd[chunk],
                weight32, bias32, [False, True, True])
            grad_w += part_w
            grad_b += part_b
        return grad_x, grad_w.to(weight.dtype), grad_b.to(bias.dtype), None


class LayerNorm(nn.LayerNorm):
    """``nn.LayerNorm`` (same parameters) whose weight/bias gradients are exact for bf16/fp16 inputs."""

    def forward(self, x: Tensor) -> Tensor:
        if x.dtype in LOW_PRECISION and self.elementwise_affine and torch.is_grad_enabled() \
                and (self.weight.requires_grad or x.requires_grad):
            return _LayerNormRows.apply(x, self.weight, self.bias, self.eps)
        return super().forward(x)


class BatchNorm(nn.Module):
    """BatchNorm over channels of ``(N, D)`` rows (statistics over every position in the batch)."""

    def __init__(self, embedding_size: int) -> None:
        super().__init__()
        self.bn = nn.BatchNorm1d(embedding_size)

    def forward(self, x: Tensor) -> Tensor:
        return self.bn(x)


class SequenceNorm(nn.Module):
    """A norm whose statistics span each sequence's positions: ``forward(rows (N, D), lengths (B,))``.

    The block passes ``lengths`` to norms of this kind only; position-wise norms get the rows alone.
    """

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        raise NotImplementedError


class GroupNorm(SequenceNorm):
    """The published GroupNorm: ``nn.GroupNorm(track_size, D)`` on each sequence's ``(D, L)`` channels.

    Each sequence is normalised over all its positions, per group of ``D / track_size`` consecutive
    channels, then scaled and shifted per channel. In equal-lengths mode this is the published
    ``GroupNorm`` on ``(B, D, L)``; in variable-lengths mode each sequence uses its own positions only, so
    its output does not depend on its batch. Statistics are float32.

    Shapes:
        ``(N, D)`` rows and ``(B,)`` lengths summing to ``N`` -> ``(N, D)`` in the rows' dtype.
    """

    def __init__(self, embedding_size: int, track_size: int) -> None:
        super().__init__()
        self.gn = nn.GroupNorm(track_size, embedding_size)

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        n_rows, width = x.shape
        groups = self.gn.num_groups
        sequence_of = torch.repeat_interleave(torch.arange(len(lengths), device=x.device), lengths)
        dtype = torch.promote_types(x.dtype, torch.float32)  # float32 statistics, float64 stays float64
        grouped = x.to(dtype).view(n_rows, groups, width // groups)
        counts = (lengths.to(dtype) * (width // groups)).unsqueeze(1)  # (B, 1)
        zeros = torch.zeros(len(lengths), groups, dtype=dtype, device=x.device)
        mean = zeros.index_add(0, sequence_of, grouped.sum(-1)) / counts
        centered = grouped - mean.index_select(0, sequence_of).unsqueeze(-1)
        variance = zeros.index_add(0, sequence_of, centered.square().sum(-1)) / counts
        rstd = torch.rsqrt(variance + self.gn.eps)
        normed = (centered * rstd.index_select(0, sequence_of).unsqueeze(-1)).view(n_rows, width)
        if self.gn.affine:
            normed = normed * self.gn.weight.to(dtype) + self.gn.bias.to(dtype)
        return normed.to(x.dtype)


def make_norm(kind: str, embedding_size: int, track_size: int) -> nn.Module:
    """The norm named ``kind`` (``'LN'``, ``'BN'``, ``'GN'`` or ``'None'``)."""
    if kind not in NORMS:
        raise ValueError(f"norm must be one of {', '.join(repr(a) for a in NORMS)}; got {kind!r}")
    if kind == "LN":
        return LayerNorm(embedding_size)
    if kind == "BN":
        return BatchNorm(embedding_size)
    if kind == "GN":
        return GroupNorm(embedding_size, track_size)
    return nn.Identity()


def apply_norm(norm: nn.Module, x: Tensor, lengths: Tensor) -> Tensor:
    """``norm(x, lengths)`` for a :class:`SequenceNorm`, ``norm(x)`` for any other module."""
    return norm(x, lengths) if isinstance(norm, SequenceNorm) else norm(x)


__all__ = ["NORMS", "LayerNorm", "BatchNorm", "GroupNorm", "SequenceNorm", "make_norm", "apply_norm"]
