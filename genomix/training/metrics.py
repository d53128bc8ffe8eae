"""Metrics, defined once: classification from probabilities, regression, and per length bin.

ROC AUC and PR AUC are computed from scores (class probabilities), never from argmax labels. For more
than two classes they are one-vs-rest and macro-averaged over the classes that have both positives
and negatives in ``labels`` (a class absent from a small bin is left out, not counted as 0.5).
numpy only; tested against scikit-learn.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

LENGTH_PERCENTILES = (10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 99, 99.5)
LOWER_IS_BETTER = frozenset({"mse", "mae", "loss"})
"""Metrics where a smaller value is the better model; for every other metric larger is better."""
CLASSIFICATION_METRICS = ("accuracy", "balanced_accuracy", "roc_auc", "pr_auc", "f1_macro", "mcc")
REGRESSION_METRICS = ("mse", "mae", "pearson", "spearman", "reg_acc")
"""The metric names a run can select its best model on (``reg_acc``: tolerance tasks such as adding)."""


def higher_is_better(name: str) -> bool:
    """Direction of the metric ``name`` when choosing the best model."""
    return name not in LOWER_IS_BETTER


def _rankdata(values: np.ndarray) -> np.ndarray:
    """Average ranks (1-based), ties share their mean rank."""
    order = np.argsort(values, kind="mergesort")
    sorted_values = values[order]
    ranks = np.empty(values.size, dtype=np.float64)
    boundaries = np.flatnonzero(np.diff(sorted_values) != 0) + 1
    starts = np.concatenate([[0], boundaries])
    ends = np.concatenate([boundaries, [values.size]])
    mean_rank = (starts + ends + 1) / 2.0
    ranks[order] = np.repeat(mean_rank, ends - starts)
    return ranks


def binary_roc_auc(positive: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U with ties), ``nan`` without both classes.

    Args:
        positive: ``(n,)`` bool, true class membership.
        scores: ``(n,)`` higher = more likely positive.
    """
    positive = np.asarray(positive, dtype=bool)
    n_pos = int(positive.sum())
    n_neg = positive.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return math.nan
    ranks = _rankdata(np.asarray(scores, dtype=np.float64))
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def binary_average_precision(positive: np.ndarray, scores: np.ndarray) -> float:
    """Average precision (area under the step PR curve, as scikit-learn), ``nan`` without positives."""
    positive = np.asarray(positive, dtype=bool)
    if not positive.any():
        return math.nan
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="mergesort")
    sorted_scores = np.asarray(scores, dtype=np.float64)[order]
    hits = positive[order].astype(np.float64)
    # thresholds at the last position of each run of equal scores
    last = np.concatenate([np.flatnonzero(np.diff(sorted_scores) != 0), [hits.size - 1]])
    tp = np.cumsum(hits)[last]
    fp = (last + 1) - tp
    precision = tp / (tp + fp)
    recall = tp / tp[-1]
    recall_steps = np.diff(np.concatenate([[0.0], recall]))
    return float(np.sum(recall_steps * precision))


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, n_classes: int) -> np.ndarray:
    """``(n_classes, n_classes)`` counts; rows are true classes, columns predicted."""
    labels = np.asarray(labels, dtype=np.int64)
    predicted = np.asarray(predicted, dtype=np.int64)
    return np.bincount(labels * n_classes + predicted, minlength=n_classes * n_classes).reshape(
        n_classes, n_classes
    )


