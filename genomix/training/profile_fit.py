"""The k-mer profile head before training: its standardisation, and its fit as the k-mer baseline.

Why: the k-mer baseline (a linear model of standardised k-mer frequencies, regularisation chosen on
valid) is what the network must at least match. Fitted in closed form on the whole training sequences
and then kept fixed (``TrainConfig.profile_fit``), the head *is* that baseline, so the network starts
where the baseline ends and its blocks and decoder (zero-initialised) learn only what the k-mer profile
misses: order, motifs, position. Trained jointly from zero on 4-kb training windows instead, the head
saw noisy window profiles standardised by whole-genome statistics, its losses spiked (10-40 on single
batches) and it stayed short of the baseline on long genomes (docs/quality.md).

Both steps are deterministic and cheap (one pass of k-mer counting over train and valid, a few
scikit-learn fits on ``(n, 4**k)`` features).
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

import numpy as np
import torch

logger = logging.getLogger(__name__)

C_GRID = (0.1, 1.0, 10.0, 100.0)  # as the k-mer baseline's (genomix.training.baseline)
_ABSENT_CLASS_LOGIT = -30.0  # below every fitted class: a class missing from train is never predicted


def whole_profiles(head: torch.nn.Module, split: Any, *, chunk_tokens: int = 1 << 22) -> torch.Tensor:
    """``(n, n_kmers)`` float32 k-mer frequencies of a split's whole sequences, in split order, counted
    with ``head``'s k-mers (a :class:`~genomix.models.kmers.KmerProfileHead`)."""
    lengths = np.asarray(split.lengths, dtype=np.int64)
    ends = np.cumsum(lengths)
    rows, start = [], 0
    while start < len(lengths):
        done = ends[start - 1] if start else 0
        stop = max(start + 1, int(np.searchsorted(ends, done + chunk_tokens, side="right")))
        tokens, chunk_lengths = split.read_many(np.arange(start, stop))
        tokens = torch.from_numpy(np.asarray(tokens).astype(np.int64))
        rows.append(head.profiles(tokens, torch.from_numpy(np.asarray(chunk_lengths, dtype=np.int64))))
        start = stop
    if not rows:
        return torch.zeros(0, head.n_ids - 2)
    return torch.cat(rows)


def fit_profile_statistics(model: torch.nn.Module, dataset: Any) -> torch.Tensor | None:
    """Standardise a model's k-mer profile head (if it has one) by the training split's whole sequences;
    returns those training profiles (None without a head). The statistics are buffers, saved with the
    weights, so a resumed or loaded model has them."""
    head = getattr(model, "profile", None)
    if head is None:
        return None
    profiles = whole_profiles(head, dataset.split("train"))
    head.fit_statistics(profiles)
    return profiles


@torch.no_grad()
def fit_profile_head(model: torch.nn.Module, dataset: Any, task: Any, *, train_profiles: torch.Tensor,
                     c_grid: tuple[float, ...] = C_GRID, seed: int = 0) -> dict[str, Any]:
    """Set the profile head's linear layer to the k-mer baseline fitted on train, C chosen on valid.

    Classification: multinomial logistic regression (two classes: the logit difference split evenly
    between the two outputs, so the softmax equals the fitted sigmoid); classes absent from train get a
    logit far below the others. Regression: ridge (``alpha = 1 / C``) on the task's standardised targets.
    The head's standardisation must be fitted already (:func:`fit_profile_statistics`).

    Returns:
        ``{"C", "valid": the chosen fit's valid metric, "metric"}`` for the log and ``config.json``.
    """
    from sklearn.linear_model import LogisticRegression, Ridge

    from genomix.training.metrics import classification_metrics

    head = model.profile
    classification = task.name == "classification" or getattr(task, "inner", task).name == "classification"
    scale = lambda profiles: ((profiles.double() - head.mean.double()) / head.scale.double()).numpy()  # noqa: E731
    x_train = scale(train_profiles)
    x_valid = scale(whole_profiles(head, dataset.split("valid")))
    y_train = task.labels_tensor(np.asarray(dataset.split("train").labels)).numpy()
    y_valid = task.labels_tensor(np.asarray(dataset.split("valid").labels)).numpy()
    best: tuple[float, float, Any] | None = None
    for c in c_grid:
        if classification:
            estimator = LogisticRegression(C=c, max_iter=3000, random_state=seed)
        else:
            estimator = Ridge(alpha=1.0 / c)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            estimator.fit(x_train, y_train)
        if classification:
            probabilities = np.zeros((len(x_valid), task.output_size))
            probabilities[:, estimator.classes_] = estimator.predict_proba(x_valid)
            score = classification_metrics(y_valid, probabilities).get("roc_auc")
        else:
            score = -float(np.mean((estimator.predict(x_valid).reshape(len(x_valid), -1)
                                    - y_valid.reshape(len(x_valid), -1)) ** 2))
        score = -np.inf if score is None or not np.isfinite(score) else float(score)
        logger.info("k-mer profile head: C=%g valid %s %.4f", c, "roc_auc" if classification else "-mse", score)
        if best is None or score > best[0]:
            best = (score, c, estimator)
    assert best is not None
    score, c, estimator = best
    weight = torch.zeros_like(head.linear.weight, dtype=torch.float64)
    bias = torch.zeros_like(head.linear.bias, dtype=torch.float64)
    coef = torch.from_numpy(np.atleast_2d(estimator.coef_)).double()
    intercept = torch.from_numpy(np.atleast_1d(estimator.intercept_)).double()
    if classification:
        present = torch.as_tensor(estimator.classes_, dtype=torch.int64)
        if len(present) == 2:  # sklearn keeps one row: the logit of classes_[1] against classes_[0]
            coef = torch.cat([-coef / 2, coef / 2])
            intercept = torch.cat([-intercept / 2, intercept / 2])
        bias.fill_(float(intercept.min()) + _ABSENT_CLASS_LOGIT)
        weight[present], bias[present] = coef, intercept
    else:
        weight.copy_(coef.reshape(weight.shape))
        bias.copy_(intercept.reshape(bias.shape))
    head.linear.weight.copy_(weight)
    head.linear.bias.copy_(bias)
    return {"C": c, "metric": "roc_auc" if classification else "neg_mse", "valid": score}


__all__ = ["C_GRID", "fit_profile_head", "fit_profile_statistics", "whole_profiles"]
