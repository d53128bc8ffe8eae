"""How a variant changes the best match of each known transcription-factor motif near it.

Why: a k-mer model of a variant's effect learns, from the elements it is trained on, which k-mers matter;
on an element it has not seen that carries over little (docs/quality.md, MPRA). Which motifs transcription
factors bind is known independently of any element (JASPAR's position frequency matrices), and a variant
that destroys or creates a binding site changes what the element does wherever the element is. So
:class:`MotifChange` scores each motif at every placement that can overlap the change, on both strands,
in the reference and the alternative window, and reports the change in the best score where either allele
holds a site (a best score above :data:`SITE_BITS`); elsewhere 0.

The matrices are buffers (saved with the weights), so a trained model needs no motif database to run.
Model code only: reading motif files is :mod:`genomix.io.motifs`.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

SITE_BITS = 6.0
"""A placement is a site when its log2-odds score against a uniform background is above this (64 times
likelier under the motif than at random). Measured on MPRA's valid elements, 4 to 8 bits score alike
(docs/quality.md, tenth round)."""
PSEUDOCOUNT = 0.2
"""Added to each base's count of a position before the frequencies are taken (no log of zero)."""
MAX_INDEL = 32
"""Bases of an insertion or deletion beyond this are not scanned (the scan covers the first ones)."""
_DNA_BASES = 4  # tokens 1..4 are A C G T (genomix.alphabet)
_ROWS = 256  # windows scored per matrix product: its (rows, placements, 2M) scores stay small


def log_odds(counts: list[np.ndarray], *, pseudocount: float = PSEUDOCOUNT) -> Tensor:
    """``(M, 4, W)`` float32 log2-odds matrices, A C G T rows, zero-padded to the longest motif ``W``, from
    ``M`` ``(4, width)`` count (or frequency) matrices."""
    if not counts:
        raise ValueError("log_odds needs at least one motif")
    width = max(np.shape(matrix)[1] for matrix in counts)
    out = np.zeros((len(counts), _DNA_BASES, width), dtype=np.float32)
    for i, matrix in enumerate(counts):
        matrix = np.asarray(matrix, dtype=np.float64)
        if matrix.ndim != 2 or matrix.shape[0] != _DNA_BASES or matrix.shape[1] == 0 or (matrix < 0).any():
            raise ValueError(f"motif {i}: a count matrix must be (4, width) with non-negative entries, "
                             f"got shape {matrix.shape}")
        frequencies = (matrix + pseudocount) / (matrix + pseudocount).sum(axis=0, keepdims=True)
        with np.errstate(divide="ignore"):  # a zero count without a pseudocount: -inf, as it should be
            out[i, :, :matrix.shape[1]] = np.log2(frequencies * _DNA_BASES)
    return torch.from_numpy(out)


def first_difference(ref_tokens: Tensor, ref_lengths: Tensor, alt_tokens: Tensor,
                     alt_lengths: Tensor) -> tuple[Tensor, Tensor]:
    """Where each pair of windows first differs, and whether it differs at all.

    Returns:
        ``(position (B,) int64, changed (B,) bool)``: the first index where the two windows' tokens differ
        (or the shorter one's length, when one is a prefix of the other); ``changed`` is False for
        identical windows.
    """
    width = int(torch.maximum(ref_lengths, alt_lengths).max()) if len(ref_lengths) else 0
    ref, alt = _padded(ref_tokens, ref_lengths, width), _padded(alt_tokens, alt_lengths, width)
    shorter = torch.minimum(ref_lengths, alt_lengths)
    inside = torch.arange(width, device=ref.device)[None, :] < shorter[:, None]
    differs = (ref != alt) & inside
    any_differs = differs.any(dim=1)
    position = torch.where(any_differs, differs.to(torch.int8).argmax(dim=1), shorter)
    return position, any_differs | (ref_lengths != alt_lengths)


def _gather(tokens: Tensor, lengths: Tensor, columns: Tensor, keep: Tensor | None = None) -> Tensor:
    """``(B, C)`` tokens at ``columns`` (``(B, C)`` indices within each of the concatenated windows), 0 where a
    column falls outside its window or ``keep`` is False."""
    inside = (columns >= 0) & (columns < lengths[:, None])
    if keep is not None:
        inside &= keep
    starts = torch.cumsum(lengths, 0) - lengths
    index = torch.where(inside, starts[:, None] + columns, torch.zeros_like(columns))
    return torch.where(inside, tokens.long()[index] if len(tokens) else torch.zeros_like(index), 0)


def _padded(tokens: Tensor, lengths: Tensor, width: int) -> Tensor:
    """``(B, width)`` tokens of concatenated windows, 0 after each window's end."""
    return _gather(tokens, lengths, torch.arange(width, device=tokens.device).expand(len(lengths), width))


