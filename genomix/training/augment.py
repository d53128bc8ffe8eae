"""Training-time augmentation that stays reproducible across a resume: random windows of long sequences.

The window of sequence ``k`` in epoch ``e`` is drawn from ``numpy.random.default_rng([seed, e, k])``,
so it depends on nothing but the seed, the epoch and the sequence: a resumed run draws the same
windows without saving any random state. Evaluation always reads whole sequences.
"""

from __future__ import annotations

import numpy as np

from genomix.alphabet import reverse_complement


def crop_lengths(lengths: np.ndarray, *, crop: int) -> np.ndarray:
    """Lengths after cropping (what the batch sampler budgets): ``min(length, crop)``; ``crop=0``: as is."""
    lengths = np.asarray(lengths, dtype=np.int64)
    return np.minimum(lengths, crop) if crop > 0 else lengths


def random_windows(
    data: np.ndarray, lengths: np.ndarray, indices: np.ndarray, *, crop: int, seed: int, epoch: int
) -> tuple[np.ndarray, np.ndarray]:
    """Cut each sequence longer than ``crop`` to a random window of ``crop`` positions.

    Args:
        data: ``(N,)`` tokens (or ``(N, C)`` values), the batch's sequences concatenated.
        lengths: ``(B,)`` their lengths.
        indices: ``(B,)`` their indices in the split (seed the windows).
        crop: window length (``0`` = no cropping).
        seed: run seed.
        epoch: epoch number.

    Returns:
        ``(data, lengths)`` of the windows, concatenated in the same order.
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    if crop <= 0 or (lengths <= crop).all():
        return data, lengths
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    pieces = []
    for start, length, index in zip(starts.tolist(), lengths.tolist(), np.asarray(indices).tolist()):
        offset = 0
        if length > crop:
            offset = int(np.random.default_rng([seed, epoch, index]).integers(0, length - crop + 1))
        pieces.append(data[start + offset : start + offset + min(length, crop)])
    return np.concatenate(pieces), np.minimum(lengths, crop)


def random_reverse_complements(
    tokens: np.ndarray, lengths: np.ndarray, indices: np.ndarray, *, seed: int, epoch: int
) -> np.ndarray:
    """Replace each DNA sequence by its reverse complement with probability 1/2.

    Both strands of a double-stranded molecule carry the same label, so this doubles what the model
    sees of each sequence at no cost. The choice for sequence ``k`` in epoch ``e`` is drawn from
    ``numpy.random.default_rng([seed, e, k, 1])`` (apart from the crop's draw), so a resumed run draws
    the same strands.

    Args:
        tokens: ``(N,)`` DNA tokens, the batch's sequences concatenated.
        lengths: ``(B,)`` their lengths.
        indices: ``(B,)`` their indices in the split.
        seed: run seed.
        epoch: epoch number.

    Returns:
        ``(N,)`` tokens, the same lengths in the same order.
    """
    tokens = np.asarray(tokens)
    lengths = np.asarray(lengths, dtype=np.int64)
    out = tokens.copy()
    start = 0
    for length, index in zip(lengths.tolist(), np.asarray(indices).tolist()):
        if np.random.default_rng([seed, epoch, index, 1]).random() < 0.5:
            out[start:start + length] = reverse_complement(tokens[start:start + length])
        start += length
    return out
