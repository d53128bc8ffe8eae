"""The chord rotation as one gather: index computed once per batch, reused by every block.

Layout: activations are ``(N, D)`` rows (sequences concatenated), ``D = n_tracks * track_size``.
Viewed as ``(N * n_tracks, track_size)``, rotating every track of every sequence is a single row
permutation: output row ``(n, t)`` reads input row ``(src(n, t), t)`` where, for position ``p`` of a
sequence of length ``L`` starting at ``offset``, ``src = offset + (p + shift_t) mod L`` and
``shift_0 = 0``, ``shift_t = 2**(t-1)``. The permutation is the same in every block, so it is built
once; its inverse drives the backward pass (a gather, not a scatter-add).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class Rotation:
    """A batch's rotation permutation over ``(N * n_tracks)`` rows of ``track_size`` channels.

    Attributes:
        index: ``(N * n_tracks,)``; output row ``r`` reads input row ``index[r]``. int32 on CPU
            (the gather is faster) unless the rows outnumber 2**31; int64 elsewhere.
        inverse: same shape and dtype, ``index[inverse[r]] == r``; ``None`` when built for
            inference only (no backward pass).
        n_tracks: number of tracks.
        lengths: ``(B,)`` int64 lengths of the sequences laid end to end (what a norm over each
            sequence's positions needs); None when unknown.

    Sequences never read outside themselves, so the first ``n`` tokens' rows
    (``index[: n * n_tracks]``) form a valid rotation of those tokens alone: that is how a block
    runs on a prefix of the batch (the sequences that still need depth).
    """

    index: Tensor
    inverse: Tensor | None
    n_tracks: int
    lengths: Tensor | None = None

    def prefix(self, n_tokens: int) -> tuple[Tensor, Tensor | None]:
        """Index and inverse restricted to the first ``n_tokens`` tokens."""
        rows = n_tokens * self.n_tracks
        return self.index[:rows], None if self.inverse is None else self.inverse[:rows]

    def head(self, n_sequences: int, n_tokens: int) -> Rotation:
        """The rotation of the first ``n_sequences`` sequences alone (``n_tokens`` tokens in all)."""
        index, inverse = self.prefix(n_tokens)
        lengths = None if self.lengths is None else self.lengths[:n_sequences]
        return Rotation(index=index, inverse=inverse, n_tracks=self.n_tracks, lengths=lengths)


_VECTORISED_ENTRIES = 1 << 24
"""Up to this many index entries the table is built in one vectorised pass (int64 temporaries of
this size); beyond, track by track so temporaries stay O(N)."""


def track_shifts(n_tracks: int) -> list[int]:
    """Shift of each track: ``[0, 1, 2, 4, ..., 2**(n_tracks-2)]``."""
    return [0] + [2 ** (t - 1) for t in range(1, n_tracks)]


def build_rotation(lengths: Tensor, n_tracks: int, *, with_inverse: bool = True) -> Rotation:
    """Build the rotation permutation for sequences of ``lengths`` laid end to end.

    Built in closed form (the inverse is the rotation by ``-shift``): in one vectorised pass for
    ordinary batches, track by track for megabase inputs so the temporaries stay ``O(N)``.

    Args:
        lengths: ``(B,)`` int64 lengths (all >= 1), on the device of the activations.
        n_tracks: number of tracks.
        with_inverse: also build the inverse (needed for a backward pass).

    Returns:
        The :class:`Rotation` for ``N = lengths.sum()`` tokens.
    """
    device = lengths.device
    lengths = lengths.to(torch.int64)
    n_tokens = int(lengths.sum())
    starts = torch.cumsum(lengths, 0) - lengths
    sequence_of = torch.repeat_interleave(torch.arange(len(lengths), device=device), lengths)
    start_of = starts[sequence_of]  # (N,)
    length_of = lengths[sequence_of]  # (N,)
    position = torch.arange(n_tokens, device=device) - start_of
    del sequence_of
    small = device.type == "cpu" and n_tokens * n_tracks < 2**31
    dtype = torch.int32 if small else torch.int64

    shifts = torch.tensor(track_shifts(n_tracks), dtype=torch.int64, device=device)
    tracks = torch.arange(n_tracks, dtype=torch.int64, device=device)

    def table(sign: int) -> Tensor:
        if n_tokens * n_tracks <= _VECTORISED_ENTRIES:  # a few large ops (each op has a fixed cost)
            source = start_of[:, None] + torch.remainder(position[:, None] + sign * shifts, length_of[:, None])
            return (source * n_tracks + tracks).to(dtype).view(-1)
        out = torch.empty(n_tokens, n_tracks, dtype=dtype, device=device)
        for track, shift in enumerate(track_shifts(n_tracks)):  # O(N) temporaries for megabases
            source = start_of + torch.remainder(position + sign * shift, length_of)
            out[:, track] = source * n_tracks + track
        return out.view(-1)

    return Rotation(index=table(+1), inverse=table(-1) if with_inverse else None, n_tracks=n_tracks,
                    lengths=lengths)


class _RotateAdd(torch.autograd.Function):
    """``residual + rotate(update)`` in one pass; backward gathers through the inverse permutation."""

    @staticmethod
    def forward(ctx, residual: Tensor, update: Tensor, index: Tensor, inverse: Tensor,
                n_tracks: int) -> Tensor:
        if inverse is None and (residual.requires_grad or update.requires_grad):
            raise RuntimeError("this rotation was built without its inverse (inference only)")
        rotated = _gather_rows(update, index)
        ctx.save_for_backward(inverse)
        ctx.n_tracks = n_tracks
        ctx.update_dtype = update.dtype
        return torch.add(residual, rotated)  # out of place: a bf16 add_ is slower on the CPU

    @staticmethod
    def backward(ctx, grad_output: Tensor):
        (inverse,) = ctx.saved_tensors
        grad_update = _gather_rows(grad_output.to(ctx.update_dtype), inverse)
        return grad_output, grad_update, None, None, None


def _gather_rows(x: Tensor, index: Tensor) -> Tensor:
    """``x`` viewed as ``index.numel()`` rows, gathered by ``index``; same shape as ``x``.

    Rows of bf16/fp16 are moved as 32-bit words (a bit copy), which the CPU gather handles faster.
    """
    return _gather_subset(x.contiguous().view(index.numel(), -1), index).view(x.shape)


def rotate_add(residual: Tensor, update: Tensor, index: Tensor, inverse: Tensor, n_tracks: int) -> Tensor:
    """Return ``residual + rotate(update)``.

    Args:
        residual: ``(n, D)`` activations before the block.
        update: ``(n, D)`` the block's MLP output (may be a lower precision than ``residual``).
        index, inverse: the rotation permutation for these ``n`` tokens (``n * n_tracks`` entries).
        n_tracks: number of tracks.

    Returns:
        ``(n, D)`` in the promoted dtype of ``residual`` and ``update``.
    """
    return _RotateAdd.apply(residual, update, index, inverse, n_tracks)


def rotate(x: Tensor, index: Tensor, n_tracks: int) -> Tensor:
    """Rotate ``(n, D)`` activations (no residual); differentiable through ``index_select``."""
    return _gather_rows(x, index)


def rotate_add_(residual: Tensor, update: Tensor, index: Tensor, *, chunk_rows: int) -> Tensor:
    """In place, no autograd: ``residual += rotate(update)`` (:func:`rotate_add_into` ``residual``).

    The inference path for long inputs: no full-size rotated copy is ever allocated.
    """
    return rotate_add_into(residual, residual, update, index, chunk_rows=chunk_rows)


def rotate_add_into(out: Tensor, residual: Tensor, update: Tensor, index: Tensor, *, chunk_rows: int) -> Tensor:
    """No autograd: ``out = residual + rotate(update)``, gathering ``chunk_rows`` rows at a time.

    Args:
        out: ``(n, D)`` contiguous destination (may be ``residual`` itself).
        residual: ``(n, D)`` contiguous activations.
        update: ``(n, D)`` same dtype.
        index: the rotation's ``n * n_tracks`` gather index.
        chunk_rows: rows of ``track_size`` channels gathered per step.

    Returns:
        ``out``.
    """
    n_rows = index.numel()
    target, base = out.view(n_rows, -1), residual.view(n_rows, -1)
    source = update.contiguous().view(n_rows, -1)
    chunk_rows = max(chunk_rows, 1)  # an empty input has no rows per token
    for start in range(0, n_rows, chunk_rows):
        stop = min(start + chunk_rows, n_rows)
        torch.add(base[start:stop], _gather_subset(source, index[start:stop]), out=target[start:stop])
    return out


def _gather_subset(rows: Tensor, index: Tensor) -> Tensor:
    """``rows[index]`` for 2-D ``rows``, moving 2-byte rows as 32-bit words when possible."""
    if rows.element_size() == 2 and rows.shape[1] % 2 == 0:
        return rows.view(torch.int32).index_select(0, index).view(rows.dtype)
    return rows.index_select(0, index)
