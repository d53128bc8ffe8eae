"""Datasets derived from a dataset: a smaller training split (few labels), a split as FASTA.

Why: pretraining is measured where labels are few (fine-tune on a fraction of a task's train split,
valid and test unchanged), and the unlabelled DNA of a train split can feed a pretraining corpus without
any test record (``genomix build-dataset pretrain`` reads FASTA).
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

from genomix.alphabet import DNA
from genomix.datasets.store import SplitArrays, open_dataset, write_dataset
from genomix.errors import ConfigError, DatasetFormatError
from genomix.files import atomic_open
from genomix.validation import check_output_not_input, check_seed


def stratified_fraction(labels: np.ndarray, fraction: float, *, seed: int) -> np.ndarray:
    """Sorted indices of about ``fraction`` of the items of each class (at least one per class), seeded."""
    if not 0 < fraction <= 1:
        raise ConfigError(f"fraction should be in (0, 1], got {fraction}")
    rng = np.random.default_rng(check_seed(seed))
    labels = np.asarray(labels)
    chosen = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        count = max(1, int(round(fraction * len(members))))
        chosen.append(rng.permutation(members)[:count])
    return np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, dtype=np.int64)


def _split_arrays(split, keep: np.ndarray) -> SplitArrays:
    tokens, lengths = split.read_many(keep) if len(keep) else (np.zeros(0, np.uint8), np.zeros(0, np.int64))
    return SplitArrays(tokens=np.asarray(tokens, dtype=np.uint8),
                       offsets=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
                       labels=np.asarray(split.labels)[keep], ids=[split.ids[i] for i in keep.tolist()],
                       meta={column: list(split.meta(column)[keep]) for column in split.meta_columns})


def subsample_split(source: str | os.PathLike, out: str | os.PathLike, *, fraction: float, seed: int = 0,
                    split: str = "train") -> dict[str, int]:
    """Write a copy of a token dataset whose ``split`` keeps a stratified ``fraction`` of its sequences.

    The other splits are copied unchanged (same records, same order); the root attributes are kept and
    the provenance records the subsampling.

    Returns:
        Sequences per split in the new file.

    Raises:
        DatasetFormatError: a dataset of values, of ref/alt pairs, or without ``split``.
    """
    check_output_not_input(out, [source])
    dataset = open_dataset(source)
    if dataset.alphabet == "values" or dataset.task == "variant_effect":
        raise DatasetFormatError(f"{source}: only token datasets of one sequence per example can be subsampled")
    if split not in dataset.split_names:
        raise DatasetFormatError(f"{source} has no split {split!r} (it has {', '.join(dataset.split_names)})")
    splits = {}
    for name in dataset.split_names:
        view = dataset.split(name)
        keep = (stratified_fraction(view.labels, fraction, seed=seed) if name == split
                else np.arange(len(view), dtype=np.int64))
        splits[name] = _split_arrays(view, keep)
    provenance = {**dataset.provenance, "subsample": {"source": str(source), "split": split, "fraction": fraction,
                                                      "seed": seed}}
    extra = {key: value for key, value in dataset.attrs.items()
             if key not in ("format", "version", "task", "alphabet", "vocab", "classes", "provenance")}
    write_dataset(out, splits, task=dataset.task, alphabet=dataset.alphabet, vocab=dataset.vocab,
                  classes=dataset.classes, provenance=provenance, extra_attrs=extra or None)
    return {name: len(arrays) for name, arrays in splits.items()}


def write_split_fasta(source: str | os.PathLike, out: str | os.PathLike, *, split: str = "train",
                      line_width: int = 80) -> int:
    """Write the DNA sequences of one split as (gzip, when ``out`` ends in ``.gz``) FASTA; returns the count.

    Raises:
        DatasetFormatError: not a DNA dataset, or no such split.
    """
    check_output_not_input(out, [source])
    dataset = open_dataset(source)
    if dataset.alphabet != "dna" or dataset.task == "variant_effect":
        raise DatasetFormatError(f"{source}: only DNA datasets of one sequence per example can be written as FASTA")
    if split not in dataset.split_names:
        raise DatasetFormatError(f"{source} has no split {split!r} (it has {', '.join(dataset.split_names)})")
    view = dataset.split(split)
    with atomic_open(Path(out), "wb") as raw:
        stream = gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) if str(out).endswith(".gz") else raw
        for k, record_id in enumerate(view.ids):
            letters = DNA.decode(view[k])
            body = "\n".join(letters[i:i + line_width] for i in range(0, len(letters), line_width))
            stream.write(f">{record_id}\n{body}\n".encode("ascii"))
        if stream is not raw:
            stream.close()
    return len(view)


__all__ = ["subsample_split", "stratified_fraction", "write_split_fasta"]
