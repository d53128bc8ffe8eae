"""The genomix dataset file: HDF5, format version 1 (DESIGN.md, "The dataset file").

Layout::

    /                     attrs: format="genomix-dataset", version=1, task, alphabet,
                                 vocab (JSON), classes (JSON list, classification only), provenance (JSON)
    /<split>/tokens       uint8 (total_length,)            or  /<split>/values float32 (total_length, channels)
    /<split>/offsets      int64 (n + 1,); sequence k is tokens[offsets[k]:offsets[k + 1]]
    /<split>/labels       int64 (n,) class indices, or float32 (n,) / (n, targets) for regression
    /<split>/ids          UTF-8 strings (n,)
    /<split>/meta/<col>   optional per-sequence columns (n,)
    /<split>/<extra>      optional further arrays, e.g. alt_tokens + alt_offsets (variant effect)

Files are written to a hidden temporary file beside the target and renamed over it when complete, so
an interrupted build never leaves a file at the target path. Large arrays are chunked (256 KiB) and
compressed with LZF: on DNA tokens it writes at about 280 MB/s on a 2-core machine, 2.4x faster than
gzip level 1 (120 MB/s), which would make writing the slowest step of a FASTA build; gzip files are
45% smaller (see docs/datasets.md). LZF ships with h5py; other HDF5 tools need its filter plugin.

:class:`DatasetFile` opens the HDF5 file lazily in each process (it remembers the pid), so a
:class:`DatasetFile` or :class:`SplitView` can be pickled into DataLoader workers or used after fork.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from genomix.datasets.h5write import GuardedFile, hdf5_output, write_array
from genomix.datasets.integrity import check_split, check_storage, check_tokens
from genomix.errors import DatasetFormatError

logger = logging.getLogger(__name__)

FORMAT = "genomix-dataset"
VERSION = 1
TASKS = ("classification", "regression", "variant_effect", "masked_lm")
ALPHABET_NAMES = ("dna", "bytes", "values")
SPLIT_NAMES = ("train", "valid", "test")
REQUIRED_ATTRS = ("format", "version", "task", "alphabet", "vocab", "provenance")

COMPRESSION = "lzf"
CHUNK_BYTES = 1 << 18  # 256 KiB of tokens per chunk: one random read decompresses at most ~2 chunks
CHUNK_CACHE_BYTES = 32 << 20
_STRING = h5py.string_dtype("utf-8")


@dataclass
class SplitArrays:
    """The arrays of one split, ready to write.

    Attributes:
        tokens: ``uint8 (total_length,)``, all sequences concatenated; ``None`` for real-valued tasks.
        values: ``float32 (total_length, channels)``; ``None`` for token tasks.
        offsets: ``int64 (n + 1,)``, starting at 0, non-decreasing, ending at ``total_length``.
        labels: ``int64 (n,)`` class indices or ``float32 (n,)`` / ``(n, targets)`` targets.
        ids: ``n`` record ids.
        meta: optional per-sequence columns (each of length ``n``; strings or numbers).
        extra: optional further arrays written as datasets of the split group under their names
            (the variant-effect task stores ``alt_tokens`` and ``alt_offsets``).
    """

    tokens: np.ndarray | None = None
    values: np.ndarray | None = None
    offsets: np.ndarray | None = None
    labels: np.ndarray | None = None
    ids: list[str] | None = None
    meta: dict[str, np.ndarray | list] = field(default_factory=dict)
    extra: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return 0 if self.offsets is None else len(self.offsets) - 1


# ----------------------------------------------------------------------------------------- writing


def write_dataset(
    path: str | os.PathLike,
    splits: dict[str, SplitArrays],
    *,
    task: str,
    alphabet: str,
    vocab: dict,
    classes: list[str] | None,
    provenance: dict,
    extra_attrs: dict | None = None,
) -> None:
    """Write a dataset file atomically.

    Args:
        path: the target ``.h5`` file; replaced only once the new file is complete.
        splits: split name -> arrays (usually ``train``, ``valid``, ``test``; at least one).
        task: one of :data:`TASKS`.
        alphabet: one of :data:`ALPHABET_NAMES`.
        vocab: letter -> token (stored as JSON).
        classes: class names, index = label (classification); ``None`` otherwise.
        provenance: see :func:`genomix.datasets.provenance.make_provenance` (stored as JSON).
        extra_attrs: more root attributes; strings and numbers are stored as they are, anything
            else as JSON.

    Raises:
        ValueError: an argument or array is inconsistent (the message names the split and array).
        OutputError: the disk is full (or the file cannot be written); nothing is left at ``path``.
        KeyboardInterrupt: Ctrl-C during the write; likewise nothing is left at ``path``.
    """
    _check_header(splits, task=task, alphabet=alphabet, classes=classes)
    for name, arrays in splits.items():
        _check_split(name, arrays, classes=classes)
    with DatasetWriter(path, task=task, alphabet=alphabet, vocab=vocab, classes=classes, provenance=provenance,
                       extra_attrs=extra_attrs) as writer:
        for name, arrays in splits.items():
            writer.add_split(name, arrays)


class DatasetWriter:
    """A dataset file being written: root attributes first, then split by split; atomic.

    Use as a context manager: the file is written to a hidden temporary name beside ``path`` and
    renamed over it only when the block ends without an error (then it is also opened once to check
    it reads). :func:`write_dataset` is the whole-arrays shortcut; builders whose data does not fit
    in memory stream a split's rows with :meth:`stream_split`.

    Args:
        path, task, alphabet, vocab, classes, provenance, extra_attrs: as :func:`write_dataset`.
    """

    def __init__(self, path: str | os.PathLike, *, task: str, alphabet: str, vocab: dict,
                 classes: list[str] | None, provenance: dict, extra_attrs: dict | None = None) -> None:
        _check_header({"": None}, task=task, alphabet=alphabet, classes=classes)
        self.target = Path(path)
        self.classes = classes
        self._header = dict(task=task, alphabet=alphabet, vocab=vocab, classes=classes, provenance=provenance,
                            extra_attrs=extra_attrs)
        self._output: contextlib.ExitStack | None = None
        self._handle: h5py.File | None = None
        self.guard: GuardedFile | None = None
        self.split_sizes: dict[str, int] = {}

    def __enter__(self) -> "DatasetWriter":
        self.target.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.ExitStack() as stack:
            self._handle, self.guard = stack.enter_context(hdf5_output(self.target, verify=self._verify))
            _write_attrs(self._handle, **self._header)
            self._output = stack.pop_all()
        return self

    def __exit__(self, kind, error, traceback) -> bool | None:
        output, self._output = self._output, None
        if kind is None and not self.split_sizes:
            kind, error, traceback = ValueError, ValueError("a dataset needs at least one split, got none"), None
            if not output.__exit__(kind, error, traceback):
                raise error
            return None
        suppressed = output.__exit__(kind, error, traceback)
        if kind is None:
            logger.info("wrote %s (%s)", self.target,
                        ", ".join(f"{name}: {n}" for name, n in self.split_sizes.items()))
        return suppressed

    @staticmethod
    def _verify(path: Path) -> None:
        open_dataset(path).close()

    def add_split(self, name: str, arrays: SplitArrays) -> None:
        """Write one whole split.

        Raises:
            ValueError: the arrays are inconsistent (the message names the split and array).
        """
        _check_split(name, arrays, classes=self.classes)
        _write_split(self._handle.create_group(name), arrays, self.guard)
        self.split_sizes[name] = len(arrays)

    def stream_split(self, name: str, *, offsets: np.ndarray, channels: int | None = None) -> "SplitStream":
        """Start a split whose data rows are written block by block (:class:`SplitStream`).

        Args:
            name: the split.
            offsets: ``int64 (n + 1,)``, as in :class:`SplitArrays`; their last entry is the row count.
            channels: ``None`` for ``uint8`` tokens, else the number of float32 ``values`` columns.
        """
        return SplitStream(self, name, np.asarray(offsets, dtype=np.int64), channels)


class SplitStream:
    """One split's rows, written in order and in whole chunks (no chunk is compressed twice).

    Token rows are stored as :func:`write_dataset` stores them. Values are chunked by column
    (``CHUNK_BYTES`` per chunk of one column), LZF with shuffle: a column that is almost constant (the
    adding problem's marker channel) then compresses to almost nothing. Call :meth:`write` until every
    row is written, then :meth:`finish` with the per-sequence arrays.
    """

    def __init__(self, writer: DatasetWriter, name: str, offsets: np.ndarray, channels: int | None) -> None:
        self.writer, self.name, self.offsets = writer, name, offsets
        self.group = writer._handle.create_group(name)
        total = int(offsets[-1]) if len(offsets) else 0
        if channels is None:
            rows = max(1, min(total, CHUNK_BYTES))
            dataset = self.group.create_dataset("tokens", shape=(total,), dtype=np.uint8, chunks=(rows,),
                                                compression=COMPRESSION)
        else:
            rows = max(1, min(total, CHUNK_BYTES // 4))
            dataset = self.group.create_dataset("values", shape=(total, channels), dtype=np.float32,
                                                chunks=(rows, 1), compression=COMPRESSION, shuffle=True)
        self._rows = _ChunkAlignedWriter(dataset)

    def write(self, block: np.ndarray) -> None:
        """The next rows: ``uint8 (rows,)`` tokens or ``float32 (rows, channels)`` values."""
        self.writer.guard.check()  # a full disk or Ctrl-C stops the stream here
        self._rows.write(np.ascontiguousarray(block, dtype=self._rows.dataset.dtype))

    def finish(self, *, labels: np.ndarray, ids: list[str], meta: dict | None = None,
               extra: dict | None = None) -> None:
        """Write the split's offsets, labels, ids, meta columns and extra arrays (checked like
        :class:`SplitArrays`).

        Raises:
            ValueError: fewer or more rows were written than the offsets say, or an array's length
                is not the number of sequences.
        """
        self._rows.close()
        placeholder = np.empty((self._rows.dataset.shape[0], 0), dtype=np.float32)  # the rows, for the checks
        arrays = SplitArrays(values=placeholder, offsets=self.offsets, labels=labels, ids=ids, meta=meta or {},
                             extra=extra or {})
        _check_split(self.name, arrays, classes=self.writer.classes)
        _write_rest(self.group, arrays, self.writer.guard)
        self.writer.split_sizes[self.name] = len(arrays)


class _ChunkAlignedWriter:
    """Write rows to an HDF5 dataset in whole chunks, so no chunk is compressed twice."""

    def __init__(self, dataset: h5py.Dataset):
        self.dataset = dataset
        self.rows = dataset.chunks[0]
        self.position = 0
        self.pending: list[np.ndarray] = []
        self.pending_rows = 0

    def write(self, block: np.ndarray) -> None:
        self.pending.append(block)
        self.pending_rows += len(block)
        if self.pending_rows >= self.rows:
            data = np.concatenate(self.pending) if len(self.pending) > 1 else self.pending[0]
            whole = len(data) - len(data) % self.rows
            self._store(data[:whole])
            self.pending = [data[whole:]]
            self.pending_rows = len(data) - whole

    def close(self) -> None:
        if self.pending_rows:
            self._store(np.concatenate(self.pending))
            self.pending, self.pending_rows = [], 0
        if self.position != self.dataset.shape[0]:
            raise ValueError(f"wrote {self.position:,} rows of {self.dataset.shape[0]:,}")

    def _store(self, data: np.ndarray) -> None:
        if self.position + len(data) > self.dataset.shape[0]:
            raise ValueError(f"more rows than the offsets say ({self.dataset.shape[0]:,})")
        self.dataset[self.position:self.position + len(data)] = data
        self.position += len(data)


def _check_header(splits: dict, *, task: str, alphabet: str, classes: list[str] | None) -> None:
    if task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
    if alphabet not in ALPHABET_NAMES:
        raise ValueError(f"alphabet must be one of {', '.join(ALPHABET_NAMES)}, got {alphabet!r}")
    if not splits:
        raise ValueError("a dataset needs at least one split, got none")
    if task == "classification" and not classes:
        raise ValueError("a classification dataset needs its list of classes, got none")


def _check_split(name: str, arrays: SplitArrays, *, classes: list[str] | None) -> None:
    where = f"split {name!r}"
    if (arrays.tokens is None) == (arrays.values is None):
        raise ValueError(f"{where}: give exactly one of tokens and values")
    if arrays.offsets is None or arrays.labels is None or arrays.ids is None:
        raise ValueError(f"{where}: offsets, labels and ids are required")
    data = arrays.tokens if arrays.tokens is not None else arrays.values
    if arrays.tokens is not None and (arrays.tokens.ndim != 1 or arrays.tokens.dtype != np.uint8):
        raise ValueError(f"{where}: tokens must be 1-D uint8, got {arrays.tokens.ndim}-D {arrays.tokens.dtype}")
    if arrays.values is not None and arrays.values.ndim != 2:
        raise ValueError(f"{where}: values must be (total_length, channels), got shape {arrays.values.shape}")
    offsets = np.asarray(arrays.offsets)
    n = len(offsets) - 1
    if offsets.ndim != 1 or n < 0 or offsets[0] != 0 or offsets[-1] != len(data) or np.any(np.diff(offsets) < 0):
        raise ValueError(f"{where}: offsets must be n+1 non-decreasing integers from 0 to "
                         f"total_length {len(data):,}")
    if len(arrays.labels) != n or len(arrays.ids) != n:
        raise ValueError(f"{where}: {n} sequences but {len(arrays.labels)} labels and {len(arrays.ids)} ids")
    if classes and n and np.issubdtype(np.asarray(arrays.labels).dtype, np.integer):
        labels = np.asarray(arrays.labels)
        if labels.min() < 0 or labels.max() >= len(classes):
            raise ValueError(f"{where}: labels must lie in 0..{len(classes) - 1} (one per class), "
                             f"got {labels.min()}..{labels.max()}")
    for column, values in arrays.meta.items():
        if not isinstance(column, str) or not column or "/" in column or column == ".":
            raise ValueError(f"{where}: meta column name {column!r} cannot be an HDF5 dataset name; expected a "
                             "non-empty name without '/'")
        if len(values) != n:
            raise ValueError(f"{where}: meta column {column!r} has {len(values)} values, expected {n}")


def _write_attrs(handle: h5py.File, *, task, alphabet, vocab, classes, provenance, extra_attrs) -> None:
    attrs = handle.attrs
    attrs["format"] = FORMAT
    attrs["version"] = VERSION
    attrs["task"] = task
    attrs["alphabet"] = alphabet
    attrs["vocab"] = json.dumps(vocab)
    if classes is not None:
        attrs["classes"] = json.dumps(list(classes))
    attrs["provenance"] = json.dumps(provenance, default=str)
    for key, value in (extra_attrs or {}).items():
        if key in attrs:
            raise ValueError(f"extra attribute {key!r} would overwrite a format attribute")
        attrs[key] = value if isinstance(value, (str, int, float, bool, np.number)) else json.dumps(value)


def _write_split(group: h5py.Group, arrays: SplitArrays, guard: GuardedFile) -> None:
    if arrays.tokens is not None:
        _write_array(group, "tokens", np.ascontiguousarray(arrays.tokens, dtype=np.uint8), guard)
    else:
        _write_array(group, "values", np.ascontiguousarray(arrays.values, dtype=np.float32), guard)
    _write_rest(group, arrays, guard)


def _write_rest(group: h5py.Group, arrays: SplitArrays, guard: GuardedFile) -> None:
    """Everything of a split but its tokens or values."""
    _write_array(group, "offsets", np.asarray(arrays.offsets, dtype=np.int64), guard)
    labels = np.asarray(arrays.labels)
    labels = labels.astype(np.int64) if np.issubdtype(labels.dtype, np.integer) else labels.astype(np.float32)
    _write_array(group, "labels", labels, guard)
    group.create_dataset("ids", data=np.array(list(arrays.ids), dtype=object), dtype=_STRING)
    if arrays.meta:
        meta = group.create_group("meta")
        for column, values in arrays.meta.items():
            _write_column(meta, column, values, guard)
    for name, values in arrays.extra.items():
        if name in group:
            raise ValueError(f"extra array {name!r} would overwrite a standard dataset of the split")
        _write_array(group, name, np.asarray(values), guard)


def _write_column(group: h5py.Group, name: str, values: np.ndarray | list, guard: GuardedFile) -> None:
    array = np.asarray(values)
    if array.dtype.kind in "biuf":
        _write_array(group, name, array, guard)
    else:
        group.create_dataset(name, data=np.array([str(v) for v in values], dtype=object), dtype=_STRING)


def _write_array(group: h5py.Group, name: str, array: np.ndarray, guard: GuardedFile) -> None:
    if array.size == 0 or array.nbytes < CHUNK_BYTES // 4:
        write_array(group, name, array, guard)
        return
    row_bytes = max(1, array.itemsize * int(np.prod(array.shape[1:])))
    rows = max(1, min(len(array), CHUNK_BYTES // row_bytes))
    write_array(group, name, array, guard, chunks=(rows, *array.shape[1:]), compression=COMPRESSION,
                shuffle=array.itemsize > 1)


# ----------------------------------------------------------------------------------------- reading


class DatasetFile:
    """A dataset file opened for reading; validated on open.

    Attributes:
        path: the file.
        task, alphabet: as stored.
        vocab: letter -> token.
        classes: class names (index = label), or ``None``.
        provenance: how the file was made.
        attrs: every root attribute, JSON ones decoded.
        split_names: the splits present, ``train``/``valid``/``test`` first.

    The HDF5 handle is opened on first use in each process, so the object may be pickled (DataLoader
    workers) or used after ``fork``. Use as a context manager or call :meth:`close`.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = str(path)
        self._handle: h5py.File | None = None
        self._pid: int | None = None
        handle = self._file()
        self.attrs = _read_attrs(handle, self.path)
        self.task: str = self.attrs["task"]
        self.alphabet: str = self.attrs["alphabet"]
        self.vocab: dict = self.attrs["vocab"]
        self.classes: list[str] | None = self.attrs.get("classes")
        self.provenance: dict = self.attrs["provenance"]
        self.vocab_size: int = _check_vocab(self.vocab, self.alphabet, self.path)
        if self.classes is not None and (not isinstance(self.classes, list) or not self.classes):
            raise DatasetFormatError(f"{self.path}: attribute 'classes' should be a non-empty JSON list of "
                                     f"class names, found {self.classes!r}")
        check_storage(handle, self.path)  # before any array is read: no links, no external or sparse data
        names = [name for name in handle if isinstance(handle[name], h5py.Group)]
        self.split_names: list[str] = sorted(
            names, key=lambda n: (SPLIT_NAMES.index(n) if n in SPLIT_NAMES else len(SPLIT_NAMES), n))
        if not self.split_names:
            raise DatasetFormatError(f"{self.path}: the dataset has no split group")
        for name in self.split_names:
            check_split(handle[name], f"{self.path}: split {name!r}", classes=self.classes)
        self._splits: dict[str, SplitView] = {}

    def split(self, name: str) -> "SplitView":
        """The split called ``name``.

        Raises:
            DatasetFormatError: no such split (the message lists the available ones).
        """
        if name not in self.split_names:
            raise DatasetFormatError(f"{self.path}: no split {name!r}; available: {', '.join(self.split_names)}")
        if name not in self._splits:
            self._splits[name] = SplitView(self, name)
        return self._splits[name]

    def _file(self) -> h5py.File:
        """The HDF5 handle of this process (reopened after fork or unpickling)."""
        if self._handle is None or self._pid != os.getpid():
            self._handle = _open_h5(self.path)
            self._pid = os.getpid()
        return self._handle

    def close(self) -> None:
        """Close the HDF5 handle (it reopens on next use)."""
        if self._handle is not None and self._pid == os.getpid():
            self._handle.close()
        self._handle = None
        self._pid = None

    def __enter__(self) -> "DatasetFile":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_handle"] = None
        state["_pid"] = None
        return state

    def __repr__(self) -> str:
        return f"DatasetFile({self.path!r}, task={self.task!r}, splits={self.split_names})"