class MotifChange(nn.Module):
    """Per motif, the change a variant makes to the best site score within reach of the change.

    Args:
        count: number of motifs ``M``.
        width: their longest width ``W`` (the matrices are zero-padded to it).
        site_bits: the score above which a placement is a site (:data:`SITE_BITS`).

    The matrices start at zero; :meth:`set_matrices` installs them (:func:`log_odds`), and a checkpoint's
    state restores them.

    Shapes:
        ``forward(ref_tokens (N_ref,), ref_lengths (B,), alt_tokens (N_alt,), alt_lengths (B,))`` -> ``(B, M)``
        float32: ``max score (alt) - max score (ref)`` where either is above ``site_bits``, else 0; 0 for
        identical windows.
    """

    def __init__(self, count: int, width: int, *, site_bits: float = SITE_BITS) -> None:
        super().__init__()
        if count < 1 or width < 1:
            raise ValueError(f"a motif scan needs count >= 1 and width >= 1, got {count} and {width}")
        self.count, self.width, self.site_bits = int(count), int(width), float(site_bits)
        self.register_buffer("matrices", torch.zeros(count, _DNA_BASES, width))

    @torch.no_grad()
    def set_matrices(self, matrices: Tensor) -> None:
        """Install ``(M, 4, W)`` log-odds matrices (:func:`log_odds`)."""
        if tuple(matrices.shape) != tuple(self.matrices.shape):
            raise ValueError(f"expected motif matrices of shape {tuple(self.matrices.shape)}, got "
                             f"{tuple(matrices.shape)}")
        self.matrices.copy_(matrices)

    def best_scores(self, tokens: Tensor, lengths: Tensor, position: Tensor, extra: Tensor) -> Tensor:
        """``(B, M)``: each motif's best score, either strand, over the placements of a window that can
        overlap ``[position, position + extra]`` (``extra``: the length of an indel, capped at
        :data:`MAX_INDEL`)."""
        span = 2 * self.width - 1 + (int(extra.max()) if len(extra) else 0)
        offsets = torch.arange(span, device=tokens.device)[None, :]
        segment = _gather(tokens, lengths, position[:, None] - (self.width - 1) + offsets,
                          keep=offsets < (2 * self.width - 1 + extra)[:, None])
        segment = torch.where(segment <= _DNA_BASES, segment, 0)  # N, IUPAC codes and gaps: no base
        bases = torch.nn.functional.one_hot(segment, _DNA_BASES + 1)[..., 1:]
        placements = bases.to(self.matrices.dtype).unfold(1, self.width, 1)  # (B, P, 4, W): every placement
        kernels = torch.cat([self.matrices, self.matrices.flip(1, 2)])  # both strands: A<->T, C<->G, reversed
        kernels = kernels.reshape(len(kernels), -1).T
        reaches = torch.arange(placements.shape[1], device=tokens.device)[None, :] < (self.width + extra)[:, None]
        best = []
        with torch.autocast(tokens.device.type, enabled=False):
            for rows in torch.arange(len(segment), device=tokens.device).split(_ROWS):  # a matrix product each
                scores = placements[rows].reshape(-1, _DNA_BASES * self.width) @ kernels
                scores = scores.view(len(rows), placements.shape[1], kernels.shape[1])  # (rows, P, 2M)
                if not bool(reaches[rows].all()):
                    scores = scores.masked_fill(~reaches[rows, :, None], float("-inf"))
                best.append(scores.amax(dim=1))  # over the placements that reach the change
        scores = torch.cat(best) if best else placements.new_zeros(0, kernels.shape[1])
        return torch.maximum(scores[:, :self.count], scores[:, self.count:])

    def forward(self, ref_tokens: Tensor, ref_lengths: Tensor, alt_tokens: Tensor, alt_lengths: Tensor) -> Tensor:
        ref_lengths = torch.as_tensor(ref_lengths, dtype=torch.int64, device=ref_tokens.device)
        alt_lengths = torch.as_tensor(alt_lengths, dtype=torch.int64, device=ref_tokens.device)
        position, changed = first_difference(ref_tokens, ref_lengths, alt_tokens, alt_lengths)
        ref = self.best_scores(ref_tokens, ref_lengths, position, (ref_lengths - alt_lengths).clamp(0, MAX_INDEL))
        alt = self.best_scores(alt_tokens, alt_lengths, position, (alt_lengths - ref_lengths).clamp(0, MAX_INDEL))
        site = torch.maximum(ref, alt) > self.site_bits
        return torch.where(site & changed[:, None], alt - ref, torch.zeros_like(ref))

    def extra_repr(self) -> str:
        return f"motifs={self.count}, width={self.width}, site_bits={self.site_bits:g}"


__all__ = ["MAX_INDEL", "PSEUDOCOUNT", "SITE_BITS", "MotifChange", "first_difference", "log_odds"]
