"""A reference genome with random access: pyfaidx over a plain or BGZF FASTA, in memory otherwise.

The ``.fai`` index is created beside the FASTA when missing; when that folder is read-only (shared
data, a read-only mount) it goes into the temporary directory instead, so a reference is never
written next to. A FASTA pyfaidx cannot index (plain gzip, uneven line lengths) is read into memory
once, with a log message; fine for the organelle and element references genomix meets, slow for a
whole human genome (compress it with ``bgzip`` instead).

Coordinates are 0-based, half-open (``fetch("chrM", 0, 10)`` is the first ten bases).
"""

from __future__ import annotations

import logging
import os

import pyfaidx

from genomix.errors import InputFormatError
from genomix.io.fasta import index_path_for, read_fasta

logger = logging.getLogger(__name__)


class Reference:
    """Random access to the records of a FASTA file.

    Args:
        path: a FASTA file (plain, BGZF, or plain gzip).

    Attributes:
        path: the file.
        lengths: record id (first word of the header) -> length in bases.
        descriptions: record id -> whole header line.

    Raises:
        FileNotFoundError: no such file.
        InputFormatError: not a FASTA file, or one without records.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = str(path)
        if not os.path.isfile(self.path):
            raise FileNotFoundError(2, "No such file", self.path)
        self._index: pyfaidx.Fasta | None = None
        self._sequences: dict[str, str] | None = None
        try:
            self._index = _open_indexed(self.path)
            self.lengths = {name: len(self._index[name]) for name in self._index.keys()}
            self.descriptions = {name: self._index[name].long_name for name in self._index.keys()}
        except (pyfaidx.FastaIndexingError, pyfaidx.UnsupportedCompressionFormat, ValueError,
                UnicodeDecodeError, OSError) as error:
            logger.info("%s: not indexable by pyfaidx (%s); reading it into memory", self.path, error)
            if self._index is not None:
                self._index.close()
                self._index = None
            records = list(read_fasta(self.path))
            self._sequences = {record.id: record.sequence for record in records}
            self.lengths = {record.id: len(record.sequence) for record in records}
            self.descriptions = {record.id: record.description for record in records}
        if not self.lengths:
            raise InputFormatError(f"{self.path}: no FASTA record found; expected a reference FASTA file")

    def __contains__(self, contig: str) -> bool:
        return contig in self.lengths

    def fetch(self, contig: str, start: int, end: int) -> str:
        """Bases ``[start, end)`` of ``contig`` (0-based, half-open), upper case.

        Raises:
            KeyError: no such contig.
            ValueError: the interval is not inside the contig.
        """
        length = self.lengths[contig]
        if not 0 <= start <= end <= length:
            raise ValueError(f"{self.path}: interval {start}-{end} is outside {contig} (length {length:,})")
        if self._index is not None:
            return str(self._index[contig][start:end]).upper()
        return self._sequences[contig][start:end].upper()

    def close(self) -> None:
        """Close the index file."""
        if self._index is not None:
            self._index.close()
            self._index = None

    def __enter__(self) -> "Reference":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _open_indexed(path: str) -> pyfaidx.Fasta:
    with open(path, "rb") as handle:
        start = handle.read(4096).lstrip()
    if start[:2] != b"\x1f\x8b" and start and not start.startswith(b">"):
        shown = start[:40].decode("utf-8", "replace").splitlines()[0]
        raise InputFormatError(f"{path}: not a FASTA file: expected '>' at the start, found {shown!r}")
    return pyfaidx.Fasta(path, indexname=index_path_for(path), as_raw=True, read_long_names=True,
                         key_function=lambda header: header.split()[0] if header.split() else header,
                         duplicate_action="stop", sequence_always_upper=True)