def _nanmean(values: list[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return float(np.mean(finite)) if finite else math.nan


def log_loss(labels: np.ndarray, probabilities: np.ndarray, *, floor: float = 1e-12) -> float:
    """Mean negative log probability of the true class (probabilities floored at ``floor``)."""
    labels = np.asarray(labels, dtype=np.int64)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if labels.size == 0:
        return float("nan")
    return float(-np.mean(np.log(np.maximum(probabilities[np.arange(labels.size), labels], floor))))


def classification_metrics(labels: np.ndarray, probabilities: np.ndarray) -> dict[str, Any]:
    """Accuracy, balanced accuracy, ROC AUC, PR AUC, macro F1, MCC and the confusion matrix.

    Args:
        labels: ``(n,)`` int class indices.
        probabilities: ``(n, n_classes)`` class probabilities (rows sum to 1).

    Returns:
        A dict of floats (``nan`` where undefined) plus ``confusion`` (nested lists) and ``n``.
        For two classes ``roc_auc`` / ``pr_auc`` are those of class 1; otherwise one-vs-rest macro.
    """
    labels = np.asarray(labels, dtype=np.int64)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if probabilities.ndim != 2 or probabilities.shape[0] != labels.size:
        raise ValueError(
            f"probabilities should have shape (n, n_classes) with n={labels.size}, got {probabilities.shape}"
        )
    n_classes = probabilities.shape[1]
    predicted = probabilities.argmax(axis=1)
    confusion = confusion_matrix(labels, predicted, n_classes)
    support = confusion.sum(axis=1)
    true_positive = np.diag(confusion).astype(np.float64)
    predicted_count = confusion.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        recall = np.where(support > 0, true_positive / np.maximum(support, 1), np.nan)
        precision = np.where(predicted_count > 0, true_positive / np.maximum(predicted_count, 1), 0.0)
        f1 = np.where(precision + np.nan_to_num(recall) > 0,
                      2 * precision * np.nan_to_num(recall) / (precision + np.nan_to_num(recall)), 0.0)
    present = (support > 0) | (predicted_count > 0)
    if n_classes == 2:
        roc_auc = binary_roc_auc(labels == 1, probabilities[:, 1])
        pr_auc = binary_average_precision(labels == 1, probabilities[:, 1])
    else:
        roc_auc = _nanmean([binary_roc_auc(labels == c, probabilities[:, c]) for c in range(n_classes)])
        pr_auc = _nanmean([binary_average_precision(labels == c, probabilities[:, c]) for c in range(n_classes)
                           if 0 < (labels == c).sum() < labels.size])
    return {
        "n": int(labels.size),
        "accuracy": float(true_positive.sum() / max(labels.size, 1)),
        "balanced_accuracy": _nanmean(list(recall[support > 0])),
        "roc_auc": roc_auc,
        "pr_auc": pr_auc,
        "f1_macro": float(f1[present].mean()) if present.any() else math.nan,
        "mcc": matthews_corrcoef(confusion),
        "confusion": confusion.tolist(),
    }


def matthews_corrcoef(confusion: np.ndarray) -> float:
    """Multi-class MCC (Gorodkin's R_K) from a confusion matrix; 0 when undefined, as scikit-learn."""
    confusion = np.asarray(confusion, dtype=np.float64)
    total = confusion.sum()
    correct = np.trace(confusion)
    true_count = confusion.sum(axis=1)
    predicted_count = confusion.sum(axis=0)
    cov_ytyp = correct * total - true_count @ predicted_count
    cov_ypyp = total**2 - predicted_count @ predicted_count
    cov_ytyt = total**2 - true_count @ true_count
    if cov_ypyp * cov_ytyt == 0:
        return 0.0
    return float(cov_ytyp / math.sqrt(cov_ytyt * cov_ypyp))


def regression_metrics(targets: np.ndarray, predictions: np.ndarray) -> dict[str, float]:
    """MSE, MAE, Pearson and Spearman correlation.

    Args:
        targets: ``(n,)`` true values.
        predictions: ``(n,)`` predicted values.
    """
    targets = np.asarray(targets, dtype=np.float64).reshape(-1)
    predictions = np.asarray(predictions, dtype=np.float64).reshape(-1)
    if targets.shape != predictions.shape:
        raise ValueError(f"targets and predictions should have the same shape, got {targets.shape} "
                         f"and {predictions.shape}")
    error = predictions - targets
    return {
        "n": int(targets.size),
        "mse": float(np.mean(error**2)) if targets.size else math.nan,
        "mae": float(np.mean(np.abs(error))) if targets.size else math.nan,
        "pearson": _pearson(targets, predictions),
        "spearman": _pearson(_rankdata(targets), _rankdata(predictions)) if targets.size else math.nan,
    }


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    if a.size < 2:
        return math.nan
    a = a - a.mean()
    b = b - b.mean()
    denominator = math.sqrt(float(a @ a) * float(b @ b))
    return float(a @ b / denominator) if denominator > 0 else math.nan


def length_bins(lengths: np.ndarray, *, percentiles: tuple[float, ...] = LENGTH_PERCENTILES) -> np.ndarray:
    """Bin edges at the given length percentiles, with the minimum and maximum at both ends.

    Returns:
        ``(len(percentiles) + 2,)`` float edges; bin ``i`` holds ``edges[i] < length <= edges[i+1]``
        (the first bin also includes the minimum).
    """
    lengths = np.asarray(lengths, dtype=np.float64)
    inner = np.percentile(lengths, percentiles)
    return np.concatenate([[lengths.min()], inner, [lengths.max()]])


def metrics_by_length(
    lengths: np.ndarray,
    labels: np.ndarray,
    outputs: np.ndarray,
    *,
    task: str,
    percentiles: tuple[float, ...] = LENGTH_PERCENTILES,
) -> list[dict[str, Any]]:
    """Metrics in each length-percentile bin (see :func:`length_bins`); empty bins are left out.

    Args:
        lengths: ``(n,)`` sequence lengths.
        labels: ``(n,)`` labels or targets.
        outputs: ``(n, n_classes)`` probabilities (classification) or ``(n,)`` predictions (regression).
        task: ``classification`` or ``regression``.
    """
    lengths = np.asarray(lengths)
    edges = length_bins(lengths, percentiles=percentiles)
    names = ["min"] + [f"p{p:g}" for p in percentiles] + ["max"]
    bins = np.clip(np.searchsorted(edges, lengths, side="left") - 1, 0, len(edges) - 2)
    rows = []
    for b in range(len(edges) - 1):
        members = bins == b
        if not members.any():
            continue
        if task == "classification":
            values = classification_metrics(labels[members], outputs[members])
            values.pop("confusion")
        else:
            values = regression_metrics(labels[members], outputs[members])
        rows.append({"bin": f"{names[b]}-{names[b + 1]}", "min_length": int(lengths[members].min()),
                     "max_length": int(lengths[members].max()), **values})
    return rows


def finite_or_none(values: Any) -> Any:
    """Replace ``nan``/``inf`` by ``None`` (recursively) so the result is strict JSON."""
    if isinstance(values, float):
        return values if math.isfinite(values) else None
    if isinstance(values, dict):
        return {key: finite_or_none(value) for key, value in values.items()}
    if isinstance(values, (list, tuple)):
        return [finite_or_none(value) for value in values]
    return values
