"""Whether where k-mers lie in a dataset's sequences says more than their counts: ``model.pooling='auto'``.

Why: a decoder that reads each channel's first position moment (``pooling='moments'``) lets ChordMixer
learn what depends on order and place (which of two motifs comes first: valid 0.99 where every
mean-pooled setting stayed at chance), but on a task where places carry nothing it only lets the network
memorise its training sequences (human enhancers: train loss 0.43 against 0.53, valid ROC AUC 0.775
against 0.800; docs/quality.md, ninth round). Which of the two a dataset is, a linear probe tells in
seconds: logistic regression (ridge for regression) on each sequence's k-mer frequencies, with and without
each k-mer's frequency weighted by the ramp of :func:`~genomix.models.pooling.position_ramp` (where along
the sequence it lies), scored out of fold over the training split as the profile head's k is
(:mod:`genomix.training.profile_fit`).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch

from genomix.models.kmers import FIRST_KMER, kmer_ids, kmer_vocab_size
from genomix.models.pooling import position_ramp
from genomix.training.profile_fit import best_c_on_valid, out_of_fold_logits, out_of_fold_loss, whole_sequences
from genomix.training.tasks import is_classification, training_targets

logger = logging.getLogger(__name__)

PROBE_K = 4
"""k of the probe's k-mers: 256 frequencies and 256 position moments, the k-mer baseline's k."""
MAX_RECORDS = 20_000
"""Records of train (and of valid) the probe reads at most, a seeded random subset beyond: the order task's
16,000 training sequences take 9 s on a 2-vCPU EPYC; a million would take hours."""
MIN_GAIN = 0.01
"""Out-of-fold loss the moments must gain over the frequencies alone to be chosen (nats, or squared error of
standardised targets; times the frequencies' loss where that is above 1): where places carry nothing the two
differ by noise, and on a near-separable task by a hair (orchid genera: 0.027 against 0.018), too little to
give a network of a few dozen training sequences the places to memorise them by (enhancers, above)."""


def positional_profiles(split: Any, indices: np.ndarray | None = None, *, k: int = PROBE_K,
                        chunk_tokens: int = 1 << 22) -> np.ndarray:
    """``(n, 2 * 4**k)`` float64: each sequence's DNA k-mer frequencies, then each k-mer's frequency weighted
    by where it lies (``ramp`` at its first base: mean 0 over the sequence), for ``indices`` (default: every
    record, in split order)."""
    n_ids = kmer_vocab_size(k, "acgt", 4096)
    rows = []
    for tokens, lengths in whole_sequences(split, indices, chunk_tokens=chunk_tokens):
        ids = kmer_ids(tokens, lengths, k=k, vocab="acgt")
        owner = torch.repeat_interleave(torch.arange(len(lengths)), lengths) * n_ids + ids
        sums = torch.zeros(2, len(lengths) * n_ids, dtype=torch.float64)
        sums[0].index_add_(0, owner, torch.ones(len(ids), dtype=torch.float64))
        sums[1].index_add_(0, owner, position_ramp(lengths).double())
        sums = sums.view(2, len(lengths), n_ids)[:, :, FIRST_KMER:]
        total = sums[0].sum(1, keepdim=True).clamp(min=1)
        rows.append(torch.cat([sums[0] / total, sums[1] / total], 1).numpy())
    return np.concatenate(rows) if rows else np.zeros((0, 2 * (n_ids - FIRST_KMER)))


def _standardise(train: np.ndarray, other: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean, scale = train.mean(0), train.std(0)
    scale[scale == 0] = 1.0
    return (train - mean) / scale, (other - mean) / scale


def probe_positions(dataset: Any, task: Any, *, output_size: int, seed: int = 0, folds: int = 5,
                    metric: str | None = None, weights: np.ndarray | None = None) -> dict[str, Any]:
    """Score the k-mer frequencies alone (``'mean'``) and with their position moments (``'moments'``): for
    each, a linear model with C chosen on valid (``metric``, as the profile head's fit), then its out-of-fold
    loss over train at that C (log loss, or the training targets' mean squared error).

    Returns:
        ``{"chosen": "moments" or "mean", "by": ..., "scores": {"mean": {"C", "valid", "out_of_fold"},
        "moments": {...}}}``; ``'moments'`` is chosen only if its out-of-fold loss is lower by more than
        :data:`MIN_GAIN` (times the other's, where that is above 1). Too few training records for two folds
        (per class): ``'mean'``, with empty scores.
    """
    from genomix.training.metrics import higher_is_better

    classification = is_classification(task)
    metric = metric or ("roc_auc" if classification else task.default_metric)
    sign = 1.0 if higher_is_better(metric) else -1.0
    train, valid = dataset.split("train"), dataset.split("valid")
    rng = np.random.default_rng(seed)
    subset = lambda n: None if n <= MAX_RECORDS else np.sort(rng.choice(n, MAX_RECORDS, replace=False))  # noqa: E731
    train_rows, valid_rows = subset(len(train)), subset(len(valid))
    y_train = training_targets(task, train.labels).numpy()
    if train_rows is not None:
        y_train = y_train[train_rows]
        weights = None if weights is None else weights[train_rows]
    if classification:  # every fold must hold every class
        _, counts = np.unique(y_train.astype(np.int64), return_counts=True)
        folds = min(folds, int(counts.min()) if len(counts) > 1 else 0)
    else:
        folds = min(folds, len(y_train) // 2)
    if folds < 2 or len(valid) == 0:
        return {"chosen": "mean", "by": "too few training records for a probe of k-mer places", "scores": {}}
    labels_valid = np.asarray(valid.labels)
    if valid_rows is not None:
        labels_valid = labels_valid[valid_rows]
    x_train, x_valid = positional_profiles(train, train_rows), positional_profiles(valid, valid_rows)
    half = x_train.shape[1] // 2
    scores: dict[str, dict[str, float]] = {}
    for name, columns in (("mean", slice(0, half)), ("moments", slice(0, 2 * half))):
        fit_x, valid_x = _standardise(x_train[:, columns], x_valid[:, columns])
        score, c, _ = best_c_on_valid(fit_x, y_train, valid_x, labels_valid, task, metric=metric,
                                      output_size=output_size, seed=seed, weights=weights)
        logits = out_of_fold_logits(fit_x, y_train, classification=classification, c=c, seed=seed, folds=folds,
                                    output_size=output_size, weights=weights)
        loss = out_of_fold_loss(classification, y_train, logits)
        scores[name] = {"C": c, "valid": sign * score, "out_of_fold": loss}
    gain = scores["mean"]["out_of_fold"] - scores["moments"]["out_of_fold"]
    chosen = "moments" if gain > MIN_GAIN * max(1.0, scores["mean"]["out_of_fold"]) else "mean"
    by = f"out_of_fold_{'log_loss' if classification else 'squared_error'} of a {PROBE_K}-mer probe"
    return {"chosen": chosen, "by": by, "scores": scores}


__all__ = ["MAX_RECORDS", "MIN_GAIN", "PROBE_K", "positional_profiles", "probe_positions"]
