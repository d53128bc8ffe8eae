"""GenBank flat files (plain, gzip, BGZF; one or many records) read lazily with Biopython.

Every record Biopython can parse is yielded as a :class:`GenBankRecord`; whether it can be used as a
DNA example is decided here, once, by :attr:`GenBankRecord.skip_reason`:

========================================  ============================================================
case                                      outcome
========================================  ============================================================
protein (GenPept) record                  skipped, reason ``protein record``
CONTIG / WGS / TSA master (no sequence)   skipped, reason ``no sequence (CONTIG or master record)``
empty ORIGIN                              skipped, reason ``empty sequence``
lineage ``Unclassified.`` or empty        kept; :attr:`lineage` is ``()`` (rank labels then skip it)
empty or odd VERSION / ACCESSION          id falls back: accession.version, accession, LOCUS name,
                                          then ``FILE#N`` (N = record number in the file)
soft-masked lower-case bases, IUPAC       kept as they are; the DNA alphabet maps them to tokens
a character outside the DNA alphabet      error when encoded, naming file, record and position
========================================  ============================================================

A file Biopython cannot parse, a file with no record, a truncated file (no ``//`` end marker, or
sequence shorter than the LOCUS line says) and corrupt/truncated gzip all raise
:class:`~genomix.errors.InputFormatError` naming the file and the record. Biopython's warnings about
feature locations and qualifiers do not touch the sequence or the taxonomy and are only logged.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from Bio import BiopythonParserWarning, SeqIO
from Bio.SeqRecord import SeqRecord

from genomix.errors import InputFormatError
from genomix.io.compression import open_text, read_errors

logger = logging.getLogger(__name__)

SKIP_PROTEIN = "protein record"
SKIP_NO_SEQUENCE = "no sequence (CONTIG or master record)"
SKIP_EMPTY = "empty sequence"

# Parser warnings that mean the sequence itself is incomplete: these become errors.
_FATAL_WARNINGS = ("Premature end of file", "Expected sequence length")
_UNCLASSIFIED = {"unclassified", "unclassified.", ""}


@dataclass(frozen=True)
class GenBankRecord:
    """One GenBank record, reduced to what dataset builders use.

    Attributes:
        id: accession.version (see the module docstring for the fallbacks).
        sequence: the sequence as written in the file (case kept); ``None`` when the record has none.
        molecule_type: the LOCUS molecule type (``DNA``, ``mRNA``, ``protein``, ...).
        organism: the ORGANISM name (``""`` when missing or ``.``).
        lineage: the ORGANISM lineage, highest taxon first; ``()`` when empty or ``Unclassified``.
        source: qualifiers of the first ``source`` feature, name -> values.
        path: the file the record came from.
        number: 1-based position of the record in its file.
    """

    id: str
    sequence: str | None
    molecule_type: str
    organism: str
    lineage: tuple[str, ...]
    source: dict[str, list[str]] = field(default_factory=dict)
    path: str = ""
    number: int = 0

    @property
    def skip_reason(self) -> str | None:
        """Why this record cannot be a DNA example, or ``None`` when it can."""
        if self.molecule_type.lower() == "protein":
            return SKIP_PROTEIN
        if self.sequence is None:
            return SKIP_NO_SEQUENCE
        if not self.sequence:
            return SKIP_EMPTY
        return None


def read_genbank(path: str | os.PathLike) -> Iterator[GenBankRecord]:
    """Yield the records of a GenBank file one by one.

    Args:
        path: a GenBank flat file, plain or gzip/BGZF-compressed.

    Yields:
        One :class:`GenBankRecord` per record, in file order.

    Raises:
        InputFormatError: the file is empty, not GenBank, truncated or corrupt; the message names the
            file and the record (its number, and the id of the last good record).
    """
    path = str(path)
    number = 0
    previous = None
    with open_text(path) as handle, read_errors(path, "GenBank"):
        parser = SeqIO.parse(handle, "genbank")
        while True:
            try:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always", BiopythonParserWarning)
                    record = next(parser)
            except StopIteration:
                break
            except UnicodeDecodeError:
                raise  # read_errors says "not a text file"
            except ValueError as error:
                raise InputFormatError(
                    f"{path}: record {number + 1}{_after(previous)}: not valid GenBank: "
                    f"{_first_line(error)}"
                ) from None
            number += 1
            _check_warnings(caught, path, record, number)
            previous = converted = _convert(record, path, number)
            yield converted
    if number == 0:
        raise InputFormatError(f"{path}: no GenBank record found (expected a 'LOCUS' line); "
                               "the file is empty or not GenBank")


def _convert(record: SeqRecord, path: str, number: int) -> GenBankRecord:
    annotations = record.annotations
    sequence = None
    if record.seq is not None and record.seq.defined:
        sequence = bytes(record.seq).decode("ascii")
    organism = str(annotations.get("organism") or "").strip()
    lineage = tuple(str(taxon).strip() for taxon in annotations.get("taxonomy") or ())
    if all(taxon.lower() in _UNCLASSIFIED for taxon in lineage):
        lineage = ()
    source = next((dict(feature.qualifiers) for feature in record.features if feature.type == "source"), {})
    return GenBankRecord(
        id=_record_id(record, path, number),
        sequence=sequence,
        molecule_type=str(annotations.get("molecule_type") or ""),
        organism="" if organism == "." else organism,
        lineage=lineage,
        source=source,
        path=path,
        number=number,
    )


def _record_id(record: SeqRecord, path: str, number: int) -> str:
    for candidate in (record.id, record.name):
        if candidate and candidate not in (".", "<unknown id>", "<unknown name>"):
            return candidate
    return f"{Path(path).name}#{number}"


def _check_warnings(caught: list, path: str, record: SeqRecord, number: int) -> None:
    for warning in caught:
        message = _first_line(warning.message)
        if message.startswith(_FATAL_WARNINGS):
            raise InputFormatError(
                f"{path}: record {number} ({record.id}): truncated or malformed: {message}"
            )
        logger.debug("%s: record %d (%s): %s", path, number, record.id, message)


def _after(previous: GenBankRecord | None) -> str:
    return f" (after {previous.id})" if previous is not None else ""


def _first_line(error: object) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
