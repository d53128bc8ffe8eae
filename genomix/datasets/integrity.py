"""Checks that a dataset file is safe to read before numpy or torch touch its arrays.

A dataset may come from anywhere (a colleague, a download), so :class:`~genomix.datasets.store.DatasetFile`
runs these on open, cheaply (no sequence data is read):

- :func:`check_storage`: every object is a plain group or dataset stored inside the file: no soft or
  external link, no external storage (a dataset whose bytes live in another file, e.g. a system
  file), no virtual dataset, and every dataset has its storage allocated (a sparse "1e12-element"
  array would otherwise make a reader allocate terabytes of fill value);
- :func:`check_split`: offsets start at 0, never decrease and end at the data length; labels,
  ids, meta columns and alt windows have one entry per sequence; class indices lie in the classes.

Token values are checked where sequence data is read (:func:`check_tokens`, one ``max`` per batch),
so opening a 2 GB dataset stays instant.
"""

from __future__ import annotations

import math

import h5py
import numpy as np

from genomix.errors import DatasetFormatError

MAX_OBJECTS = 100_000  # a dataset has a few dozen; more means a crafted file


def check_storage(handle: h5py.File, path: str) -> None:
    """Refuse links, external or virtual storage, and unallocated (sparse) datasets anywhere in the file.

    Raises:
        DatasetFormatError: naming the object and what is wrong with it.
    """
    pending = [("", handle)]
    seen = 0
    while pending:
        prefix, group = pending.pop()
        for name in group:
            seen += 1
            if seen > MAX_OBJECTS:
                raise DatasetFormatError(f"{path}: more than {MAX_OBJECTS:,} objects; not a genomix dataset")
            where = f"{path}: /{prefix}{name}"
            link = group.get(name, getlink=True)
            if isinstance(link, (h5py.SoftLink, h5py.ExternalLink)):
                kind = "an external link" if isinstance(link, h5py.ExternalLink) else "a soft link"
                raise DatasetFormatError(f"{where} is {kind}; a genomix dataset holds only its own groups and "
                                         "arrays (refused: it could make genomix read another file)")
            item = group[name]
            if isinstance(item, h5py.Group):
                pending.append((f"{prefix}{name}/", item))
            elif isinstance(item, h5py.Dataset):
                _check_dataset_storage(item, where)
            else:  # pragma: no cover - named datatypes and the like
                raise DatasetFormatError(f"{where} is a {type(item).__name__}; expected groups and arrays only")


def _check_dataset_storage(dataset: h5py.Dataset, where: str) -> None:
    if dataset.external:
        raise DatasetFormatError(f"{where} keeps its data in another file ({dataset.external[0][0]!r}); "
                                 "refused: a genomix dataset stores its arrays inside itself")
    if dataset.is_virtual:
        raise DatasetFormatError(f"{where} is a virtual dataset (its data lives in other files); refused")
    if dataset.shape is None or dataset.size == 0:
        return
    if dataset.chunks is not None:
        expected = math.prod(math.ceil(n / c) for n, c in zip(dataset.shape, dataset.chunks))
        allocated = dataset.id.get_num_chunks()
        if allocated < expected:
            raise DatasetFormatError(f"{where}: shape {dataset.shape} but only {allocated:,} of {expected:,} "
                                     "chunks are stored (a sparse array); the file is damaged or crafted")
    elif dataset.id.get_storage_size() == 0:
        raise DatasetFormatError(f"{where}: shape {dataset.shape} but no data is stored (a sparse array); "
                                 "the file is damaged or crafted")


