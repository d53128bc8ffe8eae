"""The taxonomy builder: label DNA records by taxon and write a classification dataset.

Two input styles:

- GenBank files, labelled by a rank of each record's lineage (:mod:`genomix.datasets.ranks`), by the
  ORGANISM name, or by a qualifier of the ``source`` feature (``qualifier:serotype``);
- one FASTA file, labelled from a TSV table (``id`` -> ``label``) or by a regular expression on
  each header.

Both then share :class:`~genomix.datasets.builder.LabelledCollection`: filters, split, write, summary.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path

from genomix.alphabet import DNA
from genomix.datasets.builder import Filters, LabelledCollection
from genomix.datasets.provenance import make_provenance
from genomix.datasets.ranks import RANKS, rank_from_lineage
from genomix.errors import AlphabetError, ConfigError, InputFormatError
from genomix.io.fasta import read_fasta
from genomix.io.genbank import GenBankRecord, read_genbank
from genomix.io.tables import read_label_table
from genomix.validation import check_output_not_input

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[int], None]
"""Called with the number of bases of each record read (the CLI drives a progress bar with it)."""


def genbank_labeller(*, rank: str | None = None, label_from: str | None = None) -> Callable[[GenBankRecord], tuple[str | None, str]]:
    """Make the function that labels a GenBank record.

    Args:
        rank: one of :data:`~genomix.datasets.ranks.RANKS`.
        label_from: ``"organism"`` or ``"qualifier:NAME"`` (exactly one of ``rank`` and this).

    Returns:
        record -> ``(label, skip_reason)``; ``label`` is ``None`` when the record has none.

    Raises:
        ConfigError: neither or both given, or an unknown rank or source.
    """
    if (rank is None) == (label_from is None):
        raise ConfigError("give exactly one of --rank and --label-from")
    if rank is not None:
        if rank not in RANKS:
            raise ConfigError(f"--rank must be one of {', '.join(RANKS)}, got {rank!r}")
        return lambda record: (rank_from_lineage(record.lineage, record.organism, rank), f"no {rank} in lineage")
    if label_from == "organism":
        return lambda record: (record.organism or None, "no ORGANISM name")
    if label_from.startswith("qualifier:") and label_from[len("qualifier:"):]:
        name = label_from[len("qualifier:"):]
        return lambda record: ((record.source.get(name) or [None])[0] or None, f"no /{name} qualifier")
    raise ConfigError(f"--label-from must be 'organism' or 'qualifier:NAME', got {label_from!r}")


def build_taxonomy_from_genbank(
    paths: Sequence[str | os.PathLike],
    out: str | os.PathLike,
    *,
    rank: str | None = None,
    label_from: str | None = None,
    filters: Filters = Filters(),
    fractions: Sequence[float] = (0.8, 0.1, 0.1),
    seed: int = 0,
    group_by: str | None = None,
    progress: ProgressCallback | None = None,
    command: Sequence[str] | None = None,
) -> dict:
    """Build a taxonomy dataset from GenBank files.

    Records without DNA (protein, CONTIG) or without the asked label are skipped and counted; see
    :mod:`genomix.io.genbank` for every messy case. Meta columns: ``organism``, ``lineage``,
    ``molecule_type``, ``source_file``.

    Args:
        paths: GenBank files (plain, gzip, BGZF).
        out: the ``.h5`` file to write.
        rank, label_from: how to label, see :func:`genbank_labeller`.
        filters: which records to keep.
        fractions: (train, valid, test) fractions.
        seed: seed of the split.
        group_by: a meta column whose equal values stay in one split.
        progress: called with each record's length.
        command: command line for the provenance (default ``sys.argv``).

    Returns:
        The summary (see :meth:`LabelledCollection.finish`).

    Raises:
        InputFormatError, AlphabetError, ConfigError, GenomixError: bad input or options, or no
            record left; no file is written then.
    """
    if not paths:
        raise ConfigError("give at least one --genbank file")
    check_output_not_input(out, paths)
    labeller = genbank_labeller(rank=rank, label_from=label_from)
    collection = LabelledCollection(filters=filters, sources=[str(p) for p in paths])
    for path in paths:
        for record in read_genbank(path):
            collection.records_read += 1
            if progress is not None:
                progress(len(record.sequence or ""))
            _add_genbank_record(collection, record, labeller)
    options = {"rank": rank, "label_from": label_from, "group_by": group_by, "split": list(fractions),
               **_filter_options(filters)}
    provenance = make_provenance(paths, seed=seed, command=command, options=options)
    return collection.finish(out, fractions=fractions, seed=seed, group_by=group_by, alphabet="dna",
                             vocab=DNA.vocab, provenance=provenance)


def _add_genbank_record(collection: LabelledCollection, record: GenBankRecord, labeller) -> None:
    reason = record.skip_reason
    if reason is not None:
        collection.skip(reason, record.id)
        return
    label, missing_reason = labeller(record)
    if label is None:
        collection.skip(missing_reason, record.id)
        return
    if not collection.accepts_length(len(record.sequence), label, record.id):
        return
    tokens = _encode(record.sequence, record.id, record.path)
    meta = {"organism": record.organism, "lineage": "; ".join(record.lineage),
            "molecule_type": record.molecule_type, "source_file": Path(record.path).name}
    collection.add(record.id, tokens, label, meta, source=str(record.path))


def build_taxonomy_from_fasta(
    path: str | os.PathLike | Sequence[str | os.PathLike],
    out: str | os.PathLike,
    *,
    labels: str | os.PathLike | None = None,
    id_column: str = "id",
    label_column: str = "label",
    label_regex: str | None = None,
    filters: Filters = Filters(),
    fractions: Sequence[float] = (0.8, 0.1, 0.1),
    seed: int = 0,
    group_by: str | None = None,
    progress: ProgressCallback | None = None,
    command: Sequence[str] | None = None,
) -> dict:
    """Build a taxonomy dataset from FASTA files (one or several; record ids unique across them).

    Every FASTA record must get a label: a record missing from the table (or whose header the regex
    does not match) is an error listing the first such ids. Table rows without a FASTA record are
    counted in the summary (``labels_without_sequence``). Meta columns: the table's other columns
    (with ``labels``) or ``description`` (with ``label_regex``).

    Args:
        path: the FASTA file (plain or gzip), or several.
        out: the ``.h5`` file to write.
        labels: TSV table with ``id_column`` and ``label_column``.
        id_column, label_column: column names in ``labels``.
        label_regex: instead of ``labels``: a regular expression searched in each header; the label
            is its group ``label`` if named so, else its first group.
        filters, fractions, seed, group_by, progress, command: as in :func:`build_taxonomy_from_genbank`.

    Raises:
        InputFormatError, AlphabetError, ConfigError, GenomixError: bad input or options, a record
            without label, or no record left; no file is written then.
    """
    paths = [str(path)] if isinstance(path, (str, os.PathLike)) else [str(p) for p in path]
    if not paths:
        raise ConfigError("give at least one --fasta file")
    check_output_not_input(out, [*paths, labels])
    label_of = _fasta_labeller(labels, id_column=id_column, label_column=label_column, label_regex=label_regex)
    collection = LabelledCollection(filters=filters, sources=paths)
    unlabelled: list[str] = []
    for path in paths:
        read_before = collection.records_read
        for record in read_fasta(path):
            collection.records_read += 1
            if progress is not None:
                progress(len(record.sequence))
            found = label_of(record.id, record.description)
            if found is None:
                unlabelled.append(record.id)
                continue
            label, meta = found
            if not record.sequence:
                collection.skip("empty sequence", record.id)
            elif collection.accepts_length(len(record.sequence), label, record.id):
                collection.add(record.id, _encode(record.sequence, record.id, path), label, meta, source=path)
        if collection.records_read == read_before:
            raise InputFormatError(f"{path}: no FASTA record found (expected lines starting with '>'); "
                                   "the file is empty")
    if unlabelled:
        source = f"{labels} (column {id_column!r})" if labels is not None else f"--label-regex {label_regex!r}"
        raise InputFormatError(f"{', '.join(paths)}: {len(unlabelled):,} of {collection.records_read:,} records have "
                               f"no label in {source}: {', '.join(unlabelled[:5])}{', ...' if len(unlabelled) > 5 else ''}")
    inputs = paths + ([str(labels)] if labels is not None else [])
    options = {"labels": str(labels) if labels else None, "id_column": id_column, "label_column": label_column,
               "label_regex": label_regex, "group_by": group_by, "split": list(fractions),
               **_filter_options(filters)}
    provenance = make_provenance(inputs, seed=seed, command=command, options=options)
    summary = collection.finish(out, fractions=fractions, seed=seed, group_by=group_by, alphabet="dna",
                                vocab=DNA.vocab, provenance=provenance)
    if labels is not None:
        summary["labels_without_sequence"] = getattr(label_of, "unused", lambda: 0)()
    return summary


def _fasta_labeller(labels, *, id_column: str, label_column: str, label_regex: str | None):
    if (labels is None) == (label_regex is None):
        raise ConfigError("give exactly one of --labels and --label-regex with --fasta")
    if label_regex is not None:
        return _regex_labeller(label_regex)
    table = read_label_table(labels, id_column=id_column, label_column=label_column)
    used: set[str] = set()

    def label_of(record_id: str, description: str):
        row = table.rows.get(record_id)
        if row is None:
            return None
        used.add(record_id)
        return row[label_column], {k: v for k, v in row.items() if k not in (id_column, label_column)}

    label_of.unused = lambda: len(table.rows) - len(used)  # type: ignore[attr-defined]
    return label_of


def _regex_labeller(label_regex: str):
    try:
        pattern = re.compile(label_regex)
    except re.error as error:
        raise ConfigError(f"--label-regex {label_regex!r} is not a valid regular expression: {error}") from None
    if pattern.groups < 1:
        raise ConfigError(f"--label-regex {label_regex!r} needs a group that captures the label, "
                          "e.g. 'label=(\\S+)'")
    group = "label" if "label" in pattern.groupindex else 1

    def label_of(record_id: str, description: str):
        match = pattern.search(description)
        if match is None or not match.group(group):
            return None
        return match.group(group), {"description": description}

    return label_of


def _encode(sequence: str, record_id: str, path: str):
    try:
        return DNA.encode(sequence, record=record_id)
    except AlphabetError as error:
        raise AlphabetError(f"{path}: {error}") from None


def _filter_options(filters: Filters) -> dict:
    return {"classes": list(filters.classes) if filters.classes else None, "min_count": filters.min_count,
            "min_len": filters.min_len, "max_len": filters.max_len, "dedup": filters.dedup}

