"""The pretraining builder: unlabelled DNA from FASTA and GenBank files -> a ``masked_lm`` dataset.

No labels: every DNA record of every input is kept (GenBank records without DNA are skipped and
counted), whole or cut into non-overlapping windows. The split is **by record**: every window of a
record lands in the same split, so no base of a held-out record is seen in training. Records are
shuffled with the seed and each goes to the split furthest below its share of the bases read so far,
so the splits get about the requested fractions of *bases* (a 5 Mb genome and a 16 kb one do not
count the same); with few records a small split may stay empty, and a warning says so.

Each input file is split **on its own** (its records against its own bases): otherwise the held-out
splits, short of bases after a whole chromosome went to train, would be filled from whichever file has
the smallest records (2,800 of 5,558 500-bp enhancer records landed in valid beside 16 kb genomes), and
the training corpus would lose most of that file. The records of files that hold a single record
(one genome per file) are split together, as one more group.

``labels`` are stored as zeros (the format requires the array; the targets are the tokens themselves).
Meta columns: ``record`` (the record's id), ``start`` (0-based offset of the window in it) and
``source_file``.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np

from genomix.alphabet import DNA
from genomix.datasets.provenance import make_provenance
from genomix.datasets.splits import SPLIT_NAMES, check_fractions
from genomix.datasets.store import SplitArrays, write_dataset
from genomix.errors import ConfigError, GenomixError, InputFormatError
from genomix.io.fasta import read_fasta
from genomix.io.genbank import read_genbank
from genomix.validation import check_output_not_input, check_seed

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[int], None]


def cut_windows(length: int, *, window: int, min_len: int) -> list[tuple[int, int]]:
    """``(start, stop)`` of the non-overlapping windows of a record of ``length`` bases.

    ``window=0`` keeps the record whole. The last, shorter piece is kept when it has at least
    ``min_len`` bases (a record shorter than ``min_len`` gives no window).
    """
    if window <= 0:
        return [(0, length)] if length >= max(min_len, 1) else []
    starts = range(0, length, window)
    return [(start, min(start + window, length)) for start in starts if min(start + window, length) - start >= max(min_len, 1)]


def assign_records(sizes: Sequence[int], fractions: Sequence[float], *, seed: int,
                   groups: Sequence[str] | None = None) -> np.ndarray:
    """The split (0 train, 1 valid, 2 test) of each record, by shares of bases (see the module docstring).

    With ``groups`` (each record's input file), the records of each group are split on their own, the
    ``g``-th group (in order of first appearance) shuffled with ``(seed, g)``.
    """
    fractions = np.asarray(check_fractions(fractions), dtype=np.float64)
    seed = check_seed(seed)
    if groups is None:
        return _assign(sizes, fractions, np.random.default_rng(seed))
    if len(groups) != len(sizes):
        raise ValueError(f"{len(groups)} groups for {len(sizes)} records")
    groups = np.asarray(groups, dtype=object)
    assigned = np.zeros(len(sizes), dtype=np.int64)
    for number, group in enumerate(dict.fromkeys(groups.tolist())):
        members = np.flatnonzero(groups == group)
        assigned[members] = _assign([sizes[i] for i in members], fractions, np.random.default_rng([seed, number]))
    return assigned


def _assign(sizes: Sequence[int], fractions: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    order = rng.permutation(len(sizes))
    assigned = np.zeros(len(sizes), dtype=np.int64)
    totals = np.zeros(3, dtype=np.float64)
    for index in order.tolist():
        after = totals.sum() + sizes[index]
        deficit = np.where(fractions > 0, fractions * after - totals, -np.inf)
        split = int(np.argmax(deficit))
        assigned[index] = split
        totals[split] += sizes[index]
    return assigned


def _records(path: str, *, skipped: dict[str, int]) -> Iterator[tuple[str, str]]:
    """``(id, sequence)`` of each DNA record of a FASTA or GenBank file (told apart by content)."""
    if _is_genbank(path):
        for record in read_genbank(path):
            if record.skip_reason is not None:
                skipped[record.skip_reason] = skipped.get(record.skip_reason, 0) + 1
                continue
            yield record.id, record.sequence or ""
    else:
        for record in read_fasta(path):
            yield record.id, record.sequence


def _is_genbank(path: str) -> bool:
    from genomix.io.compression import open_text

    with open_text(path) as handle:
        for line in handle:
            if line.strip():
                return line.startswith("LOCUS")
    return False


def build_pretraining_dataset(
    paths: Sequence[str | os.PathLike],
    out: str | os.PathLike,
    *,
    window: int = 0,
    min_len: int = 1,
    fractions: Sequence[float] = (0.9, 0.05, 0.05),
    seed: int = 0,
    progress: ProgressCallback | None = None,
    command: Sequence[str] | None = None,
) -> dict:
    """Build a ``masked_lm`` dataset of unlabelled DNA.

    Args:
        paths: FASTA and/or GenBank files (plain, gzip or BGZF; the format is read from the content).
        out: the ``.h5`` file to write.
        window: cut records into windows of this many bases (0: whole records).
        min_len: drop records, and last windows, shorter than this.
        fractions: (train, valid, test) fractions of the bases, split by record within each file.
        seed: seed of the split.
        progress: called with each record's length.
        command: command line for the provenance (default ``sys.argv``).

    Returns:
        A summary: ``records_read``, ``skipped``, ``records`` and ``windows`` and ``bases`` per split,
        ``out``.

    Raises:
        InputFormatError, AlphabetError, ConfigError, GenomixError: bad input or options, a repeated
            record id, or no DNA left; nothing is written then.
    """
    paths = [str(p) for p in paths]
    if not paths:
        raise ConfigError("give at least one FASTA or GenBank file")
    if window < 0 or min_len < 0:
        raise ConfigError(f"--window and --min-len should be >= 0, got {window} and {min_len}")
    fractions = check_fractions(fractions)
    check_output_not_input(out, paths)
    records: list[tuple[str, str, np.ndarray]] = []  # (id, source file, tokens)
    seen: dict[str, str] = {}
    skipped: dict[str, int] = {}
    without_dna: dict[str, int] = {}  # GenBank records without DNA (protein, CONTIG), never yielded
    read = 0
    for path in paths:
        for record_id, sequence in _records(path, skipped=without_dna):
            read += 1
            if progress is not None:
                progress(len(sequence))
            if record_id in seen:
                raise InputFormatError(f"record id {record_id!r} occurs in {seen[record_id]} and in {path}; ids must be "
                                       "unique across all inputs (each record is held out whole); rename or drop one")
            seen[record_id] = path
            if len(sequence) < max(min_len, 1):
                skipped[f"shorter than --min-len {max(min_len, 1):,}"] = skipped.get(
                    f"shorter than --min-len {max(min_len, 1):,}", 0) + 1
                continue
            records.append((record_id, path, DNA.encode(sequence, record=record_id)))
    read += sum(without_dna.values())
    skipped.update(without_dna)
    if not records:
        raise GenomixError(f"no DNA records left: {read:,} read from {', '.join(paths)}, skipped: "
                           f"{', '.join(f'{n:,} {why}' for why, n in skipped.items()) or 'none'}; nothing written to {out}")
    per_file = Counter(path for _, path, _ in records)
    groups = [path if per_file[path] > 1 else "" for _, path, _ in records]  # "": the files of one record
    assigned = assign_records([len(tokens) for _, _, tokens in records], fractions, seed=seed, groups=groups)
    splits, summary_splits = {}, {}
    for number, name in enumerate(SPLIT_NAMES):
        chosen = [records[i] for i in np.flatnonzero(assigned == number)]
        arrays = _windows(chosen, window=window, min_len=min_len)
        if arrays is None:
            if fractions[number] > 0:
                logger.warning("split %r is empty (too few records for its share); it is not written", name)
            continue
        splits[name] = arrays
        summary_splits[name] = {"records": len(chosen), "windows": len(arrays), "bases": int(arrays.offsets[-1])}
    if "train" not in splits:
        raise GenomixError(f"no training windows: every record is shorter than --min-len {min_len}; nothing written")
    options = {"window": window, "min_len": min_len, "split": list(fractions), "split_by": "record within each file"}
    provenance = make_provenance(paths, seed=seed, command=command, options=options)
    write_dataset(out, splits, task="masked_lm", alphabet="dna", vocab=DNA.vocab, classes=None,
                  provenance=provenance, extra_attrs={"window": window})
    return {"out": str(out), "records_read": read, "skipped": dict(sorted(skipped.items())),
            "splits": summary_splits}


def _windows(records: list[tuple[str, str, np.ndarray]], *, window: int, min_len: int) -> SplitArrays | None:
    pieces, ids, names, starts, sources = [], [], [], [], []
    for record_id, path, tokens in records:
        for start, stop in cut_windows(len(tokens), window=window, min_len=min_len):
            pieces.append(tokens[start:stop])
            ids.append(record_id if window <= 0 else f"{record_id}:{start + 1}-{stop}")
            names.append(record_id)
            starts.append(start)
            sources.append(Path(path).name)
    if not pieces:
        return None
    lengths = np.array([len(piece) for piece in pieces], dtype=np.int64)
    return SplitArrays(tokens=np.concatenate(pieces), offsets=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
                       labels=np.zeros(len(pieces), dtype=np.int64), ids=ids,
                       meta={"record": names, "start": starts,
                             "source_file": sources})


def format_pretraining_summary(summary: dict) -> str:
    """The build summary as a few readable lines."""
    lines = [f"records read: {summary['records_read']:,}"]
    lines += [f"  skipped, {why}: {count:,}" for why, count in summary["skipped"].items()]
    for name, counts in summary["splits"].items():
        lines.append(f"{name}: {counts['records']:,} records, {counts['windows']:,} windows, {counts['bases']:,} bp")
    lines.append(f"wrote {summary['out']}")
    return "\n".join(lines)


__all__ = ["build_pretraining_dataset", "cut_windows", "assign_records", "format_pretraining_summary"]