def check_split(group: h5py.Group, where: str, *, classes: list[str] | None) -> None:
    """Check one split's arrays against each other (offsets, lengths, label range).

    Raises:
        DatasetFormatError: naming the split and array, what was expected and what was found.
    """
    data = [name for name in ("tokens", "values") if name in group]
    if len(data) != 1:
        raise DatasetFormatError(f"{where}: expected exactly one of 'tokens' or 'values', found "
                                 f"{', '.join(data) or 'neither'}")
    for name in ("offsets", "labels", "ids"):
        if name not in group:
            raise DatasetFormatError(f"{where}: missing required array {name!r}")
    for name in (data[0], "offsets", "labels", "ids"):
        if not isinstance(group[name], h5py.Dataset) or group[name].ndim < 1:
            raise DatasetFormatError(f"{where}: {name!r} should be an array of at least one dimension")
    n = group["offsets"].shape[0] - 1
    if n < 0 or group["labels"].shape[0] != n or group["ids"].shape[0] != n:
        raise DatasetFormatError(f"{where}: {n + 1} offsets but {group['labels'].shape[0]} labels and "
                                 f"{group['ids'].shape[0]} ids (expected n + 1, n, n)")
    check_offsets(group["offsets"], group[data[0]].shape[0], f"{where}: offsets")
    if "alt_offsets" in group or "alt_tokens" in group:
        if "alt_offsets" not in group or "alt_tokens" not in group:
            raise DatasetFormatError(f"{where}: alt windows need both 'alt_tokens' and 'alt_offsets'")
        if group["alt_offsets"].shape != (n + 1,):
            raise DatasetFormatError(f"{where}: 'alt_offsets' has shape {group['alt_offsets'].shape}, expected "
                                     f"({n + 1},), one more than the {n:,} sequences")
        check_offsets(group["alt_offsets"], group["alt_tokens"].shape[0], f"{where}: alt_offsets")
    if "meta" in group:
        for column in group["meta"]:
            item = group["meta"][column]
            if not isinstance(item, h5py.Dataset) or item.shape[:1] != (n,):
                raise DatasetFormatError(f"{where}: meta column {column!r} should hold {n:,} values, one per "
                                         f"sequence; found {getattr(item, 'shape', 'a group')}")
    labels = group["labels"]
    if n and classes is not None and labels.dtype.kind in "iu":
        values = labels[()]
        low, high = int(values.min()), int(values.max())
        if low < 0 or high >= len(classes):
            raise DatasetFormatError(f"{where}: labels should be class indices 0..{len(classes) - 1} "
                                     f"({len(classes)} classes), found {low}..{high}")
    elif n and labels.dtype.kind == "f":
        values = labels[()]
        if not np.all(np.isfinite(values)):
            raise DatasetFormatError(f"{where}: {int(np.sum(~np.isfinite(values))):,} labels are nan or infinite; "
                                     "expected finite targets")
    elif n and labels.dtype.kind not in "iuf":
        raise DatasetFormatError(f"{where}: labels should be integers or floats, found dtype {labels.dtype}")


def check_offsets(offsets: h5py.Dataset | np.ndarray, total: int, where: str) -> np.ndarray:
    """``int64`` offsets that start at 0, never decrease and end at ``total``.

    Raises:
        DatasetFormatError: the first offending position and values.
    """
    if getattr(offsets, "dtype", np.dtype("f")).kind not in "iu" or np.ndim(offsets) != 1:
        raise DatasetFormatError(f"{where}: expected 1-D integers, found {np.ndim(offsets)}-D "
                                 f"{getattr(offsets, 'dtype', type(offsets))}")
    values = np.asarray(offsets[()] if isinstance(offsets, h5py.Dataset) else offsets).astype(np.int64)
    if values[0] != 0:
        raise DatasetFormatError(f"{where}: should start at 0, found {values[0]:,}")
    steps = np.diff(values)
    if np.any(steps < 0):
        k = int(np.argmax(steps < 0))
        raise DatasetFormatError(f"{where}: should never decrease, found {values[k]:,} then {values[k + 1]:,} "
                                 f"at sequence {k + 1:,} (a negative length)")
    if values[-1] != total:
        raise DatasetFormatError(f"{where}: should end at the data length {total:,}, found {values[-1]:,}")
    return values


def check_tokens(tokens: np.ndarray, *, vocab_size: int, where: str) -> np.ndarray:
    """Return ``tokens`` unless one is outside ``0..vocab_size - 1`` (the model's embedding table).

    Raises:
        DatasetFormatError: the largest token found.
    """
    if tokens.size and tokens.dtype.kind in "iu":
        largest = int(tokens.max())
        if largest >= vocab_size:
            raise DatasetFormatError(f"{where}: token {largest} is outside the vocabulary (0..{vocab_size - 1}); "
                                     "the file is damaged or crafted")
    return tokens
