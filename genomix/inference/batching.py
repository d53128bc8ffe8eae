"""Streaming token-budget batches: items arrive one by one and leave in the same order, grouped.

The training sampler (:mod:`genomix.datasets.sampler`) sees every length up front and sorts; a FASTA
stream does not, so here consecutive items are packed greedily until the next one would pass the
budget. An item longer than the budget forms a batch of its own. Order is kept, so results can be
written as they come. numpy only; no torch.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Generic, TypeVar

import numpy as np

Tag = TypeVar("Tag")


class Batch(Generic[Tag]):
    """Consecutive items packed together.

    Attributes:
        tags: one caller-defined tag per item, in input order.
        tokens: ``(N,)`` the items' tokens concatenated (``N = lengths.sum()``).
        lengths: ``(B,)`` each item's length.
    """

    def __init__(self, tags: list[Tag], pieces: list[np.ndarray]) -> None:
        self.tags = tags
        self.lengths = np.fromiter((piece.size for piece in pieces), dtype=np.int64, count=len(pieces))
        self.tokens = pieces[0] if len(pieces) == 1 else np.concatenate(pieces)

    def __len__(self) -> int:
        return len(self.tags)


def token_budget_batches(items: Iterable[tuple[Tag, np.ndarray]], *, max_tokens: int) -> Iterator[Batch[Tag]]:
    """Pack consecutive ``(tag, tokens)`` items into batches of at most ``max_tokens`` tokens.

    Args:
        items: ``(tag, tokens)`` pairs, tokens ``(L_i,)`` with ``L_i >= 1``; consumed lazily.
        max_tokens: the token budget of one batch (sum of lengths).

    Yields:
        :class:`Batch` objects; concatenating their tags gives the input order.

    Raises:
        ValueError: ``max_tokens < 1``, or an empty item.
    """
    if max_tokens < 1:
        raise ValueError(f"max_tokens should be at least 1, got {max_tokens}")
    tags: list[Tag] = []
    pieces: list[np.ndarray] = []
    total = 0
    for tag, tokens in items:
        if tokens.size < 1:
            raise ValueError(f"item {tag!r} is empty; every item needs at least one token")
        if pieces and total + tokens.size > max_tokens:
            yield Batch(tags, pieces)
            tags, pieces, total = [], [], 0
        tags.append(tag)
        pieces.append(tokens)
        total += tokens.size
    if pieces:
        yield Batch(tags, pieces)
