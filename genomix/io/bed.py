"""BED: a strict reader of regions (BED3 to BED6) and the writers of per-window and per-region predictions.

**Reading** (:func:`read_bed`). Lines are tab-separated, 0-based half-open coordinates, as UCSC and
the GA4GH BED v1 specification define them: ``chrom``, ``chromStart``, ``chromEnd``, then optionally
``name``, ``score`` and ``strand``. Skipped: blank lines and header lines (``#...``, ``track ...``,
``browser ...``), wherever they are. Windows line ends (CRLF) read like Unix ones; plain, gzip and
BGZF files read the same. Rejected, with one line naming ``file: line N``: fewer than 3 or (unless
asked for) more than 6 columns, space-separated fields, an empty field, a start or end that is not a
non-negative integer, an end before the start, a score that is neither a number nor ``.``, a strand
other than ``+``, ``-`` or ``.``. A zero-length region (``start == end``) is read; the caller decides
(the interval builder counts and skips it).

How this compares: ``pybedtools`` hands parsing to the ``bedtools`` binary, which also skips
``#``/``track``/``browser`` lines, requires tabs and refuses an end before the start, but accepts any
text as score or strand; ``pysam.asBed`` (tabix) splits on tabs and converts start and end, checking
nothing else. Neither is needed: this reader is the strict one, and needs no binary.

**Writing.** :class:`BedPredictionWriter`: per-window predictions of ``genomix annotate`` on FASTA input
as BED6+N, one line per window. Columns (tab-separated, 0-based half-open coordinates): ``chrom``
(record id), ``chromStart``, ``chromEnd``, ``name`` (the most probable class), ``score`` (its
probability x 1000, rounded to an integer in 0..1000), ``strand`` (always ``.``: a window is
classified from both strands' point of view only with ``--rc``, and never belongs to one), then one
column per class, ``p_<class>``, the class probabilities (the "+N" extension). The header holds a
``track`` line and a ``#`` line naming every column, both of which BED readers skip.

:class:`RegionBedWriter`: per-region predictions of ``genomix annotate --regions`` as BED6+(1+N), one
line per input region, in input order: the region's own ``chrom``, ``chromStart``, ``chromEnd``,
``name`` (``.`` when the input had none) and ``strand`` (``.`` likewise), ``score`` = 1000 x the
probability of the predicted class, then ``class`` (the predicted class) and ``p_<class>`` per class.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from genomix.errors import InputFormatError
from genomix.io.compression import open_text, read_errors
from genomix.io.predictions import (
    PredictionWriter,
    RecordPrediction,
    RegionPrediction,
    clean_field,
    format_probability,
)

BED_COLUMNS = ("chrom", "chromStart", "chromEnd", "name", "score", "strand")
STRANDS = ("+", "-", ".")
HEADER_PREFIXES = ("#", "track", "browser")
_COORDINATE = re.compile(r"^[0-9]+$")


# ----------------------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class BedRegion:
    """One BED line.

    Attributes:
        chrom: the contig, as written.
        start: 0-based first base.
        end: one past the last base (``end >= start``).
        name: column 4, or ``None`` (BED3, or ``.``).
        score: column 5 as written, or ``None`` (BED3/4, or ``.``).
        strand: ``+``, ``-`` or ``.`` (BED3 to BED5, or ``.``).
        line: 1-based line number in its file.
        extra: columns after the sixth (only with ``extra_columns=True``).
    """

    chrom: str
    start: int
    end: int
    name: str | None = None
    score: str | None = None
    strand: str = "."
    line: int = 0
    extra: tuple[str, ...] = ()

    @property
    def length(self) -> int:
        """Bases covered (``end - start``)."""
        return self.end - self.start

    @property
    def id(self) -> str:
        """``chrom:start-end`` in BED coordinates, plus ``(+)``/``(-)`` when stranded (as ``bedtools getfasta -s``)."""
        strand = f"({self.strand})" if self.strand in ("+", "-") else ""
        return f"{self.chrom}:{self.start}-{self.end}{strand}"


def read_bed(path: str | os.PathLike, *, extra_columns: bool = False) -> Iterator[BedRegion]:
    """Yield the regions of a BED file in file order (lazily; see the module docstring for the rules).

    Args:
        path: a BED file, plain or gzip/BGZF-compressed.
        extra_columns: accept columns after the sixth (BED6+N, e.g. genomix's own output) and keep
            them in :attr:`BedRegion.extra`; by default more than six columns is an error.

    Yields:
        One :class:`BedRegion` per data line.

    Raises:
        InputFormatError: a line it cannot read, naming the file and line number.
    """
    path = str(path)
    with open_text(path) as handle, read_errors(path, "BED"):
        for number, raw in enumerate(handle, start=1):
            line = raw.rstrip("\r\n")
            if not line.strip() or _is_header(line):
                continue
            yield _parse_line(line, path=path, number=number, extra_columns=extra_columns)


def _is_header(line: str) -> bool:
    if line.startswith("#"):
        return True
    word = line.split(None, 1)[0]
    return word in ("track", "browser")


def _parse_line(line: str, *, path: str, number: int, extra_columns: bool) -> BedRegion:
    where = f"{path}: line {number}"
    fields = line.split("\t")
    if len(fields) < 3:
        if len(line.split()) >= 3:
            raise InputFormatError(f"{where}: fields are separated by spaces; BED needs tabs between "
                                   f"chrom, start and end (got {line[:60]!r})")
        raise InputFormatError(f"{where}: {len(fields)} column(s); expected at least 3 (chrom, start, end) "
                               f"separated by tabs, got {line[:60]!r}")
    if len(fields) > 6 and not extra_columns:
        raise InputFormatError(f"{where}: {len(fields)} columns; genomix reads BED3 to BED6 (chrom, start, end, "
                               "name, score, strand); keep the first six with 'cut -f1-6'")
    for k, value in enumerate(fields[:6]):
        if not value.strip():
            column = BED_COLUMNS[k]
            raise InputFormatError(f"{where}: column {k + 1} ({column}) is empty; write '.' for a missing "
                                   "name, score or strand")
    chrom, start_text, end_text = (value.strip() for value in fields[:3])
    if len(chrom.split()) != 1:
        raise InputFormatError(f"{where}: chrom {chrom!r} holds whitespace; contig names are one word")
    start = _coordinate(start_text, "start", where)
    end = _coordinate(end_text, "end", where)
    if end < start:
        raise InputFormatError(f"{where}: end {end:,} is before start {start:,}; BED regions are "
                               "0-based half-open, start <= end")
    name = _optional(fields, 3)
    score = _optional(fields, 4)
    if score is not None and not _is_number(score):
        raise InputFormatError(f"{where}: score {score!r} is not a number; expected a number or '.'")
    strand = _optional(fields, 5) or "."
    if strand not in STRANDS:
        raise InputFormatError(f"{where}: strand {strand!r}; expected '+', '-' or '.'")
    extra = tuple(fields[6:]) if extra_columns else ()
    return BedRegion(chrom, start, end, name, score, strand, number, extra)


def _coordinate(text: str, what: str, where: str) -> int:
    if not _COORDINATE.match(text):
        hint = " (a column header line must start with '#')" if not any(c.isdigit() for c in text) else ""
        raise InputFormatError(f"{where}: {what} {text!r} is not a non-negative integer{hint}")
    return int(text)


def _optional(fields: list[str], index: int) -> str | None:
    if len(fields) <= index:
        return None
    value = fields[index].strip()
    return None if value == "." else value


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


# ----------------------------------------------------------------------------------------- writing


class BedPredictionWriter(PredictionWriter):
    """Write one BED6+N line per window (see the module docstring for the columns)."""

    def write_header(self) -> None:
        extra = ",".join(f"p_{clean_field(name)}" for name in self.classes)
        self.stream.write(
            f'track name=genomix_annotate type=bed6+{len(self.classes)} description="ChordMixer windows: '
            f'name = predicted class, score = 1000 x its probability, columns 7+ ({extra}) = class probabilities"\n'
        )
        for line in self.header_lines:
            self.stream.write(f"# {line}\n")
        columns = [*BED_COLUMNS, *(f"p_{clean_field(name)}" for name in self.classes)]
        self.stream.write("#" + "\t".join(columns) + "\n")

    def write_batch(self, records: Sequence[RecordPrediction]) -> None:
        names = [clean_field(name) for name in self.classes]
        lines = []
        for record in records:
            for window in record.windows:
                probabilities = np.asarray(window.probabilities)
                best = int(np.argmax(probabilities))
                score = min(max(round(float(probabilities[best]) * 1000), 0), 1000)
                values = "\t".join(format_probability(p) for p in probabilities)
                lines.append(f"{record.id}\t{window.start}\t{window.end}\t{names[best]}\t{score}\t.\t{values}\n")
        self.stream.write("".join(lines))


class RegionBedWriter(PredictionWriter):
    """Write one BED6+(1+N) line per region (see the module docstring for the columns).

    Takes :class:`~genomix.io.predictions.RegionPrediction` records.
    """

    def write_header(self) -> None:
        extra = ",".join(f"p_{clean_field(name)}" for name in self.classes)
        self.stream.write(
            f'track name=genomix_regions type=bed6+{len(self.classes) + 1} description="ChordMixer regions: '
            f'score = 1000 x probability of the predicted class, column 7 = predicted class, columns 8+ '
            f'({extra}) = class probabilities"\n'
        )
        for line in self.header_lines:
            self.stream.write(f"# {line}\n")
        columns = [*BED_COLUMNS, "class", *(f"p_{clean_field(name)}" for name in self.classes)]
        self.stream.write("#" + "\t".join(columns) + "\n")

    def write_batch(self, records: Sequence[RegionPrediction]) -> None:
        names = [clean_field(name) for name in self.classes]
        lines = []
        for record in records:
            probabilities = np.asarray(record.probabilities)
            best = int(np.argmax(probabilities))
            score = min(max(round(float(probabilities[best]) * 1000), 0), 1000)
            values = "\t".join(format_probability(p) for p in probabilities)
            name = clean_field(record.name) if record.name else "."
            lines.append(f"{record.chrom}\t{record.region_start}\t{record.region_end}\t{name}\t{score}\t"
                         f"{record.strand}\t{names[best]}\t{values}\n")
        self.stream.write("".join(lines))
