"""The two cheap predictors a masked-nucleotide model is measured against, fitted on the train split.

* :class:`UnigramPredictor`: the base frequencies of the train split's targets (ignores the input).
* :class:`ContextPredictor`: counts of the target base given the ``2k + 1`` input symbols around and at
  the masked position (``A C G T`` or "other": the mask ``N``, an ambiguity code, or past the sequence's
  end), with add-one smoothing. It sees exactly the corrupted input the network sees, in a window of
  ``k`` positions each side; it is the strongest cheap baseline (an order-``2k`` Markov model of the
  masked input).

Both are fitted on the same masks the training's first epoch draws (both strands), and scored on the
validation masks the network is scored on. numpy only.
"""

from __future__ import annotations

import math

import numpy as np

from genomix.training.masking import IGNORE, N_BASES

N_SYMBOLS = N_BASES + 1
"""Context symbols: ``A C G T`` and "other"."""


def input_symbols(inputs: np.ndarray) -> np.ndarray:
    """``(N,)`` DNA tokens -> ``(N,)`` symbols: 0..3 for ``A C G T``, 4 for anything else."""
    tokens = np.asarray(inputs).astype(np.int64)
    return np.where((tokens >= 1) & (tokens <= N_BASES), tokens - 1, N_BASES)


def context_codes(inputs: np.ndarray, lengths: np.ndarray, positions: np.ndarray, *, k: int) -> np.ndarray:
    """The context of each position: its ``2k + 1`` input symbols (outside the sequence: "other").

    Args:
        inputs: ``(N,)`` corrupted DNA tokens of sequences laid end to end.
        lengths: ``(B,)`` their lengths.
        positions: ``(M,)`` positions (into ``inputs``) to describe.
        k: positions each side.

    Returns:
        ``(M,)`` int64 codes in ``[0, 5 ** (2k + 1))``.
    """
    symbols = input_symbols(inputs)
    lengths = np.asarray(lengths, dtype=np.int64)
    ends = np.cumsum(lengths)
    sequence_of = np.searchsorted(ends, positions, side="right")
    first, last = (ends - lengths)[sequence_of], ends[sequence_of] - 1
    code = np.zeros(len(positions), dtype=np.int64)
    for offset in range(-k, k + 1):
        neighbour = positions + offset
        inside = (neighbour >= first) & (neighbour <= last)
        code = code * N_SYMBOLS + np.where(inside, symbols[np.clip(neighbour, 0, len(symbols) - 1)], N_BASES)
    return code


class UnigramPredictor:
    """Predicts the train split's base frequencies everywhere."""

    def __init__(self) -> None:
        self.counts = np.zeros(N_BASES, dtype=np.int64)

    def add(self, inputs: np.ndarray, lengths: np.ndarray, targets: np.ndarray) -> None:
        """Count the targets of one masked batch (``inputs`` and ``lengths`` are unused)."""
        chosen = targets[targets != IGNORE]
        self.counts += np.bincount(chosen, minlength=N_BASES)

    def log_probabilities(self, inputs: np.ndarray, lengths: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """``(M, 4)`` natural-log probabilities at ``positions``."""
        probabilities = (self.counts + 1.0) / (self.counts.sum() + N_BASES)
        return np.broadcast_to(np.log(probabilities), (len(positions), N_BASES))


class ContextPredictor:
    """Counts of the target base by the ``2k + 1`` input symbols centred on it (add-one smoothing)."""

    def __init__(self, k: int) -> None:
        if k < 0:
            raise ValueError(f"context size k should be >= 0, got {k}")
        self.k = k
        self.counts = np.zeros((N_SYMBOLS ** (2 * k + 1), N_BASES), dtype=np.int64)

    def add(self, inputs: np.ndarray, lengths: np.ndarray, targets: np.ndarray) -> None:
        """Count the (context, target) pairs of one masked batch."""
        positions = np.flatnonzero(targets != IGNORE)
        codes = context_codes(inputs, lengths, positions, k=self.k)
        flat = np.bincount(codes * N_BASES + targets[positions], minlength=self.counts.size)
        self.counts += flat.reshape(self.counts.shape)

    def log_probabilities(self, inputs: np.ndarray, lengths: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """``(M, 4)`` natural-log probabilities at ``positions``."""
        counts = self.counts[context_codes(inputs, lengths, positions, k=self.k)] + 1.0
        return np.log(counts / counts.sum(1, keepdims=True))


class Scores:
    """Running masked accuracy and mean negative log-likelihood of one predictor."""

    def __init__(self) -> None:
        self.n = 0
        self.correct = 0
        self.nll = 0.0

    def add(self, log_probabilities: np.ndarray, targets: np.ndarray) -> None:
        """Score ``(M, 4)`` log-probabilities against ``(M,)`` targets (0..3)."""
        self.n += len(targets)
        self.correct += int((log_probabilities.argmax(1) == targets).sum())
        self.nll -= float(log_probabilities[np.arange(len(targets)), targets].sum())

    def result(self) -> dict[str, float | int | None]:
        """``accuracy``, ``perplexity`` (``exp`` of the mean NLL in nats), ``loss`` (mean NLL), ``n``."""
        if not self.n:
            return {"accuracy": None, "perplexity": None, "loss": None, "n": 0}
        loss = self.nll / self.n
        return {"accuracy": self.correct / self.n, "perplexity": math.exp(loss), "loss": loss, "n": self.n}


__all__ = ["UnigramPredictor", "ContextPredictor", "Scores", "context_codes", "input_symbols"]
