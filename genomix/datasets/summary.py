"""The summary of any dataset file, as ``genomix inspect`` shows it."""

from __future__ import annotations

import os

import numpy as np

from genomix.datasets.store import open_dataset

PERCENTILES = (0, 5, 25, 50, 75, 95, 100)


def summarize_dataset(path: str | os.PathLike) -> dict:
    """Describe a dataset file without reading its sequence data.

    Args:
        path: a genomix dataset file.

    Returns:
        ``{"path", "format", "version", "task", "alphabet", "vocab_size", "classes", "splits":
        {name: {"sequences", "bases", "length_percentiles": {p: bp}, "class_counts" | "label_stats",
        "meta_columns", "extra"}}, "provenance"}``.

    Raises:
        DatasetFormatError: the file is not a readable genomix dataset.
    """
    with open_dataset(path) as dataset:
        splits = {name: _split_summary(dataset.split(name), dataset.classes) for name in dataset.split_names}
        return {
            "path": str(path),
            "format": dataset.attrs["format"],
            "version": dataset.attrs["version"],
            "task": dataset.task,
            "alphabet": dataset.alphabet,
            "vocab_size": len(dataset.vocab) + 1,
            "classes": dataset.classes,
            "splits": splits,
            "provenance": dataset.provenance,
        }


def _split_summary(split, classes: list[str] | None) -> dict:
    lengths = split.lengths
    summary: dict = {
        "sequences": len(split),
        "bases": int(lengths.sum()),
        "length_percentiles": ({str(p): float(v) for p, v in zip(PERCENTILES, np.percentile(lengths, PERCENTILES))}
                               if len(lengths) else {}),
    }
    labels = split.labels
    if classes:
        counts = np.bincount(labels.astype(np.int64), minlength=len(classes)) if len(labels) else np.zeros(len(classes))
        summary["class_counts"] = {name: int(count) for name, count in zip(classes, counts)}
    elif len(labels):
        summary["label_stats"] = {"mean": float(np.mean(labels)), "std": float(np.std(labels)),
                                  "min": float(np.min(labels)), "max": float(np.max(labels))}
    summary["meta_columns"] = split.meta_columns
    summary["extra"] = split.extra_names
    return summary
