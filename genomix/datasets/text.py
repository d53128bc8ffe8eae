"""Byte-level text classification: one labelled document per row of a TSV or JSON Lines file.

Each document's UTF-8 bytes are its tokens (:data:`genomix.alphabet.BYTES`: token = byte value, so any
language and script works; NUL bytes are refused). Rows go through the same filters, stratified
seeded split and summary as the DNA builders (:class:`~genomix.datasets.builder.LabelledCollection`);
lengths are in bytes.

Inputs:

- TSV (plain or gzip): a header line naming the columns; fields may be quoted (``"..."``) and then
  hold tabs and newlines. Columns other than text, label and id are kept as per-sequence metadata.
- JSON Lines (plain or gzip): one JSON object per line; text and label must be strings (a label may
  be a number); other scalar keys are kept as metadata.

Every row must have a non-empty text and label: an empty one is an error naming file and line, and
nothing is written.
"""

from __future__ import annotations

import csv
import json
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass

from genomix.alphabet import BYTES
from genomix.datasets.builder import Filters, LabelledCollection
from genomix.datasets.provenance import make_provenance
from genomix.errors import ConfigError, InputFormatError
from genomix.io.compression import open_text, read_errors
from genomix.validation import check_output_not_input

logger = logging.getLogger(__name__)

FORMATS = ("tsv", "jsonl")
ProgressCallback = Callable[[int], None]
"""Called with the number of bytes of each document read."""

_FIELD_LIMIT = 1 << 30


@dataclass(frozen=True)
class TextRow:
    """One labelled document.

    Attributes:
        record_id: the id column's value, or ``line<N>`` (N = the row's first line in the file).
        text: the document.
        label: its class.
        meta: the row's other columns, as strings.
        line: the row's first line number in the file (1 = first line).
    """

    record_id: str
    text: str
    label: str
    meta: dict[str, str]
    line: int


def read_text_rows(
    path: str | os.PathLike,
    *,
    file_format: str,
    text_column: str,
    label_column: str,
    id_column: str | None = None,
) -> Iterator[TextRow]:
    """Read labelled documents lazily from a TSV or JSON Lines file.

    Args:
        path: the file (plain or gzip).
        file_format: ``"tsv"`` or ``"jsonl"``.
        text_column: the column (key) holding the document.
        label_column: the column (key) holding its class.
        id_column: the column (key) holding a record id; ``None``: ``line<N>``.

    Yields:
        One :class:`TextRow` per non-blank row.

    Raises:
        ValueError: ``file_format`` is unknown (the message lists the known ones).
        InputFormatError: a missing column, an empty text or label, a malformed row or JSON line; the
            message names file and line.
    """
    if file_format not in FORMATS:
        raise ValueError(f"unknown text file format {file_format!r}; known: {', '.join(FORMATS)}")
    columns = {"text": text_column, "label": label_column, "id": id_column}
    reader = _tsv_rows if file_format == "tsv" else _jsonl_rows
    yield from reader(str(path), columns)


def _tsv_rows(path: str, columns: dict[str, str | None]) -> Iterator[TextRow]:
    csv.field_size_limit(max(csv.field_size_limit(), _FIELD_LIMIT))
    with open_text(path) as handle, read_errors(path, "TSV"):
        reader = csv.reader(handle, delimiter="\t")
        header = next(reader, None)
        if not header:
            raise InputFormatError(f"{path}: empty file; expected a TSV header line naming the columns")
        header = [name.strip() for name in header]
        for role, name in columns.items():
            if name is not None and name not in header:
                raise InputFormatError(f"{path}: no {role} column {name!r} (--{role}-column); the header has "
                                       f"{', '.join(map(repr, header))}")
        line = reader.line_num + 1
        try:
            for fields in reader:
                if fields and any(value.strip() for value in fields):
                    if len(fields) != len(header):
                        raise InputFormatError(f"{path}: line {line}: {len(fields)} fields, expected "
                                               f"{len(header)} as in the header")
                    yield _row(path, line, dict(zip(header, fields)), columns)
                line = reader.line_num + 1
        except csv.Error as error:
            raise InputFormatError(f"{path}: line {reader.line_num}: not a valid TSV row ({error})") from None


