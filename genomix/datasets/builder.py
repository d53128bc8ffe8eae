"""What every classification builder shares: collect labelled sequences, filter, split, write.

A builder reads its inputs, decides each record's label, and hands ``(id, tokens, label, meta)`` to a
:class:`LabelledCollection`, or tells it why a record was skipped. :meth:`LabelledCollection.finish`
applies the filters in a fixed order (length when added, then ``classes``, ``dedup``, ``min_count``),
splits, writes the file and returns the summary.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from genomix.errors import ConfigError, GenomixError, InputFormatError
from genomix.datasets.splits import SPLIT_NAMES, check_fractions, merge_groups, split_indices
from genomix.datasets.store import SplitArrays, write_dataset

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Filters:
    """Which records a builder keeps.

    Attributes:
        classes: keep only these classes (``None``: all).
        min_count: drop classes with fewer records (after the other filters).
        min_len: drop sequences shorter than this (bases).
        max_len: drop sequences longer than this (bases; ``None``: no limit).
        dedup: drop repeated identical sequences (the first is kept). Without it, identical
            sequences are still kept in the same split.
    """

    classes: Sequence[str] | None = None
    min_count: int = 1
    min_len: int = 1
    max_len: int | None = None
    dedup: bool = False

    def __post_init__(self) -> None:
        if self.min_count < 1 or self.min_len < 0:
            raise ConfigError(f"--min-count must be >= 1 and --min-len >= 0, got {self.min_count} and {self.min_len}")
        if self.max_len is not None and self.max_len < max(self.min_len, 1):
            raise ConfigError(f"--max-len {self.max_len} is below --min-len {self.min_len}")


@dataclass
class LabelledCollection:
    """Labelled sequences gathered by a builder, plus the count of records skipped by reason."""

    filters: Filters = field(default_factory=Filters)
    ids: list[str] = field(default_factory=list)
    tokens: list[np.ndarray] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    meta: list[dict[str, str]] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)
    records_read: int = 0
    seen_labels: set = field(default_factory=set)
    sources: list[str] = field(default_factory=list)
    first_skipped: dict[str, str] = field(default_factory=dict)
    source_of: dict[str, str] = field(default_factory=dict)

    def skip(self, reason: str, record_id: str | None = None) -> None:
        """Count one record skipped for ``reason`` (the first record's id is kept for messages)."""
        self.skipped[reason] += 1
        if record_id is not None:
            self.first_skipped.setdefault(reason, record_id)

    def accepts_length(self, length: int, label: str, record_id: str | None = None) -> bool:
        """Whether a sequence of ``length`` bases passes ``min_len``/``max_len`` (counts a skip if not).

        ``label`` is remembered, so ``--classes`` can tell a class filtered out by length from a typo.
        """
        self.seen_labels.add(label)
        if length < self.filters.min_len:
            self.skip(f"shorter than --min-len {self.filters.min_len:,}", record_id)
            return False
        if self.filters.max_len is not None and length > self.filters.max_len:
            self.skip(f"longer than --max-len {self.filters.max_len:,}", record_id)
            return False
        return True

    def add(self, record_id: str, tokens: np.ndarray, label: str, meta: dict[str, str], *,
            source: str | None = None) -> None:
        """Keep one labelled sequence (already length-checked with :meth:`accepts_length`).

        Raises:
            InputFormatError: ``record_id`` was already added (from ``source`` or another file): the
                two records could land in different splits and every output would name both.
        """
        if record_id in self.source_of:
            first = self.source_of[record_id]
            where = f"in {first}" + (f" and in {source}" if source and source != first else " twice")
            raise InputFormatError(f"record id {record_id!r} occurs {where}; ids must be unique across all "
                                   "inputs (else one id could land in train and in test); rename or drop one")
        self.source_of[record_id] = source or "the input"
        self.ids.append(record_id)
        self.tokens.append(tokens)
        self.labels.append(label)
        self.meta.append(meta)

    def finish(
        self,
        out: str | os.PathLike,
        *,
        fractions: Sequence[float],
        seed: int,
        group_by: str | None,
        alphabet: str,
        vocab: dict,
        provenance: dict,
    ) -> dict:
        """Filter, split, write ``out`` and return the summary.

        Raises:
            ConfigError: ``classes`` names an absent class, or ``group_by`` an absent column.
            GenomixError: no record is left after filtering (nothing is written).
        """
        fractions = check_fractions(fractions)
        keep = self._filter()
        if not keep:
            sources = f" from {', '.join(self.sources)}" if self.sources else ""
            raise GenomixError(f"no records left after filtering: {self.records_read:,} read{sources}, "
                               f"skipped: {self._reasons() or 'none'}; nothing written to {out}")
        groups = self._groups(keep, group_by)
        labels = [self.labels[i] for i in keep]
        parts = split_indices(labels, fractions, seed=seed, groups=groups)
        classes = sorted(set(labels))
        if len(classes) == 1:
            logger.warning("only one class left (%s): the dataset cannot teach a classifier much", classes[0])
        splits = {name: self._arrays([keep[i] for i in parts[name]], classes)
                  for name in SPLIT_NAMES if len(parts[name])}
        for name in SPLIT_NAMES:
            if not len(parts[name]) and fractions[SPLIT_NAMES.index(name)] > 0:
                logger.warning("split %r is empty (too few records); it is not written", name)
        write_dataset(out, splits, task="classification", alphabet=alphabet, vocab=vocab,
                      classes=classes, provenance=provenance)
        return self._summary(out, keep, parts, classes)

    def _filter(self) -> list[int]:
        keep = list(range(len(self.ids)))
        wanted = self.filters.classes
        if wanted:
            present = self.seen_labels | set(self.labels)
            missing = [name for name in wanted if name not in present]
            if missing:
                raise ConfigError(f"--classes names {', '.join(map(repr, missing))}, which no record has; "
                                  f"classes present: {', '.join(sorted(present))}")
            wanted_set = set(wanted)
            for i in keep:
                if self.labels[i] not in wanted_set:
                    self.skip("class not in --classes", self.ids[i])
            keep = [i for i in keep if self.labels[i] in wanted_set]
        if self.filters.dedup:
            first: dict[bytes, int] = {}
            unique = []
            for i in keep:
                j = first.setdefault(self._digest(i), i)
                if j == i:
                    unique.append(i)
                else:
                    same = self.labels[i] == self.labels[j]
                    self.skip("duplicate sequence" if same else "duplicate sequence with another label", self.ids[i])
            keep = unique
        counts = Counter(self.labels[i] for i in keep)
        rare = {label for label, count in counts.items() if count < self.filters.min_count}
        for i in keep:
            if self.labels[i] in rare:
                self.skip(f"class with fewer than --min-count {self.filters.min_count} records", self.ids[i])
        return [i for i in keep if self.labels[i] not in rare]

    def _reasons(self) -> str:
        return ", ".join(f"{count:,} {reason}" + (f" (first: record {self.first_skipped[reason]})"
                                                  if reason in self.first_skipped else "")
                         for reason, count in sorted(self.skipped.items()))

    def _digest(self, i: int) -> bytes:
        return hashlib.blake2b(self.tokens[i].tobytes(), digest_size=16).digest()

    def _groups(self, keep: list[int], group_by: str | None) -> np.ndarray:
        keys: list[list] = [[self._digest(i) for i in keep]]
        if group_by is not None:
            columns = sorted(self.meta[keep[0]]) if keep else []
            if group_by not in columns:
                raise ConfigError(f"--group-by {group_by!r} is not a column of these records; "
                                  f"columns: {', '.join(columns) or 'none'}")
            keys.append([self.meta[i][group_by] or None for i in keep])
        return merge_groups(*keys)

    def _arrays(self, items: list[int], classes: list[str]) -> SplitArrays:
        index = {name: k for k, name in enumerate(classes)}
        lengths = np.array([len(self.tokens[i]) for i in items], dtype=np.int64)
        columns = sorted(self.meta[items[0]]) if items else []
        return SplitArrays(
            tokens=np.concatenate([self.tokens[i] for i in items]),
            offsets=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
            labels=np.array([index[self.labels[i]] for i in items], dtype=np.int64),
            ids=[self.ids[i] for i in items],
            meta={column: [self.meta[i].get(column, "") for i in items] for column in columns},
        )

    def _summary(self, out, keep: list[int], parts: dict[str, np.ndarray], classes: list[str]) -> dict:
        lengths = np.array([len(self.tokens[i]) for i in keep])
        per_class = {name: {split: 0 for split in SPLIT_NAMES} for name in classes}
        for split, items in parts.items():
            for i in items:
                per_class[self.labels[keep[i]]][split] += 1
        return {
            "out": str(out),
            "records_read": self.records_read,
            "skipped": dict(sorted(self.skipped.items())),
            "kept": len(keep),
            "classes": per_class,
            "splits": {split: int(len(items)) for split, items in parts.items()},
            "length": {"min": int(lengths.min()), "median": float(np.median(lengths)),
                       "max": int(lengths.max()), "total": int(lengths.sum())},
        }


