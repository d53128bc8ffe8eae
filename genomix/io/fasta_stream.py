"""FASTA records streamed one at a time from a path or a binary stream (standard input included).

Unlike :func:`genomix.io.fasta.read_fasta`, nothing is ever indexed or written beside the input, and
a non-seekable stream (``-``, a pipe) works: compression (gzip/BGZF) is detected from the first bytes,
not from the suffix. Only one record is held in memory at a time.

Errors (:class:`~genomix.errors.InputFormatError`, naming the input): text before the first ``>``,
binary data (NUL bytes or bytes that are not UTF-8), corrupt or truncated gzip. An empty input yields
no record; the caller decides whether that is an error.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import os
import sys
from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING, BinaryIO

from Bio.SeqIO.FastaIO import SimpleFastaParser

from genomix.errors import InputFormatError
from genomix.io.compression import GZIP_MAGIC, read_errors
from genomix.io.fasta import FastaRecord

if TYPE_CHECKING:
    from typing_extensions import Self

STDIN = "-"


class FastaStream:
    """Iterate the records of a FASTA file or stream in order, reading it once.

    Args:
        source: a path, ``"-"`` for standard input, or an open binary stream (not closed here).

    Use as a context manager (or call :meth:`close`); iterate it once to get :class:`FastaRecord`
    objects. :meth:`fraction_read` tells how far into a file the reader is (for progress bars).
    """

    def __init__(self, source: str | os.PathLike | BinaryIO) -> None:
        self._owned: BinaryIO | None = None
        self._records: Generator[FastaRecord, None, None] | None = None
        self.size: int | None = None
        if isinstance(source, (str, os.PathLike)) and str(source) != STDIN:
            self.name = str(source)
            self._owned = open(source, "rb")  # noqa: SIM115 (closed in close())
            raw: BinaryIO = self._owned
            self.size = os.fstat(raw.fileno()).st_size
        else:
            raw = sys.stdin.buffer if isinstance(source, (str, os.PathLike)) else source
            self.name = "<stdin>" if isinstance(source, (str, os.PathLike)) else getattr(source, "name", "<stream>")
        self._raw = raw if hasattr(raw, "peek") else io.BufferedReader(raw)  # type: ignore[arg-type]
        self._compressed = self._raw.peek(2)[:2] == GZIP_MAGIC

    def fraction_read(self) -> float | None:
        """Fraction of the input file's bytes read so far, or ``None`` for a stream of unknown size."""
        if not self.size or self._owned is None:
            return None
        try:
            return min(self._owned.tell() / self.size, 1.0)
        except (OSError, ValueError):
            return None

    def __iter__(self) -> Iterator[FastaRecord]:
        self._records = self._read()
        return self._records

    def _read(self) -> Generator[FastaRecord, None, None]:
        binary: BinaryIO = gzip.GzipFile(fileobj=self._raw, mode="rb") if self._compressed else self._raw
        text = io.TextIOWrapper(binary, encoding="utf-8", newline=None)  # type: ignore[arg-type]
        try:
            with read_errors(self.name, "FASTA"):
                start = _first_line(text, name=self.name)
                if not start:
                    return
                for description, sequence in SimpleFastaParser(_Prepended(start, text)):
                    if "\x00" in sequence or "\x00" in description:
                        raise InputFormatError(f"{self.name}: binary data (NUL bytes) in the record after "
                                               f"'>{description[:40]}'; expected a FASTA text file")
                    words = description.split()
                    yield FastaRecord(id=words[0] if words else description, description=description,
                                      sequence=sequence)
        finally:
            with contextlib.suppress(ValueError):  # already closed
                text.detach()  # leave the underlying stream (standard input) open

    def close(self) -> None:
        """Stop reading, and close the file if this object opened it."""
        if self._records is not None:
            self._records.close()
            self._records = None
        if self._owned is not None:
            self._owned.close()
            self._owned = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _first_line(text: io.TextIOBase, *, name: str) -> str:
    """The first non-blank line, which must be a ``>`` header; ``""`` for an empty input.

    Raises:
        InputFormatError: binary data, or text before the first header.
    """
    for line in text:
        if not line.strip():
            continue
        if "\x00" in line:
            raise InputFormatError(f"{name}: binary data (NUL bytes) in the first line; expected a FASTA text file")
        if not line.startswith(">"):
            raise InputFormatError(f"{name}: not a FASTA file: expected '>' at the start, found {line[:40].rstrip()!r}")
        return line
    return ""


class _Prepended:
    """A line iterator: one line already read, then the rest of ``text``."""

    def __init__(self, first: str, text: io.TextIOBase) -> None:
        self._first: str | None = first
        self._text = text

    def __iter__(self) -> Iterator[str]:
        if self._first is not None:
            first, self._first = self._first, None
            yield first
        yield from self._text