def _jsonl_rows(path: str, columns: dict[str, str | None]) -> Iterator[TextRow]:
    with open_text(path) as handle, read_errors(path, "JSON Lines"):
        for line, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            try:
                record = json.loads(text)
            except json.JSONDecodeError as error:
                raise InputFormatError(f"{path}: line {line}: not valid JSON ({error.msg} at column "
                                       f"{error.colno})") from None
            if not isinstance(record, dict):
                raise InputFormatError(f"{path}: line {line}: expected a JSON object, got {type(record).__name__}")
            for role, name in columns.items():
                if name is not None and name not in record:
                    raise InputFormatError(f"{path}: line {line}: no {role} key {name!r} (--{role}-column); "
                                           f"keys: {', '.join(map(repr, record)) or 'none'}")
            if not isinstance(record[columns["text"]], str):
                raise InputFormatError(f"{path}: line {line}: text {columns['text']!r} should be a string, "
                                       f"got {type(record[columns['text']]).__name__}")
            fields = {key: value if isinstance(value, str) else json.dumps(value)
                      for key, value in record.items() if value is None or isinstance(value, (str, int, float, bool))}
            yield _row(path, line, fields, columns)


def _row(path: str, line: int, fields: dict[str, str], columns: dict[str, str | None]) -> TextRow:
    text, label = fields[columns["text"]], fields[columns["label"]].strip()
    if not text.strip():
        raise InputFormatError(f"{path}: line {line}: empty text in column {columns['text']!r}")
    if not label:
        raise InputFormatError(f"{path}: line {line}: empty label in column {columns['label']!r}")
    record_id = fields[columns["id"]].strip() if columns["id"] is not None else f"line{line}"
    if not record_id:
        raise InputFormatError(f"{path}: line {line}: empty id in column {columns['id']!r}")
    meta = {}
    for key, value in fields.items():
        if not key or key in columns.values():  # an unnamed column: a pandas index (row numbers)
            continue
        if "/" in key or key == ".":
            raise InputFormatError(f"{path}: line {line}: column {key!r} cannot name a metadata column (it "
                                   "becomes an HDF5 dataset name); rename it without '/'")
        meta[key] = value
    return TextRow(record_id=record_id, text=text, label=label, meta=meta, line=line)


def build_text(
    path: str | os.PathLike,
    out: str | os.PathLike,
    *,
    file_format: str,
    text_column: str,
    label_column: str,
    id_column: str | None = None,
    filters: Filters | None = None,
    fractions: Sequence[float] = (0.8, 0.1, 0.1),
    seed: int = 0,
    group_by: str | None = None,
    progress: ProgressCallback | None = None,
    command: Sequence[str] | None = None,
) -> dict:
    """Build a byte-level text classification dataset.

    Args:
        path: the TSV or JSON Lines file.
        out: the ``.h5`` file to write (atomically; nothing is written on any error).
        file_format: ``"tsv"`` or ``"jsonl"``.
        text_column, label_column, id_column: see :func:`read_text_rows`.
        filters: classes, ``min_count``, lengths (in bytes), dedup; default: keep everything.
        fractions: (train, valid, test), stratified by label.
        seed: the split's seed.
        group_by: a metadata column whose equal values stay in one split.
        progress: called with each document's byte count.
        command: the command line recorded in the provenance (default ``sys.argv``).

    Returns:
        The summary of :meth:`LabelledCollection.finish` (lengths in bytes).

    Raises:
        InputFormatError: the file is unreadable, lacks a column, has an empty text or label, or has
            no rows.
        AlphabetError: a document holds a NUL byte.
        ConfigError, GenomixError: a bad option, or no document left after filtering.
    """
    if file_format not in FORMATS:
        raise ConfigError(f"text input format must be one of {', '.join(FORMATS)}, got {file_format!r}")
    check_output_not_input(out, [path])
    collection = LabelledCollection(filters=filters or Filters())
    collection.sources.append(str(path))
    for row in read_text_rows(path, file_format=file_format, text_column=text_column,
                              label_column=label_column, id_column=id_column):
        collection.records_read += 1
        tokens = BYTES.encode(row.text, record=f"{row.record_id} (line {row.line})")
        if progress is not None:
            progress(len(tokens))
        if collection.accepts_length(len(tokens), row.label, row.record_id):
            collection.add(row.record_id, tokens, row.label, row.meta)
    if collection.records_read == 0:
        raise InputFormatError(f"{path}: no rows; expected one labelled document per "
                               f"{'line' if file_format == 'jsonl' else 'row after the header'}")
    options = {"file_format": file_format, "text_column": text_column, "label_column": label_column,
               "id_column": id_column, "filters": asdict(collection.filters),
               "fractions": list(fractions), "group_by": group_by}
    provenance = make_provenance([path], seed=seed, command=command, options=options)
    return collection.finish(out, fractions=fractions, seed=seed, group_by=group_by, alphabet=BYTES.name,
                             vocab=BYTES.vocab, provenance=provenance)