def open_dataset(path: str | os.PathLike) -> DatasetFile:
    """Open and validate a dataset file.

    Raises:
        FileNotFoundError: there is no such file.
        DatasetFormatError: the file is not HDF5, not a genomix dataset, of another format version,
            or lacks a required attribute or array (the message says which).
    """
    return DatasetFile(path)


class SplitView:
    """Read access to one split; O(1) per sequence.

    ``offsets``, ``labels`` and ``ids`` are read once and cached; sequence data is read on demand.
    """

    def __init__(self, dataset: DatasetFile, name: str):
        self.dataset = dataset
        self.name = name
        group = dataset._file()[name]
        self.data_name = "tokens" if "tokens" in group else "values"
        self.offsets: np.ndarray = group["offsets"][()].astype(np.int64)
        self._labels: np.ndarray | None = None
        self._ids: list[str] | None = None
        self._extra_offsets: dict[str, np.ndarray] = {}

    def _group(self) -> h5py.Group:
        return self.dataset._file()[self.name]

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def lengths(self) -> np.ndarray:
        """``int64 (n,)`` sequence lengths (from the offsets; no sequence data is read)."""
        return np.diff(self.offsets)

    @property
    def labels(self) -> np.ndarray:
        """``int64 (n,)`` class indices or ``float32`` targets."""
        if self._labels is None:
            self._labels = self._group()["labels"][()]
        return self._labels

    @property
    def ids(self) -> list[str]:
        """The ``n`` record ids."""
        if self._ids is None:
            self._ids = list(self._group()["ids"].asstr()[()])
        return self._ids

    @property
    def meta_columns(self) -> list[str]:
        """Names of the per-sequence metadata columns."""
        group = self._group()
        return sorted(group["meta"]) if "meta" in group else []

    def meta(self, column: str) -> np.ndarray:
        """One metadata column, ``(n,)`` (strings as an object array of ``str``).

        Raises:
            DatasetFormatError: no such column (the message lists the available ones).
        """
        group = self._group()
        if "meta" not in group or column not in group["meta"]:
            raise DatasetFormatError(f"{self.dataset.path}: split {self.name!r} has no meta column {column!r}; "
                                     f"available: {', '.join(self.meta_columns) or 'none'}")
        dataset = group["meta"][column]
        if h5py.check_string_dtype(dataset.dtype):
            return np.array(dataset.asstr()[()], dtype=object)
        return dataset[()]

    @property
    def extra_names(self) -> list[str]:
        """Names of the split's additional arrays (e.g. ``alt_tokens``, ``alt_offsets``)."""
        standard = {"tokens", "values", "offsets", "labels", "ids", "meta"}
        return sorted(name for name in self._group() if name not in standard)

    def extra(self, name: str) -> np.ndarray:
        """A whole additional array of the split."""
        group = self._group()
        if name not in group or name in ("meta",):
            raise DatasetFormatError(f"{self.dataset.path}: split {self.name!r} has no array {name!r}; "
                                     f"available: {', '.join(self.extra_names) or 'none'}")
        return group[name][()]

    def read_extra(self, prefix: str, k: int) -> np.ndarray:
        """Sequence ``k`` of a ragged extra pair ``<prefix>_tokens`` + ``<prefix>_offsets``.

        Example: ``split.read_extra("alt", k)`` is the alternative allele sequence of variant ``k``.
        """
        self._check_extra_pair(prefix)
        group = self._group()
        start, stop = group[f"{prefix}_offsets"][self._index(k):self._index(k) + 2]
        return self._checked(group[f"{prefix}_tokens"][start:stop], f"{prefix}_tokens")

    def extra_offsets(self, prefix: str) -> np.ndarray:
        """``int64 (n + 1,)`` offsets of a ragged extra pair ``<prefix>_tokens`` + ``<prefix>_offsets``
        (read once and cached, like :attr:`offsets`).

        Raises:
            DatasetFormatError: the split has no such pair (the message lists its arrays).
        """
        if prefix not in self._extra_offsets:
            self._check_extra_pair(prefix)
            self._extra_offsets[prefix] = self._group()[f"{prefix}_offsets"][()].astype(np.int64)
        return self._extra_offsets[prefix]

    def read_extra_rows(self, prefix: str, start: int, stop: int) -> np.ndarray:
        """Rows ``start:stop`` of ``<prefix>_tokens`` (several sequences of the pair in one read).

        Raises:
            DatasetFormatError: the split has no such pair.
        """
        self._check_extra_pair(prefix)
        return self._checked(self._group()[f"{prefix}_tokens"][int(start):int(stop)], f"{prefix}_tokens")

    def _check_extra_pair(self, prefix: str) -> None:
        group = self._group()
        for name in (f"{prefix}_tokens", f"{prefix}_offsets"):
            if name not in group:
                raise DatasetFormatError(f"{self.dataset.path}: split {self.name!r} has no array {name!r}; "
                                         f"available: {', '.join(self.extra_names) or 'none'}")

    def _index(self, k: int) -> int:
        n = len(self)
        k = int(k)
        if not -n <= k < n:
            raise IndexError(f"sequence {k} out of range for split {self.name!r} of {n} sequences")
        return k % n

    def __getitem__(self, k: int) -> np.ndarray:
        """Tokens ``uint8 (length,)`` (or values ``float32 (length, channels)``) of sequence ``k``."""
        k = self._index(k)
        return self._checked(self._group()[self.data_name][self.offsets[k]:self.offsets[k + 1]])

    def _checked(self, tokens: np.ndarray, name: str | None = None) -> np.ndarray:
        """``tokens`` as read, after checking they lie in the vocabulary (real values pass as they are)."""
        return check_tokens(tokens, vocab_size=self.dataset.vocab_size,
                            where=f"{self.dataset.path}: split {self.name!r} {name or self.data_name}")

    def read_many(self, indices: Sequence[int] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Several sequences, concatenated in the given order, ready for the variable-length model.

        Neighbouring sequences are read as one contiguous range, so a batch of adjacent sequences
        costs one read.

        Args:
            indices: sequence numbers (any order, repeats allowed).

        Returns:
            ``(data, lengths)``: data ``uint8 (sum(lengths),)`` (or ``float32 (sum, channels)``) and
            ``int64 (len(indices),)`` lengths.
        """
        indices = np.array([self._index(k) for k in indices], dtype=np.int64)
        lengths = self.offsets[indices + 1] - self.offsets[indices]
        dataset = self._group()[self.data_name]
        if len(indices) == 0:
            return np.empty((0, *dataset.shape[1:]), dtype=dataset.dtype), lengths
        unique = np.unique(indices)
        run_starts = np.flatnonzero(np.diff(unique, prepend=-2) != 1)
        pieces: dict[int, np.ndarray] = {}
        for first, last in zip(unique[run_starts], np.append(unique[run_starts[1:] - 1], unique[-1])):
            base = self.offsets[first]
            block = dataset[base:self.offsets[last + 1]]
            for k in range(first, last + 1):
                pieces[k] = block[self.offsets[k] - base:self.offsets[k + 1] - base]
        return self._checked(np.concatenate([pieces[k] for k in indices])), lengths

    def __repr__(self) -> str:
        return f"SplitView({self.dataset.path!r}, {self.name!r}, n={len(self)})"


def _open_h5(path: str) -> h5py.File:
    if not os.path.exists(path):
        raise FileNotFoundError(2, "No such file", path)
    if not h5py.is_hdf5(path):
        raise DatasetFormatError(f"{path}: is not an HDF5 file (expected a genomix dataset .h5 file)")
    try:
        return h5py.File(path, "r", rdcc_nbytes=CHUNK_CACHE_BYTES)
    except OSError as error:
        raise DatasetFormatError(f"{path}: is not a readable HDF5 file ({error})") from None


def _read_attrs(handle: h5py.File, path: str) -> dict[str, Any]:
    attrs = {key: _plain(value) for key, value in handle.attrs.items()}
    if "format" not in attrs:
        raise DatasetFormatError(f"{path}: not a genomix dataset (no 'format' attribute)")
    if attrs["format"] != FORMAT:
        raise DatasetFormatError(f"{path}: not a genomix dataset (format is {attrs['format']!r}, "
                                 f"expected {FORMAT!r})")
    if attrs.get("version") != VERSION:
        raise DatasetFormatError(f"{path}: dataset format version {attrs.get('version')}, "
                                 f"this genomix reads version {VERSION}")
    for key in REQUIRED_ATTRS:
        if key not in attrs:
            raise DatasetFormatError(f"{path}: genomix dataset without its {key!r} attribute")
    for key in ("vocab", "classes", "provenance"):
        if key in attrs:
            try:
                attrs[key] = json.loads(attrs[key])
            except (TypeError, ValueError):
                raise DatasetFormatError(f"{path}: attribute {key!r} is not valid JSON") from None
    return attrs


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.generic):
        return value.item()
    return value


def _check_vocab(vocab: Any, alphabet: str, path: str) -> int:
    """The number of token values (the largest token + 1), after checking the vocabulary's shape."""
    if not isinstance(vocab, dict):
        raise DatasetFormatError(f"{path}: attribute 'vocab' should be a JSON object, found {type(vocab).__name__}")
    if alphabet == "values":
        return 0
    if alphabet == "bytes":  # token = byte value; every uint8 is one
        return 256
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in vocab.values()):
        raise DatasetFormatError(f"{path}: attribute 'vocab' should map each letter to an integer token")
    if not vocab or min(vocab.values()) < 0 or max(vocab.values()) > 255:
        raise DatasetFormatError(f"{path}: vocabulary tokens should lie in 0..255 (uint8), found "
                                 f"{min(vocab.values(), default=None)}..{max(vocab.values(), default=None)}")
    return max(vocab.values()) + 1
