"""Batches of a ``variant_effect`` split: ref and alt windows of the same variants, ready for RefAltModel.

The trainer's token-budget sampler should size a variant by :func:`pair_lengths` (both windows go
through the encoder), then read each batch with :func:`read_pairs`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from genomix.datasets.store import SplitView
from genomix.errors import DatasetFormatError


def alt_offsets(split: SplitView) -> np.ndarray:
    """``int64 (n + 1,)`` offsets of the alt windows (read once by the split view)."""
    if "alt_offsets" not in split.extra_names or "alt_tokens" not in split.extra_names:
        raise DatasetFormatError(f"{split.dataset.path}: split {split.name!r} has no alt windows "
                                 f"(alt_tokens/alt_offsets); is it a variant_effect dataset?")
    return split.extra_offsets("alt")


def longest_pair_window(split: SplitView) -> int:
    """The longest ref or alt window of a ``variant_effect`` split (0 when empty)."""
    if len(split) == 0:
        return 0
    return int(max(np.max(split.lengths), np.max(np.diff(alt_offsets(split)))))


def pair_lengths(split: SplitView) -> np.ndarray:
    """``int64 (n,)``: ref plus alt window length of each variant (its token cost in one encoder call)."""
    return split.lengths + np.diff(alt_offsets(split))


def read_pairs(split: SplitView, indices: Sequence[int] | np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The ref and alt windows of some variants, concatenated in the given order.

    Args:
        split: a split of a ``variant_effect`` dataset.
        indices: variant numbers (any order, repeats allowed).

    Returns:
        ``(ref_tokens (N_ref,), ref_lengths (B,), alt_tokens (N_alt,), alt_lengths (B,))``: uint8
        tokens and int64 lengths, the inputs of ``RefAltModel.forward`` (as tensors).
    """
    indices = np.asarray(indices, dtype=np.int64)
    ref_tokens, ref_lengths = split.read_many(indices)
    offsets = alt_offsets(split)
    alt_lengths = offsets[indices + 1] - offsets[indices]
    if len(indices) == 0:
        return ref_tokens, ref_lengths, np.empty(0, dtype=np.uint8), alt_lengths
    lo, hi = int(offsets[indices.min()]), int(offsets[indices.max() + 1])
    block = split.read_extra_rows("alt", lo, hi)  # one read of the covering range (batches come from nearby variants)
    alt_tokens = np.concatenate([block[offsets[k] - lo:offsets[k + 1] - lo] for k in indices])
    return ref_tokens, ref_lengths, alt_tokens, alt_lengths
