"""Where a BED region sits on a reference, and the sequence read for it.

Shared by the interval builder (``genomix build-dataset intervals``) and region annotation
(``genomix annotate --regions``), so that training and scoring read the same bases.

**Window convention.** A region ``[s, e)`` is read as it is, or with ``window=W`` as the ``W`` bases
centred on it::

    centre = (s + e) // 2          start = centre - W // 2          end = start + W

so for a one-base region ``[p, p + 1)`` the base sits at index ``W // 2`` of the window (as in the
variant windows of :mod:`genomix.datasets.variant_windows`). Windows are never clipped or padded:
one that runs past a contig end is skipped and counted, so every window has exactly ``W`` bases.

**Strand.** A region on ``-`` is read as the reverse complement of the reference bases (on tokens,
:func:`genomix.alphabet.reverse_complement`); ``+`` and ``.`` as they are.

**Skips** (counted by reason; the first example is kept): ``zero_length`` (``s == e``: nothing to
read), ``unknown_contig`` (the contig, after ``contig_aliases``, is not in the reference),
``past_contig_end`` (``e`` is beyond the contig), ``window_past_contig_end`` (the window is).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from genomix.alphabet import DNA, reverse_complement
from genomix.errors import AlphabetError, ConfigError
from genomix.io.bed import BedRegion
from genomix.io.reference import Reference

SKIP_REASONS = ("zero_length", "unknown_contig", "past_contig_end", "window_past_contig_end")
WINDOW_CONVENTION = ("region [s, e) read as is, or with window W as [c - W//2, c - W//2 + W) for c = (s + e) // 2; "
                     "never clipped (a window past a contig end is skipped); reverse complement on strand '-'")


@dataclass(frozen=True)
class Interval:
    """The bases read for one region.

    Attributes:
        region: the BED region.
        contig: the reference record (``region.chrom`` after aliases).
        start: 0-based start of the bases read on ``contig``.
        end: their end (exclusive).
    """

    region: BedRegion
    contig: str
    start: int
    end: int

    @property
    def length(self) -> int:
        """Bases read."""
        return self.end - self.start


@dataclass
class SkipCounts:
    """Regions skipped, by reason, with the first example of each (``file: line N: region``)."""

    counts: Counter = field(default_factory=Counter)
    first: dict[str, str] = field(default_factory=dict)

    def add(self, reason: str, example: str) -> None:
        """Count one skip."""
        self.counts[reason] += 1
        self.first.setdefault(reason, example)

    def total(self) -> int:
        """All skips."""
        return sum(self.counts.values())

    def describe(self) -> str:
        """``"3 zero_length (first: ...), ..."``, or ``"none"``."""
        return ", ".join(f"{count:,} {reason} (first: {self.first[reason]})"
                         for reason, count in sorted(self.counts.items())) or "none"


def check_window(window: int | None) -> int | None:
    """``None`` (regions as they are) or a positive number of bases.

    Raises:
        ConfigError: anything else.
    """
    if window is None:
        return None
    if isinstance(window, bool) or int(window) != window or window < 1:
        raise ConfigError(f"--window must be a positive number of bases, got {window!r}")
    return int(window)


class IntervalLocator:
    """Places BED regions on a reference and reads their bases.

    Args:
        reference: the open reference.
        bed_path: the BED file, named in messages.
        contig_aliases: BED chrom -> reference record name.
        window: ``W`` (see the module docstring), or ``None`` for the regions as they are.
    """

    def __init__(self, reference: Reference, *, bed_path: str, contig_aliases: dict[str, str] | None = None,
                 window: int | None = None) -> None:
        self.reference = reference
        self.bed_path = bed_path
        self.aliases = dict(contig_aliases or {})
        self.window = check_window(window)

    def where(self, region: BedRegion) -> str:
        """``file: line N: chrom:start-end`` for messages."""
        return f"{self.bed_path}: line {region.line}: {region.id}"

    def locate(self, region: BedRegion) -> Interval | str:
        """The interval read for ``region``, or the reason it is skipped (one of :data:`SKIP_REASONS`)."""
        if region.length == 0:
            return "zero_length"
        contig = self.aliases.get(region.chrom, region.chrom)
        if contig not in self.reference:
            return "unknown_contig"
        length = self.reference.lengths[contig]
        if region.end > length:
            return "past_contig_end"
        if self.window is None:
            return Interval(region, contig, region.start, region.end)
        start = (region.start + region.end) // 2 - self.window // 2
        end = start + self.window
        if start < 0 or end > length:
            return "window_past_contig_end"
        return Interval(region, contig, start, end)

    def skip_detail(self, region: BedRegion, reason: str) -> str:
        """Why ``region`` was skipped, in words (for ``--strict`` errors and summaries)."""
        contig = self.aliases.get(region.chrom, region.chrom)
        if reason == "zero_length":
            return f"{self.where(region)} has length 0 (start == end)"
        if reason == "unknown_contig":
            known = list(self.reference.lengths)
            shown = ", ".join(known[:8]) + (f", ... ({len(known):,} in all)" if len(known) > 8 else "")
            renamed = f" (renamed from {region.chrom!r} by --contig-alias)" if contig != region.chrom else ""
            return (f"{self.where(region)}: contig {contig!r}{renamed} is not in the reference "
                    f"{self.reference.path} (its records: {shown}); map names with --contig-alias BED_NAME=REFERENCE_NAME")
        length = self.reference.lengths[contig]
        if reason == "past_contig_end":
            return f"{self.where(region)} ends past the end of {contig} (length {length:,})"
        return f"{self.where(region)}: its {self.window:,}-base window runs past an end of {contig} (length {length:,})"

    def tokens(self, interval: Interval) -> np.ndarray:
        """The interval's DNA tokens, reverse complemented on strand ``-``.

        Raises:
            AlphabetError: a reference letter outside the DNA alphabet (naming the region).
        """
        bases = self.reference.fetch(interval.contig, interval.start, interval.end)
        try:
            tokens = DNA.encode(bases, record=f"{interval.contig}:{interval.start}-{interval.end}")
        except AlphabetError as error:
            raise AlphabetError(f"{self.where(interval.region)}: {error}") from None
        return reverse_complement(tokens) if interval.region.strand == "-" else tokens
