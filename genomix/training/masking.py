"""BERT-style masking of DNA tokens for masked-nucleotide pretraining (``masked_lm`` datasets).

Each ``A C G T`` position of a sequence is chosen as a target with probability ``fraction``; ``N``, the
IUPAC ambiguity codes and padding are never targets. A chosen position is then, in the model's input,

* replaced by the mask symbol (``N``) with probability ``1 - random - keep``,
* replaced by a uniformly drawn base (``A C G T``, which may be the base itself) with probability ``random``,
* kept as it is with probability ``keep``.

Why ``N`` is the mask symbol: the default model embeds each position by the 4-mer that starts there
(:mod:`genomix.models.kmers`), and every k-mer that holds an ``N`` is the one "no k-mer" id. So masking a
base with ``N`` hides it from *every* k-mer that covers it (positions ``p - k + 1 .. p``), and the k-mer
embedding cannot leak the masked base through its neighbours. The same trained embedding then serves
fine-tuning unchanged (real ``N`` runs already look like this).

The draws of sequence ``k`` in epoch ``e`` come from ``numpy.random.default_rng([seed, e, k, 2])``
(apart from the crop's and the strand's draws), so a resumed run masks the same positions and a
validation split is masked the same way at every evaluation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MASK_TOKEN = 5
"""The DNA token of ``N`` (:mod:`genomix.alphabet`): the mask symbol."""
BASE_TOKENS = (1, 2, 3, 4)
"""``A C G T``: the only positions that can be targets; target class = token - 1."""
IGNORE = -100
"""Target of a position that is not predicted (``torch.nn.functional.cross_entropy``'s ``ignore_index``)."""
N_BASES = 4


@dataclass(frozen=True)
class MaskingPlan:
    """How positions are chosen and corrupted (see the module docstring).

    Attributes:
        fraction: probability that an ``A C G T`` position is a target.
        random: share of targets replaced by a random base.
        keep: share of targets left unchanged.
    """

    fraction: float = 0.15
    random: float = 0.1
    keep: float = 0.1

    def __post_init__(self) -> None:
        if not 0 < self.fraction <= 1:
            raise ValueError(f"mask fraction should be in (0, 1], got {self.fraction}")
        if self.random < 0 or self.keep < 0 or self.random + self.keep > 1:
            raise ValueError(f"mask random and keep shares should be >= 0 and sum to at most 1, "
                             f"got {self.random} and {self.keep}")


def mask_tokens(tokens: np.ndarray, lengths: np.ndarray, indices: np.ndarray, *, plan: MaskingPlan,
                seed: int, epoch: int) -> tuple[np.ndarray, np.ndarray]:
    """Mask the concatenated DNA sequences of one batch.

    Args:
        tokens: ``(N,)`` DNA tokens, the batch's sequences concatenated.
        lengths: ``(B,)`` their lengths (summing to ``N``).
        indices: ``(B,)`` their indices in the split (seed the draws).
        plan: fraction and replacement mix.
        seed: run seed.
        epoch: epoch number (0 for evaluation).

    Returns:
        ``(inputs, targets)``: ``(N,)`` uint8 corrupted tokens, and ``(N,)`` int64 targets: the
        original base (0..3 for ``A C G T``) at chosen positions, :data:`IGNORE` everywhere else.
    """
    tokens = np.asarray(tokens, dtype=np.uint8)
    lengths = np.asarray(lengths, dtype=np.int64)
    inputs = tokens.copy()
    targets = np.full(tokens.shape[0], IGNORE, dtype=np.int64)
    start = 0
    for length, index in zip(lengths.tolist(), np.asarray(indices).tolist()):
        stop = start + length
        rng = np.random.default_rng([seed, epoch, index, 2])
        piece = tokens[start:stop]
        chosen = (rng.random(length) < plan.fraction) & (piece >= BASE_TOKENS[0]) & (piece <= BASE_TOKENS[-1])
        where = np.flatnonzero(chosen)
        kind = rng.random(len(where))
        random_bases = rng.integers(1, N_BASES + 1, size=len(where), dtype=np.uint8)
        replaced = np.where(kind < plan.random, random_bases, np.where(kind < plan.random + plan.keep,
                                                                       piece[where], np.uint8(MASK_TOKEN)))
        inputs[start + where] = replaced
        targets[start + where] = piece[where].astype(np.int64) - 1
        start = stop
    return inputs, targets


__all__ = ["MaskingPlan", "mask_tokens", "MASK_TOKEN", "IGNORE", "N_BASES"]
