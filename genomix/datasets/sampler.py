"""Token-budget batch sampler: batches by sum of lengths, similar lengths together, exact resume.

A batch is a list of sequence indices whose lengths sum to at most ``max_tokens``; a sequence longer
than the budget forms a batch of its own. Each epoch the indices are shuffled with a seed derived from
``(seed, epoch)``, cut into pools of ``pool_size`` sequences, each pool is sorted by length and packed
greedily, and the order of the batches is shuffled again. Similar lengths therefore share a batch
(little wasted compute on very unequal neighbours) while the order of the data stays random.

With ``world_size > 1`` (DDP) the epoch's batches are dealt round-robin to the ranks. Before dealing,
the batch with the most sequences is split in two until the count divides evenly, so every rank gets
the same number of batches, the ranks' batches are disjoint and every index is still seen exactly
once. Only when every batch holds a single sequence and the count still does not divide are the first
batches repeated (as :class:`torch.utils.data.DistributedSampler` does); a warning says so.

The sampler knows how many batches it has handed out in the current epoch (:meth:`state_dict`), so a
resumed run continues with the very next batch: nothing repeated, nothing skipped.

numpy only; no torch.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator

import numpy as np

logger = logging.getLogger(__name__)


class TokenBudgetBatchSampler:
    """Yield lists of indices whose lengths sum to at most ``max_tokens``.

    Args:
        lengths: ``(n,)`` length of each sequence, in tokens.
        max_tokens: the token budget of one batch (per rank).
        shuffle: shuffle (seeded) each epoch; ``False`` gives sorted-by-length batches in a fixed order.
        seed: base seed; epoch ``e`` uses ``(seed, e)``.
        pool_size: number of sequences sorted together before packing (larger = more uniform
            lengths within a batch, less random batch composition).
        rank: this process's rank.
        world_size: number of processes (DDP).
        max_sequences: optional cap on sequences per batch (0 = no cap).

    Raises:
        ValueError: an argument is out of range.
    """

    def __init__(
        self,
        lengths: np.ndarray,
        *,
        max_tokens: int,
        shuffle: bool = True,
        seed: int = 0,
        pool_size: int = 256,
        rank: int = 0,
        world_size: int = 1,
        max_sequences: int = 0,
    ) -> None:
        lengths = np.asarray(lengths, dtype=np.int64)
        if lengths.ndim != 1 or lengths.size == 0:
            raise ValueError(f"lengths should be a non-empty 1-D array, got shape {lengths.shape}")
        if (lengths < 1).any():
            raise ValueError("every sequence should have length >= 1")
        if max_tokens < 1:
            raise ValueError(f"max_tokens should be >= 1, got {max_tokens}")
        if pool_size < 1:
            raise ValueError(f"pool_size should be >= 1, got {pool_size}")
        if world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"rank should be in [0, world_size), got rank={rank}, world_size={world_size}")
        if max_sequences < 0:
            raise ValueError(f"max_sequences should be >= 0, got {max_sequences}")
        self.lengths = lengths
        self.max_tokens = int(max_tokens)
        self.shuffle = shuffle
        self.seed = int(seed)
        self.pool_size = int(pool_size)
        self.rank = int(rank)
        self.world_size = int(world_size)
        self.max_sequences = int(max_sequences)
        self.epoch = 0
        self.position = 0  # batches of the current epoch already handed out on this rank
        self._cache: tuple[int, list[np.ndarray]] | None = None

    # -- the batches of an epoch -------------------------------------------------------------

    def epoch_batches(self, epoch: int) -> list[np.ndarray]:
        """The batches this rank gets in ``epoch`` (deterministic in ``seed`` and ``epoch``).

        Returns:
            A list of ``int64`` index arrays.
        """
        if self._cache is not None and self._cache[0] == epoch:
            return self._cache[1]
        batches = self._global_batches(epoch)
        batches = _even_out(batches, self.world_size)
        mine = batches[self.rank :: self.world_size]
        self._cache = (epoch, mine)
        return mine

    def _global_batches(self, epoch: int) -> list[np.ndarray]:
        rng = np.random.default_rng([self.seed, epoch])
        n = self.lengths.size
        order = rng.permutation(n) if self.shuffle else np.argsort(self.lengths, kind="stable")
        batches: list[np.ndarray] = []
        for start in range(0, n, self.pool_size if self.shuffle else n):
            pool = order[start : start + (self.pool_size if self.shuffle else n)]
            pool = pool[np.argsort(self.lengths[pool], kind="stable")]
            batches.extend(self._pack(pool))
        if self.shuffle:
            batches = [batches[i] for i in rng.permutation(len(batches))]
        return batches

    def _pack(self, pool: np.ndarray) -> list[np.ndarray]:
        batches: list[np.ndarray] = []
        current: list[int] = []
        tokens = 0
        for index in pool.tolist():
            length = int(self.lengths[index])
            full = tokens + length > self.max_tokens or (
                self.max_sequences and len(current) >= self.max_sequences
            )
            if current and full:
                batches.append(np.asarray(current, dtype=np.int64))
                current, tokens = [], 0
            current.append(index)
            tokens += length
        if current:
            batches.append(np.asarray(current, dtype=np.int64))
        return batches

    # -- iteration and position --------------------------------------------------------------

    def set_epoch(self, epoch: int) -> None:
        """Start ``epoch`` from its first batch."""
        if epoch != self.epoch:
            self.epoch = int(epoch)
            self.position = 0

    def __len__(self) -> int:
        """Exact number of batches this rank gets in the current epoch."""
        return len(self.epoch_batches(self.epoch))

    def num_batches(self, epoch: int) -> int:
        """Exact number of batches this rank gets in ``epoch``."""
        return len(self.epoch_batches(epoch))

    def __iter__(self) -> Iterator[list[int]]:
        """Yield the remaining batches of the current epoch, advancing the position."""
        batches = self.epoch_batches(self.epoch)
        while self.position < len(batches):
            batch = batches[self.position]
            self.position += 1
            yield batch.tolist()

    def state_dict(self) -> dict[str, int]:
        """The position to resume from: only primitives."""
        return {"epoch": self.epoch, "position": self.position, "seed": self.seed,
                "world_size": self.world_size, "max_tokens": self.max_tokens}

    def load_state_dict(self, state: dict[str, int]) -> None:
        """Continue from a position saved by :meth:`state_dict`.

        Raises:
            ValueError: the saved sampler had another seed, budget or world size.
        """
        for key in ("seed", "world_size", "max_tokens"):
            if int(state[key]) != getattr(self, key):
                raise ValueError(
                    f"cannot resume the batch sampler: saved {key}={state[key]}, now {getattr(self, key)}"
                )
        self.epoch = int(state["epoch"])
        self.position = int(state["position"])


def _even_out(batches: list[np.ndarray], world_size: int) -> list[np.ndarray]:
    """Split the largest batches until ``len(batches)`` divides by ``world_size``; pad as a last resort."""
    if world_size == 1 or len(batches) % world_size == 0:
        return batches
    batches = list(batches)
    while len(batches) % world_size:
        sizes = [b.size for b in batches]
        largest = int(np.argmax(sizes))
        if sizes[largest] < 2:
            break
        batch = batches[largest]
        half = batch.size // 2
        batches[largest : largest + 1] = [batch[:half], batch[half:]]
    missing = (-len(batches)) % world_size
    if missing:
        warnings.warn(
            f"{missing} batch(es) repeated so that {world_size} ranks get the same number of batches",
            stacklevel=3,
        )
        batches.extend(batches[i % len(batches)] for i in range(missing))
    return batches
