"""The cheap reference: k-mer frequency profiles with a linear model (scikit-learn).

Each sequence becomes the frequencies of its overlapping k-mers (DNA: over ``A C G T``, ``4**k``
features, k-mers holding ``N`` or IUPAC codes skipped; other alphabets: k-mers hashed into
``n_features`` buckets). Classification uses logistic regression, regression ridge; the
regularisation strength is chosen on ``valid`` and the chosen model is scored on ``test`` with the
same metric functions as ChordMixer.
"""

from __future__ import annotations

import logging
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from genomix.datasets.store import open_dataset
from genomix.errors import DatasetFormatError
from genomix.training import rundir
from genomix.training.metrics import metrics_by_length
from genomix.training.tasks import TASKS
from genomix.validation import check_output_not_input

logger = logging.getLogger(__name__)

_DNA_BASE_CODE = np.full(256, -1, dtype=np.int64)
_DNA_BASE_CODE[[1, 2, 3, 4]] = [0, 1, 2, 3]  # tokens of A C G T


def kmer_profiles(tokens: np.ndarray, lengths: np.ndarray, *, k: int, alphabet: str = "dna",
                  n_features: int = 4096) -> np.ndarray:
    """K-mer frequency profile of each sequence.

    Args:
        tokens: ``(N,)`` uint8 tokens, the sequences concatenated.
        lengths: ``(B,)`` sequence lengths (sum ``N``).
        k: k-mer size.
        alphabet: ``dna`` (exact ``4**k`` features) or any other (hashed).
        n_features: number of hash buckets for non-DNA alphabets.

    Returns:
        ``(B, F)`` float32 frequencies; each row sums to 1 (0 for sequences with no valid k-mer).
    """
    if k < 1:
        raise ValueError(f"k should be >= 1, got {k}")
    tokens = np.asarray(tokens, dtype=np.uint8)
    lengths = np.asarray(lengths, dtype=np.int64)
    if alphabet == "dna":
        symbols, base = _DNA_BASE_CODE[tokens], 4
        n_out = 4**k
    else:
        symbols, base = tokens.astype(np.int64), 257
        n_out = n_features
    n = tokens.size
    n_windows = max(n - k + 1, 0)
    codes = np.zeros(n_windows, dtype=np.int64)
    valid = np.ones(n_windows, dtype=bool)
    for j in range(k):
        part = symbols[j : j + n_windows]
        valid &= part >= 0
        codes = codes * base + np.maximum(part, 0)
        if alphabet != "dna":
            codes %= 2**40
    if alphabet != "dna":
        codes = codes % n_features
    sequence_of = np.repeat(np.arange(lengths.size), lengths)[:n_windows]
    starts = np.concatenate([[0], np.cumsum(lengths)])[:-1]
    position = np.arange(n_windows) - starts[sequence_of]
    valid &= position <= lengths[sequence_of] - k  # window stays inside its sequence
    counts = np.bincount(sequence_of[valid] * n_out + codes[valid], minlength=lengths.size * n_out)
    counts = counts.reshape(lengths.size, n_out).astype(np.float32)
    totals = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)


def _features(split: Any, *, k: int, alphabet: str, pairs: bool = False, chunk: int = 256) -> np.ndarray:
    """``(n, F)`` k-mer profiles; with ``pairs`` (variant effect) ``[ref, alt - ref]``, ``(n, 2F)``."""
    from genomix.datasets.variant_batches import read_pairs

    rows = []
    for start in range(0, len(split), chunk):
        indices = np.arange(start, min(start + chunk, len(split)))
        if not pairs:
            tokens, lengths = split.read_many(indices)
            rows.append(kmer_profiles(tokens, lengths, k=k, alphabet=alphabet))
            continue
        ref_tokens, ref_lengths, alt_tokens, alt_lengths = read_pairs(split, indices)
        ref = kmer_profiles(ref_tokens, ref_lengths, k=k, alphabet=alphabet)
        alt = kmer_profiles(alt_tokens, alt_lengths, k=k, alphabet=alphabet)
        rows.append(np.concatenate([ref, alt - ref], axis=1))
    return np.concatenate(rows)


