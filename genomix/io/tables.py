"""Label tables: tab-separated text with a header row (plain or gzip).

The table maps a record id to its label and to any other columns (kept as per-sequence metadata).
"""

from __future__ import annotations

import csv
import logging
import os
from dataclasses import dataclass

from genomix.errors import InputFormatError
from genomix.io.compression import open_text, read_errors

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LabelTable:
    """A label table read into memory.

    Attributes:
        path: the file it came from.
        columns: the header, in file order.
        rows: id -> {column: value} for every row (the id and label columns included).
    """

    path: str
    columns: tuple[str, ...]
    rows: dict[str, dict[str, str]]


def read_label_table(path: str | os.PathLike, *, id_column: str = "id",
                     label_column: str = "label") -> LabelTable:
    """Read a TSV label table.

    Args:
        path: the table (tab-separated, first line is the header).
        id_column: the column holding record ids.
        label_column: the column holding labels.

    Returns:
        The table, keyed by id.

    Raises:
        InputFormatError: the file is empty, lacks a named column, has a row of the wrong width,
            an empty id or label, or an id twice; messages name the file and line.
    """
    path = str(path)
    with open_text(path) as handle, read_errors(path, "TSV"):
        reader = csv.reader(handle, delimiter="\t")
        header = next(reader, None)
        if not header:
            raise InputFormatError(f"{path}: empty label table; expected a header line with "
                                   f"{id_column!r} and {label_column!r} columns")
        header = [name.strip() for name in header]
        _check_header(path, header)
        for name, option in ((id_column, "--id-column"), (label_column, "--label-column")):
            if name not in header:
                raise InputFormatError(f"{path}: no column {name!r} ({option}); the header has "
                                       f"{', '.join(map(repr, header))}")
        rows: dict[str, dict[str, str]] = {}
        for line_number, fields in enumerate(reader, start=2):
            if not fields or all(not value.strip() for value in fields):
                continue
            if len(fields) != len(header):
                raise InputFormatError(f"{path}: line {line_number}: {len(fields)} fields, "
                                       f"expected {len(header)} as in the header")
            row = {name: value.strip() for name, value in zip(header, fields) if name}
            record_id, label = row[id_column], row[label_column]
            if not record_id or not label:
                raise InputFormatError(f"{path}: line {line_number}: empty "
                                       f"{'id' if not record_id else 'label'}")
            if record_id in rows:
                raise InputFormatError(f"{path}: line {line_number}: id {record_id!r} occurs twice")
            rows[record_id] = row
    return LabelTable(path=path, columns=tuple(name for name in header if name), rows=rows)


def _check_header(path: str, header: list[str]) -> None:
    """Refuse repeated or unusable column names; columns without a name are dropped (logged).

    A table written by pandas with its index (``df.to_csv(sep="\\t")``) starts with an unnamed column:
    the row numbers, not metadata.
    """
    unnamed = [k + 1 for k, name in enumerate(header) if not name]
    if unnamed:
        logger.info("%s: column %s has no name (a pandas index?); it is ignored", path,
                    ", ".join(map(str, unnamed)))
    seen: set[str] = set()
    for name in header:
        if not name:
            continue
        if name in seen:
            raise InputFormatError(f"{path}: line 1: column {name!r} occurs twice in the header; "
                                   "expected unique column names")
        if "/" in name:
            raise InputFormatError(f"{path}: line 1: column name {name!r} holds a '/'; rename the column "
                                   "(names become HDF5 dataset names)")
        seen.add(name)
