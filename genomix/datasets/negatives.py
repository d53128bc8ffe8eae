"""GC-matched negative regions: random regions of the reference, of the positives' lengths, disjoint from them.

For each positive interval (the bases read for a region) and each of ``per_positive`` negatives,
candidates are drawn with the seed: a start uniform over every base of the allowed contigs (so every
place the interval fits is equally likely; a start too close to a contig's end to fit is a failed
draw). A candidate is rejected when it overlaps any given
region or any negative already chosen, or holds an ``N`` (an assembly gap); the first candidate whose
GC fraction is within ``tolerance`` of the positive's is kept, on the positive's strand. After
``tries`` candidates without one, that negative is counted as not found (never replaced by a worse
match). GC fraction = (C + G) / (A + C + G + T) over the interval's unambiguous bases.

Negatives are drawn in the order of the positives, so the same inputs and seed give the same
negatives. ``pools`` and ``pool_of`` limit where a positive's negatives may fall (chromosome splits
keep a positive's negatives on the chromosomes of its split).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from genomix.alphabet import DNA
from genomix.datasets.interval_windows import Interval
from genomix.errors import ConfigError
from genomix.io.bed import BedRegion
from genomix.io.reference import Reference
from genomix.validation import check_seed

_GC = np.zeros(256, dtype=bool)
_ACGT = np.zeros(256, dtype=bool)
for _letter in "ACGT":
    _ACGT[DNA.vocab[_letter]] = True
for _letter in "CG":
    _GC[DNA.vocab[_letter]] = True
_N = DNA.vocab["N"]
TRIES = 200
"""Candidates drawn per negative before it is counted as not found."""


def gc_fraction(tokens: np.ndarray) -> float:
    """(C + G) / (A + C + G + T) of DNA tokens; ``nan`` when there is no unambiguous base."""
    tokens = np.asarray(tokens, dtype=np.uint8)
    unambiguous = int(_ACGT[tokens].sum())
    return float(_GC[tokens].sum()) / unambiguous if unambiguous else float("nan")


class DisjointIntervals:
    """Merged, sorted intervals per contig: overlap tests and insertion in ``O(log n)`` + a list insert."""

    def __init__(self, intervals: Iterable[tuple[str, int, int]] = ()) -> None:
        self._starts: dict[str, list[int]] = {}
        self._ends: dict[str, list[int]] = {}
        for contig, start, end in sorted(intervals):
            self.add(contig, start, end)

    def overlaps(self, contig: str, start: int, end: int) -> bool:
        """Whether ``[start, end)`` shares a base with any interval on ``contig``."""
        starts = self._starts.get(contig)
        if not starts:
            return False
        j = bisect.bisect_left(starts, end) - 1  # the last interval starting before ``end``
        return j >= 0 and self._ends[contig][j] > start

    def add(self, contig: str, start: int, end: int) -> None:
        """Insert ``[start, end)``, merging it with the intervals it overlaps or touches."""
        starts = self._starts.setdefault(contig, [])
        ends = self._ends.setdefault(contig, [])
        lo = bisect.bisect_left(ends, start)  # first interval ending at or after ``start``
        hi = bisect.bisect_right(starts, end)  # intervals starting at or before ``end``
        if lo < hi:
            start, end = min(start, starts[lo]), max(end, ends[hi - 1])
        starts[lo:hi] = [start]
        ends[lo:hi] = [end]


@dataclass
class NegativeStats:
    """What negative sampling found.

    Attributes:
        asked: negatives asked for (positives x ``per_positive``).
        found: negatives kept.
        not_found: negatives without a GC-matched candidate after ``tries``.
        mean_gc_difference: mean ``|GC(negative) - GC(positive)|`` over the negatives kept.
    """

    asked: int = 0
    found: int = 0
    not_found: int = 0
    mean_gc_difference: float = 0.0


def sample_gc_matched(
    reference: Reference,
    positives: Sequence[Interval],
    positive_gc: Sequence[float],
    *,
    per_positive: int,
    seed: int,
    exclude: Iterable[tuple[str, int, int]],
    tolerance: float = 0.02,
    tries: int = TRIES,
    pools: Sequence[Sequence[str]] | None = None,
    pool_of: Sequence[int] | None = None,
) -> tuple[list[Interval], list[int], NegativeStats]:
    """Draw GC-matched negatives (see the module docstring).

    Args:
        reference: where negatives are read from.
        positives: the positive intervals, in a fixed order.
        positive_gc: their GC fractions (same order).
        per_positive: negatives per positive (``>= 1``).
        seed: the seed of every draw.
        exclude: ``(contig, start, end)`` intervals no negative may overlap (every input region).
        tolerance: largest accepted GC difference.
        tries: candidates drawn per negative before giving up.
        pools: sets of contigs negatives may come from (default: one pool, every contig).
        pool_of: the pool of each positive (default: pool 0 for all).

    Returns:
        ``(negatives, sources, stats)``: the negative intervals (a :class:`BedRegion` with ``line=0``,
        named ``negative``, on the reference's contig names), the index of the positive each was
        matched to, and the counts.

    Raises:
        ConfigError: ``per_positive``, ``tolerance`` or ``tries`` out of range.
    """
    if per_positive < 1 or tries < 1 or not 0 <= tolerance <= 1:
        raise ConfigError(f"negatives need per_positive >= 1, tries >= 1 and 0 <= tolerance <= 1; got "
                          f"{per_positive}, {tries} and {tolerance}")
    rng = np.random.default_rng(check_seed(seed))
    taken = DisjointIntervals(exclude)
    samplers = [_ContigSampler(reference, pool) for pool in (pools if pools is not None else [list(reference.lengths)])]
    negatives: list[Interval] = []
    sources: list[int] = []
    differences: list[float] = []
    stats = NegativeStats(asked=len(positives) * per_positive)
    for index, (positive, gc) in enumerate(zip(positives, positive_gc)):
        sampler = samplers[pool_of[index] if pool_of is not None else 0]
        for _ in range(per_positive):
            found = _draw(reference, rng, taken, sampler, length=positive.length, gc=gc, tolerance=tolerance,
                          tries=tries)
            if found is None:
                stats.not_found += 1
                continue
            contig, start, candidate_gc = found
            taken.add(contig, start, start + positive.length)
            region = BedRegion(contig, start, start + positive.length, "negative", None, positive.region.strand, 0)
            negatives.append(Interval(region, contig, start, start + positive.length))
            sources.append(index)
            differences.append(abs(candidate_gc - gc))
    stats.found = len(negatives)
    stats.mean_gc_difference = float(np.mean(differences)) if differences else 0.0
    return negatives, sources, stats


class _ContigSampler:
    """A uniform base of a set of contigs (contig chosen by length), in ``O(log n_contigs)`` per draw."""

    def __init__(self, reference: Reference, contigs: Sequence[str]) -> None:
        self.contigs = list(contigs)
        self.lengths = np.array([reference.lengths[c] for c in self.contigs], dtype=np.int64)
        self.ends = np.cumsum(self.lengths)

    def draw(self, rng: np.random.Generator) -> tuple[int, int]:
        """``(contig index, position)``."""
        position = int(rng.integers(0, int(self.ends[-1])))
        k = int(np.searchsorted(self.ends, position, side="right"))
        return k, position - int(self.ends[k] - self.lengths[k])


def _draw(reference: Reference, rng: np.random.Generator, taken: DisjointIntervals, sampler: _ContigSampler, *,
          length: int, gc: float, tolerance: float, tries: int) -> tuple[str, int, float] | None:
    """A start drawn uniformly among the bases of the pool; one that does not leave room for ``length``
    bases before the contig's end is a failed try (so every place that fits is equally likely)."""
    if not np.isfinite(gc) or not sampler.contigs or int(sampler.lengths.max()) < length:
        return None
    for _ in range(tries):
        k, start = sampler.draw(rng)
        contig = sampler.contigs[k]
        if start + length > sampler.lengths[k] or taken.overlaps(contig, start, start + length):
            continue
        tokens = DNA.encode(reference.fetch(contig, start, start + length), record=contig)
        if (tokens == _N).any():
            continue
        candidate_gc = gc_fraction(tokens)
        if abs(candidate_gc - gc) <= tolerance:
            return contig, start, candidate_gc
    return None