def kmer_baseline(
    dataset_path: str | Path,
    *,
    k: int = 4,
    out: str | Path | None = None,
    c_grid: tuple[float, ...] = (0.1, 1.0, 10.0, 100.0),
    seed: int = 0,
) -> dict[str, Any]:
    """Fit the k-mer baseline on train, choose its regularisation on valid, score valid and test.

    Args:
        dataset_path: a genomix dataset with ``train``, ``valid`` (and usually ``test``) splits.
        k: k-mer size.
        out: optional JSON file to write the report to.
        c_grid: inverse regularisation strengths tried (ridge uses ``alpha = 1 / C``).
        seed: seed of the solver.

    Returns:
        ``{"k", "model", "C", "valid": metrics, "test": metrics, "test_by_length", "seconds"}``.

    Raises:
        DatasetFormatError: an unsupported task or alphabet, or missing splits.
    """
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from genomix.training.metrics import classification_metrics, regression_metrics

    if out is not None:
        check_output_not_input(out, [dataset_path])
    started = time.monotonic()
    dataset = open_dataset(dataset_path)
    if dataset.task not in TASKS:
        raise DatasetFormatError(f"the k-mer baseline supports {', '.join(TASKS)}, not {dataset.task!r}")
    if dataset.alphabet == "values":
        raise DatasetFormatError("the k-mer baseline needs tokens, not real-valued channels")
    for name in ("train", "valid"):
        if name not in dataset.split_names:
            raise DatasetFormatError(f"dataset {dataset_path} has no '{name}' split")
    pairs = dataset.task == "variant_effect"
    classification = dataset.task == "classification" or (pairs and dataset.attrs.get("label_kind") == "classification")
    labels = {name: np.asarray(dataset.split(name).labels) for name in dataset.split_names}
    if classification and len(np.unique(labels["train"])) < 2:
        present = [dataset.classes[int(c)] if dataset.classes else str(c) for c in np.unique(labels["train"])]
        raise DatasetFormatError(f"{dataset_path}: the k-mer baseline needs at least two classes in the train "
                                 f"split, found {len(present)} ({', '.join(present) or 'none'}); a one-class "
                                 "dataset teaches a classifier nothing")
    features = {name: _features(dataset.split(name), k=k, alphabet=dataset.alphabet, pairs=pairs)
                for name in dataset.split_names}
    if not c_grid:
        raise ValueError("c_grid should hold at least one value")
    best: tuple[float, float, Any, dict[str, Any]] = (-np.inf, c_grid[0], None, {})
    for c in c_grid:
        if classification:
            estimator = LogisticRegression(C=c, max_iter=3000, random_state=seed)
        else:
            estimator = Ridge(alpha=1.0 / c, random_state=seed)
        model = make_pipeline(StandardScaler(), estimator)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(features["train"], labels["train"])
        valid = _score(model, features["valid"], labels["valid"], classification, len(dataset.classes or []))
        key = valid["roc_auc"] if classification else -valid["mse"]
        key = -np.inf if key is None or not np.isfinite(key) else key
        logger.info("k-mer baseline k=%d C=%g: valid %s", k, c, key)
        if best[2] is None or key > best[0]:
            best = (key, c, model, valid)
    _, chosen_c, model, valid = best
    report: dict[str, Any] = {"k": k, "model": "logistic_regression" if classification else "ridge",
                              "C": chosen_c, "valid": valid}
    if "test" in dataset.split_names:
        test_split = dataset.split("test")
        scores = _scores(model, features["test"], classification, len(dataset.classes or []))
        metric_fn = classification_metrics if classification else regression_metrics
        report["test"] = metric_fn(labels["test"], scores)
        report["test_by_length"] = metrics_by_length(np.asarray(test_split.lengths), labels["test"], scores,
                                                     task="classification" if classification else "regression")
    report["seconds"] = round(time.monotonic() - started, 2)
    if out is not None:
        rundir.write_json(out, report)
    return report


def _scores(model: Any, features: np.ndarray, classification: bool, n_classes: int) -> np.ndarray:
    if not classification:
        return model.predict(features)
    probabilities = np.zeros((features.shape[0], n_classes))
    probabilities[:, model.classes_] = model.predict_proba(features)  # classes absent from train stay 0
    return probabilities


def _score(model: Any, features: np.ndarray, labels: np.ndarray, classification: bool, n_classes: int) -> dict:
    from genomix.training.metrics import classification_metrics, regression_metrics

    scores = _scores(model, features, classification, n_classes)
    return classification_metrics(labels, scores) if classification else regression_metrics(labels, scores)
