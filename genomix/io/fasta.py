"""FASTA files read lazily: pyfaidx (indexed) for plain files, Biopython (streaming) for gzip.

A record's ``id`` is the first word of its header and ``description`` the whole header (without
``>``). Sequence case is kept as written (soft-masking); the DNA alphabet maps lower case to the same
tokens as upper case.

Plain files are indexed with pyfaidx: the ``.fai`` index goes beside the file, or into the temporary
directory when that directory is read-only. A plain file pyfaidx cannot index (lines of uneven
length, blank lines inside a record) is streamed with Biopython instead. gzip/BGZF files are always
streamed.

Errors (:class:`~genomix.errors.InputFormatError`, naming the file): text before the first ``>``,
binary data, corrupt or truncated gzip, a record id that occurs twice. An empty file yields no record;
the caller decides whether that is an error.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyfaidx
from Bio.SeqIO.FastaIO import SimpleFastaParser

from genomix.errors import InputFormatError
from genomix.io.compression import is_gzip, open_text, read_errors

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FastaRecord:
    """One FASTA record.

    Attributes:
        id: the first word of the header.
        description: the whole header line, without ``>``.
        sequence: the letters, case kept, line breaks removed.
    """

    id: str
    description: str
    sequence: str


def read_fasta(path: str | os.PathLike) -> Iterator[FastaRecord]:
    """Yield the records of a FASTA file in file order.

    Args:
        path: a FASTA file, plain or gzip/BGZF-compressed.

    Yields:
        One :class:`FastaRecord` per record.

    Raises:
        InputFormatError: the file is not FASTA, is binary, corrupt, truncated, or repeats an id.
    """
    path = str(path)
    if is_gzip(path):
        yield from _stream(path)
        return
    try:
        index = _open_indexed(path)
    except (pyfaidx.FastaIndexingError, ValueError, UnicodeDecodeError) as error:
        logger.info("%s: not indexable by pyfaidx (%s); streaming it instead", path, error)
        yield from _stream(path)
        return
    with index:
        for name in index.keys():
            entry = index[name]
            yield FastaRecord(id=name, description=entry.long_name, sequence=str(entry[:]))


def _open_indexed(path: str) -> pyfaidx.Fasta:
    _check_starts_with_header(path)
    return pyfaidx.Fasta(path, indexname=index_path_for(path), as_raw=True, read_long_names=True,
                         key_function=lambda header: header.split()[0] if header.split() else header,
                         duplicate_action="stop")


def index_path_for(path: str) -> str:
    """Where the ``.fai`` index of ``path`` lives: beside it, or in the temporary directory when that
    folder is read-only (never written into shared, read-only data folders) and no index exists."""
    index_path = path + ".fai"
    if not writable_folder(Path(path).resolve().parent) and not os.path.exists(index_path):
        digest = hashlib.sha256(str(Path(path).resolve()).encode()).hexdigest()[:16]
        index_path = os.path.join(tempfile.gettempdir(), f"genomix-{digest}-{Path(path).name}.fai")
    return index_path


def writable_folder(folder: Path) -> bool:
    """Whether a folder may be written to: ``os.access`` says so *and* a write bit is set (root passes
    ``os.access`` on a read-only ``r-x`` folder; genomix still treats that folder as read-only)."""
    return os.access(folder, os.W_OK) and bool(folder.stat().st_mode & 0o222)


def _check_starts_with_header(path: str) -> None:
    with open(path, "rb") as handle:
        start = handle.read(4096).lstrip()
    if start and not start.startswith(b">"):
        _raise_not_fasta(path, start)


def _stream(path: str) -> Iterator[FastaRecord]:
    seen: set[str] = set()
    with open_text(path) as handle, read_errors(path, "FASTA"):
        start = handle.read(4096).lstrip()
    if not start:
        return
    if not start.startswith(">"):
        _raise_not_fasta(path, start.encode("utf-8", "replace"))
    with open_text(path) as handle, read_errors(path, "FASTA"):
        for description, sequence in SimpleFastaParser(handle):
            record_id = description.split()[0] if description.split() else description
            if record_id in seen:
                raise InputFormatError(f"{path}: record id {record_id!r} occurs twice; ids must be unique")
            seen.add(record_id)
            yield FastaRecord(id=record_id, description=description, sequence=sequence)


def _raise_not_fasta(path: str, start: bytes) -> None:
    shown = start[:40].decode("utf-8", "replace").splitlines()[0] if start else ""
    raise InputFormatError(f"{path}: not a FASTA file: expected '>' at the start, found {shown!r}")
