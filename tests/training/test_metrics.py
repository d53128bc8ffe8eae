"""Metric functions against scikit-learn / scipy on known and random inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from sklearn import metrics as skm

from genomix.training import metrics


def _random_case(seed: int, n: int = 200, n_classes: int = 4, ties: bool = False):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, n_classes, size=n)
    logits = rng.normal(size=(n, n_classes)) + 1.5 * np.eye(n_classes)[labels]
    if ties:
        logits = np.round(logits)
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return labels, probabilities


@pytest.mark.parametrize("seed, n_classes, ties", [(0, 2, False), (1, 3, False), (2, 7, False), (3, 4, True),
                                                   (4, 2, True)])
def test_classification_matches_sklearn(seed, n_classes, ties):
    labels, probabilities = _random_case(seed, n_classes=n_classes, ties=ties)
    ours = metrics.classification_metrics(labels, probabilities)
    predicted = probabilities.argmax(axis=1)
    assert ours["accuracy"] == pytest.approx(skm.accuracy_score(labels, predicted))
    assert ours["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(labels, predicted))
    assert ours["f1_macro"] == pytest.approx(skm.f1_score(labels, predicted, average="macro"))
    assert ours["mcc"] == pytest.approx(skm.matthews_corrcoef(labels, predicted))
    assert ours["confusion"] == skm.confusion_matrix(labels, predicted, labels=range(n_classes)).tolist()
    if n_classes == 2:
        assert ours["roc_auc"] == pytest.approx(skm.roc_auc_score(labels, probabilities[:, 1]))
        assert ours["pr_auc"] == pytest.approx(skm.average_precision_score(labels, probabilities[:, 1]))
    else:
        assert ours["roc_auc"] == pytest.approx(skm.roc_auc_score(labels, probabilities, multi_class="ovr",
                                                                  average="macro"))
        one_hot = np.eye(n_classes)[labels]
        assert ours["pr_auc"] == pytest.approx(skm.average_precision_score(one_hot, probabilities, average="macro"))


def test_roc_auc_is_from_scores_not_labels():
    labels = np.array([0, 0, 1, 1])
    probabilities = np.array([[0.6, 0.4], [0.9, 0.1], [0.55, 0.45], [0.2, 0.8]])
    ours = metrics.classification_metrics(labels, probabilities)
    assert ours["roc_auc"] == 1.0  # perfectly ranked, although one argmax is wrong
    assert ours["accuracy"] == 0.75


def test_known_values_and_degenerate_cases():
    assert metrics.binary_roc_auc(np.array([0, 0, 1, 1], bool), np.array([0.1, 0.4, 0.35, 0.8])) == 0.75
    assert math.isnan(metrics.binary_roc_auc(np.ones(3, bool), np.arange(3.0)))
    # a class missing from the labels is left out of the macro average
    labels = np.array([0, 0, 1, 1])
    probabilities = np.array([[0.7, 0.2, 0.1], [0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.3, 0.6, 0.1]])
    assert metrics.classification_metrics(labels, probabilities)["roc_auc"] == 1.0
    assert metrics.matthews_corrcoef(np.array([[3, 0], [0, 0]])) == skm.matthews_corrcoef([0, 0, 0], [0, 0, 0])
    with pytest.raises(ValueError, match="shape"):
        metrics.classification_metrics(np.array([0, 1]), np.ones((3, 2)))


@pytest.mark.parametrize("seed", [0, 1])
def test_regression_matches_scipy(seed):
    rng = np.random.default_rng(seed)
    targets = rng.normal(size=300)
    predictions = targets + rng.normal(scale=0.5, size=300)
    predictions[:20] = np.round(predictions[:20])  # some ties
    ours = metrics.regression_metrics(targets, predictions)
    assert ours["mse"] == pytest.approx(skm.mean_squared_error(targets, predictions))
    assert ours["mae"] == pytest.approx(skm.mean_absolute_error(targets, predictions))
    assert ours["pearson"] == pytest.approx(stats.pearsonr(targets, predictions)[0])
    assert ours["spearman"] == pytest.approx(stats.spearmanr(targets, predictions)[0])


def test_length_bins_cover_everything():
    rng = np.random.default_rng(5)
    lengths = rng.integers(100, 20000, size=500)
    labels, probabilities = _random_case(6, n=500, n_classes=3)
    rows = metrics.metrics_by_length(lengths, labels, probabilities, task="classification")
    assert sum(row["n"] for row in rows) == 500
    assert len(rows) == len(metrics.LENGTH_PERCENTILES) + 1
    assert rows[0]["bin"] == "min-p10" and rows[-1]["bin"] == "p99.5-max"
    assert all(rows[i]["max_length"] <= rows[i + 1]["min_length"] for i in range(len(rows) - 1))
    regression = metrics.metrics_by_length(lengths, rng.normal(size=500), rng.normal(size=500), task="regression")
    assert sum(row["n"] for row in regression) == 500


def test_finite_or_none_makes_strict_json():
    assert metrics.finite_or_none({"a": [math.nan, 1.0], "b": math.inf}) == {"a": [None, 1.0], "b": None}
